"""HW12 (EECS 182): binary and Gaussian diffusion, early exit, and RLHF."""

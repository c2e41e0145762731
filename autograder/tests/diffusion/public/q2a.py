"""Q2a: alpha_bar schedule and one-shot Gaussian forward sampling (public checks)."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q2a"
points = None


@test_case(points=0.5, hidden=False)
def test_alpha_bar_values_length_dtype(gaussian_diffusion):
    """alpha_bar has length T + 1, starts at 1, is a running product, and keeps betas' dtype/device."""
    import torch

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        for dtype in (torch.float32, torch.float64):
            betas = torch.tensor([0.1, 0.2, 0.3], dtype=dtype, device=device)
            got = gaussian_diffusion.alpha_bar(betas)
            assert isinstance(got, torch.Tensor), f"alpha_bar returned {type(got).__name__}, expected a tensor."
            assert tuple(got.shape) == (4,), (
                f"alpha_bar(betas of length 3) returned shape {tuple(got.shape)}, expected (4,): entry 0 "
                "is ᾱ_0 = 1 (the empty product) and entry t is ᾱ_t. Did you forget the leading 1?")
            assert got.dtype == dtype and got.device.type == device, (
                f"alpha_bar returned {got.dtype} on {got.device} for betas of dtype {dtype} on {device}; "
                "keep betas' dtype and device.")
            want = torch.tensor([1.0, 0.9, 0.72, 0.504], dtype=torch.float64)
            got64 = got.double().cpu()
            hint = ""
            if torch.allclose(got64[1:], torch.tensor([0.1, 0.02, 0.006], dtype=torch.float64), atol=1e-6):
                hint = " You multiplied the betas; ᾱ_t multiplies (1 - β_i)."
            elif torch.allclose(got64[:3], want[1:], atol=1e-6):
                hint = " Your values are shifted by one step: alpha_bar[t] must be ᾱ_t, with alpha_bar[0] = 1."
            assert torch.allclose(got64, want, atol=1e-6), (
                f"alpha_bar(tensor([0.1, 0.2, 0.3])) returned {got64.tolist()}, expected {want.tolist()}." + hint)


@test_case(points=0.5, hidden=False)
def test_q_sample_given_noise(gaussian_diffusion):
    """With noise given, x_t = sqrt(ᾱ_t) x0 + sqrt(1 - ᾱ_t) noise exactly; t may differ per example."""
    import math

    import torch

    betas = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)
    x0 = torch.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=torch.float64)
    noise = torch.tensor([[0.3, -1.0], [2.0, 0.1]], dtype=torch.float64)
    abar = {1: 0.9, 2: 0.72, 3: 0.504}
    for t in (1, 3, torch.tensor([2, 1])):
        ts = [t, t] if isinstance(t, int) else t.tolist()
        want = torch.stack([math.sqrt(abar[ts[b]]) * x0[b] + math.sqrt(1 - abar[ts[b]]) * noise[b]
                            for b in range(2)])
        got = gaussian_diffusion.q_sample(x0, t, betas, noise=noise)
        assert isinstance(got, torch.Tensor) and got.shape == x0.shape, (
            f"q_sample returned {getattr(got, 'shape', type(got).__name__)}, expected shape {tuple(x0.shape)}.")
        assert got.dtype == torch.float64, f"q_sample returned {got.dtype} for float64 x0; keep x0's dtype."
        hint = ""
        no_sqrt = torch.stack([math.sqrt(abar[ts[b]]) * x0[b] + (1 - abar[ts[b]]) * noise[b] for b in range(2)])
        abar[0] = 1.0
        shifted = torch.stack([math.sqrt(abar[ts[b] - 1]) * x0[b] + math.sqrt(1 - abar[ts[b] - 1]) * noise[b]
                               for b in range(2)])
        x0_no_sqrt = torch.stack([abar[ts[b]] * x0[b] + math.sqrt(1 - abar[ts[b]]) * noise[b]
                                  for b in range(2)])
        if torch.allclose(got, no_sqrt, atol=1e-6):
            hint = " The noise is scaled by (1 - ᾱ_t); the standard deviation is sqrt(1 - ᾱ_t)."
        elif torch.allclose(got, x0_no_sqrt, atol=1e-6):
            hint = " x0 is scaled by ᾱ_t; its coefficient is sqrt(ᾱ_t)."
        elif not torch.equal(got, gaussian_diffusion.q_sample(x0, t, betas, noise=noise)):
            hint = (" Two calls with the same noise gave different results: when the noise "
                    "argument is given, use it instead of drawing new noise.")
        elif torch.allclose(got, shifted, atol=1e-6):
            hint = (" Your result uses ᾱ_{t-1}: alpha_bar(betas) has length T + 1 with alpha_bar[0] = 1, "
                    "so ᾱ_t is alpha_bar(betas)[t].")
        elif not isinstance(t, int) and torch.allclose(
                got, gaussian_diffusion.q_sample(x0, int(t[0]), betas, noise=noise), atol=1e-9):
            hint = " Every example used t[0]; example b must use its own t[b] (along dim 0)."
        assert torch.allclose(got, want, atol=1e-6), (
            f"q_sample(x0={x0.tolist()}, t={t}, betas=[0.1, 0.2, 0.3], noise={noise.tolist()}) returned "
            f"{got.tolist()}, expected {want.tolist()}." + hint)
    float32 = gaussian_diffusion.q_sample(x0.float(), 2, betas.float(), noise=noise.float())
    assert float32.dtype == torch.float32, f"q_sample returned {float32.dtype} for float32 x0; keep x0's dtype."

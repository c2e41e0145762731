"""Q4 GPU tier: your RLHF functions on the grading device.

The GPU tier grades only what the device adds. What ``sequence_log_probs``,
``policy_gradient_loss``, ``reward_model_loss`` and ``kl_penalized_rewards`` compute is graded on
the CPU (q4_logprobs, q4_pg_loss, q4_rm_loss, q4_kl_rewards), so a mistake there is not charged
again here (each question on its own). Here each function runs on tensors of the size one policy
step of the full RL run uses, once on the CPU and once on the device, and must give on the device:

- outputs on the inputs' device, in the same dtype;
- the same values and the same gradients (with respect to every tensor argument) as on the CPU,
  up to float32 rounding (relative 1e-4).

A function that is not implemented scores zero. One that raises, hangs or crashes on the CPU is graded
by its own question, not here. Deterministic: fixed inputs, no timing.

With ``device == "cuda"`` the tensors have the full run's sizes. With ``device == "cpu"`` (CI) the
same logic runs at a reduced size, CPU against CPU.
"""
from otter.test_files import test_case

OK_FORMAT = False
name = "q4_gpu"
points = None

# about one policy step of the full run: 32 prompts x 4 samples, summaries of up to 48 tokens
SIZES = {"cuda": dict(batch=128, length=48, vocab=2048), "cpu": dict(batch=16, length=12, vocab=64)}
RTOL = 1e-4


def _inputs(size):
    """Fixed inputs of every function, float32 as in training, with -100 label padding (one row
    entirely padded)."""
    import torch

    g = torch.Generator().manual_seed(4)
    B, L, V = size["batch"], size["length"], size["vocab"]
    labels = torch.randint(0, V, (B, L), generator=g)
    lengths = torch.randint(0, L + 1, (B,), generator=g)
    lengths[0] = 0
    labels[torch.arange(L).expand(B, L) >= lengths[:, None]] = -100
    logp = -torch.rand(B, generator=g) * 40
    return {
        "sequence_log_probs": dict(logits=torch.randn(B, L, V, generator=g) * 3, labels=labels),
        "policy_gradient_loss": dict(seq_log_probs=logp, rewards=torch.randn(B, generator=g),
                                     baseline=torch.randn(B, generator=g)),
        "policy_gradient_loss without baseline": dict(seq_log_probs=logp,
                                                      rewards=torch.randn(B, generator=g)),
        "reward_model_loss": dict(rewards_chosen=torch.randn(B, generator=g) * 5,
                                  rewards_rejected=torch.randn(B, generator=g) * 5),
        "kl_penalized_rewards": dict(scores=torch.randn(B, generator=g), seq_log_probs=logp,
                                     ref_seq_log_probs=logp - torch.rand(B, generator=g),
                                     kl_coef=0.05),
    }


def _on(kwargs, device):
    import torch

    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}


def _close(a, b) -> bool:
    import torch

    a, b = torch.as_tensor(a).detach().cpu().double(), torch.as_tensor(b).detach().cpu().double()
    scale = max(1.0, float(b.abs().max())) if b.numel() else 1.0
    return a.shape == b.shape and torch.allclose(a, b, rtol=RTOL, atol=RTOL * scale)


@test_case(points=4, hidden=True)
def test_functions_on_the_device(rlhf, device):
    import torch

    from autograder.grading.testlib import FailsOnCpu, grad_of, on_the_cpu_first

    size = SIZES["cuda" if str(device).startswith("cuda") else "cpu"]
    for label, kwargs in _inputs(size).items():
        fn = getattr(rlhf, label.split()[0])
        wrt = [k for k, v in kwargs.items() if isinstance(v, torch.Tensor) and v.is_floating_point()]
        try:
            want, want_grads = on_the_cpu_first(lambda: grad_of(fn, wrt, **kwargs))
        except FailsOnCpu as cpu:  # its own question charges it, not the device tier
            if cpu.aborted:
                return  # it hung or crashed: this case's time is gone, the rest is not checked
            continue
        try:
            got, grads = grad_of(fn, wrt, **_on(kwargs, device))
        except Exception as exc:  # noqa: BLE001 - the device adds this error
            raise AssertionError(f"{label} raised on {device} inputs but not on the same inputs on "
                                 f"the CPU: {exc}") from None
        assert isinstance(got, torch.Tensor) and got.device.type == torch.device(device).type, (
            f"{label} on {device} inputs returned {getattr(got, 'device', type(got).__name__)}; "
            "keep the result on the inputs' device (create new tensors with device=...).")
        assert got.dtype == torch.as_tensor(want).dtype, (
            f"{label} returned {got.dtype} on {device} but {torch.as_tensor(want).dtype} on the CPU.")
        assert _close(got, want), (
            f"{label} gives different values on {device} and on the CPU for the same inputs "
            f"(batch {size['batch']}, length {size['length']}, vocabulary {size['vocab']}): "
            "something in it depends on the device or on hidden state.")
        for k in wrt:
            same = (grads[k] is None) == (want_grads[k] is None) and (
                grads[k] is None or _close(grads[k], want_grads[k]))
            assert same, (f"the gradient of {label} with respect to {k} differs between {device} "
                          "and the CPU for the same inputs.")

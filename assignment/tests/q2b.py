"""Q2b: mean and variance of the forward-process posterior q(x_{t-1} | x_t, x_0) (public checks)."""
from otter.test_files import test_case

OK_FORMAT = False
name = "q2b"
points = None


def _hint(mean, var, x_t, x0, t):
    """Name a frequent mistake for the schedule betas = [0.1, 0.2, 0.3] (hand-computed numbers)."""
    import torch

    beta = {1: 0.1, 2: 0.2, 3: 0.3}[t]
    if t >= 2 and abs(float(torch.as_tensor(var).reshape(-1)[0]) - beta) < 1e-6:
        return " The variance equals β_t; the posterior variance is β̃_t = (1 - ᾱ_{t-1}) / (1 - ᾱ_t) · β_t."
    if t == 2:
        erratum = 0.677631 * x0 + (0.8 ** 0.5) * x_t
        if torch.allclose(mean, erratum, atol=1e-5):
            return (" The coefficient on x_t equals sqrt(1 - β_t): it must be "
                    "sqrt(1 - β_t) (1 - ᾱ_{t-1}) / (1 - ᾱ_t), with ᾱ_{t-1} in the numerator.")
    c0, ct = {2: (0.677631, 0.319438), 3: (0.513223, 0.472308)}.get(t, (1.0, 0.0))
    if t >= 2 and torch.allclose(mean, ct * x0 + c0 * x_t, atol=1e-5):
        return " The coefficients of x0 and x_t are swapped."
    return ""


def _alpha_bar(betas):
    """alpha_bar of this file's one schedule, betas = [0.1, 0.2, 0.3] (Q2(a)'s values): the checks
    run with it in place of your alpha_bar, so that Q2(b) is checked on its own."""
    import torch

    if [round(float(b), 6) for b in betas] != [0.1, 0.2, 0.3]:
        raise KeyError(f"this check knows alpha_bar of betas = [0.1, 0.2, 0.3] only, not {betas}")
    return torch.tensor([1.0, 0.9, 0.72, 0.504], dtype=betas.dtype, device=betas.device)


def _posterior(gaussian_diffusion, substituted, *args):
    """Your q_posterior_mean_variance, calling _alpha_bar instead of your alpha_bar."""
    with substituted(gaussian_diffusion, "alpha_bar", _alpha_bar):
        return gaussian_diffusion.q_posterior_mean_variance(*args)


@test_case(points=0.5, hidden=False)
def test_posterior_values(gaussian_diffusion, substituted):
    """Hand-computed values at t = 2 and t = 3, then t = 1, the point mass at x0 (checked last, so
    that a mistake that shows at every t is named by the t >= 2 hints)."""
    import torch

    betas = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)
    x_t = torch.tensor([[1.0, -0.5, 2.0]], dtype=torch.float64)
    x0 = torch.tensor([[0.2, 1.0, -1.0]], dtype=torch.float64)
    # t -> (coefficient on x0, coefficient on x_t, variance), computed by hand
    table = {2: (0.677631, 0.319438, 0.071429), 3: (0.513223, 0.472308, 0.169355), 1: (1.0, 0.0, 0.0)}
    for t, (c0, ct, v) in table.items():
        out = _posterior(gaussian_diffusion, substituted, x_t, x0, t, betas)
        assert isinstance(out, (tuple, list)) and len(out) == 2, (
            f"q_posterior_mean_variance returned {type(out).__name__}; return the tuple (mean, variance).")
        mean, var = out
        want_mean = c0 * x0 + ct * x_t
        hint = _hint(mean, var, x_t, x0, t)
        if t == 1:
            hint += (" At t = 1, x_{t-1} = x_0 is known: mean x0 and variance 0 "
                     "(check that you use ᾱ_{t-1} = alpha_bar[t - 1] with alpha_bar[0] = 1).")
        assert torch.allclose(torch.as_tensor(mean).double(), want_mean, atol=1e-5), (
            f"q_posterior_mean_variance(x_t={x_t.tolist()}, x0={x0.tolist()}, t={t}, betas=[0.1, 0.2, 0.3]) "
            f"returned mean {torch.as_tensor(mean).tolist()}, expected {want_mean.tolist()} "
            "= sqrt(ᾱ_{t-1}) β_t / (1 - ᾱ_t) · x0 + sqrt(1 - β_t) (1 - ᾱ_{t-1}) / (1 - ᾱ_t) · x_t."
            + hint)
        var_all = torch.broadcast_to(torch.as_tensor(var).double(), x_t.shape)
        assert torch.allclose(var_all, torch.full_like(x_t, v), atol=1e-5), (
            f"q_posterior_mean_variance(..., t={t}, betas=[0.1, 0.2, 0.3]) returned variance "
            f"{torch.as_tensor(var).tolist()}, expected {v}." + hint)


@test_case(points=0.5, hidden=False)
def test_posterior_shapes_dtype_per_example_t(gaussian_diffusion, substituted):
    """Mean has x_t's shape; variance broadcasts to it; dtype and device kept; t per example."""
    import torch

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        for dtype in (torch.float32, torch.float64):
            betas = torch.tensor([0.1, 0.2, 0.3], dtype=dtype, device=device)
            x_t = torch.ones(2, 3, 4, dtype=dtype, device=device)
            x0 = torch.zeros(2, 3, 4, dtype=dtype, device=device)
            mean, var = _posterior(gaussian_diffusion, substituted, x_t, x0, torch.tensor([1, 3], device=device), betas)
            assert mean.shape == x_t.shape, (
                f"mean has shape {tuple(mean.shape)}, expected x_t's shape {tuple(x_t.shape)}.")
            try:
                shape = torch.broadcast_shapes(var.shape, x_t.shape)
            except RuntimeError:
                shape = None
            assert shape == x_t.shape, (
                f"variance has shape {tuple(var.shape)}, which does not broadcast to x_t's shape "
                f"{tuple(x_t.shape)}; for a (B,) tensor t reshape it to (B, 1, ..., 1).")
            for name, value in (("mean", mean), ("variance", var)):
                assert value.dtype == dtype and value.device.type == device, (
                    f"{name} is {value.dtype} on {value.device} for {dtype} inputs on {device}; keep "
                    "x_t's dtype and device (cast float64 schedule values with .to(x_t.dtype)).")
            var_all = torch.broadcast_to(var, x_t.shape).double().cpu()
            for row, tb in ((0, 1), (1, 3)):
                m1, v1 = _posterior(gaussian_diffusion, substituted, x_t[row:row + 1], x0[row:row + 1], tb, betas)
                v1 = torch.broadcast_to(v1, x_t[row:row + 1].shape).double().cpu()
                assert torch.allclose(mean[row].double().cpu(), m1[0].double().cpu(), atol=1e-6) and \
                    torch.allclose(var_all[row], v1[0], atol=1e-6), (
                        f"with t = tensor([1, 3]) example {row} differs from a separate call with t = {tb}: "
                        "example b must use its own t[b] along dim 0 (shape (B, 1, ..., 1)).")
            assert torch.allclose(var_all[0], torch.zeros(3, 4, dtype=torch.float64), atol=1e-6) and \
                torch.allclose(var_all[1], torch.full((3, 4), 0.169355, dtype=torch.float64), atol=1e-5), (
                    "the variance should be 0 at t = 1 and β̃_3 = 0.169355 at t = 3 (betas = [0.1, 0.2, 0.3]); "
                    f"got {var_all[:, 0, 0].tolist()} (see test_posterior_values for the formula checks).")
            assert torch.allclose(mean[0].double().cpu(), torch.zeros(3, 4, dtype=torch.float64), atol=1e-6) and \
                torch.allclose(mean[1].double().cpu(), torch.full((3, 4), 0.472308, dtype=torch.float64), atol=1e-5), (
                    "with x_t = 1 and x0 = 0 the mean should be 0 at t = 1 and 0.472308 at t = 3; got "
                    f"{[float(mean[0, 0, 0]), float(mean[1, 0, 0])]} (see test_posterior_values).")

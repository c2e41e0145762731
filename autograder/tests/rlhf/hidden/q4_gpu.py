"""Q4 GPU tier: your policy step, run for a fixed budget from a reference SFT checkpoint, must
raise the hidden true quality of the summaries while staying close to the SFT policy.

The setting (corpus, tokenizer, SFT policy, reward model) is built by the reference code with
fixed seeds on the CPU and cached (``autograder.testlib.rlhf_oracles.reference_world``), so every
submission starts from the same checkpoint. On CUDA the full size runs; with ``device == "cpu"``
(CI) a reduced size runs the same logic. The thresholds leave a wide margin below the reference
gain and above the gains of the wrong implementations in the project's mutant bank.
"""
from otter.test_files import test_case

OK_FORMAT = False
name = "q4_gpu"
points = None

RL = dict(lr=3e-4, kl_coef=0.05, baseline="leave_one_out", temperature=1.0, max_new_tokens=32,
          max_grad_norm=1.0, seed=0)
MIN_GAIN = {"full": 0.08, "reduced": 0.08}   # required rise of the mean hidden quality
MAX_KL = {"full": 4.0, "reduced": 4.0}       # bound on the mean log pi - log pi_SFT of samples


def _run(rlhf, device):
    import math

    from autograder.testlib import rlhf_oracles as O

    size = "full" if device == "cuda" else "reduced"
    world = O.reference_world(size)
    sz = world["sizes"]
    cfg = dict(RL, steps=sz["rl_steps"], prompts_per_step=sz["prompts_per_step"],
               samples_per_prompt=sz["samples_per_prompt"], device=device)
    p0 = sz["pairs"]  # articles after the reward model's pairs are the RL prompts
    out = rlhf.train_policy(world["checkpoint"], world["train_ids"][p0:], world["train_mask"][p0:], cfg)
    assert isinstance(out, dict) and "policy_state" in out and "history" in out, (
        "train_policy must return {'policy_state': ..., 'history': ...}; it is given code, "
        "restore it from the release.")
    hist = out["history"]
    bad = [h["step"] for h in hist if not all(math.isfinite(float(v)) for v in h.values())]
    assert not bad, f"non-finite training statistics at steps {bad[:5]}: the RL loss diverged."
    before = O.evaluate_policy(world, None, device=device)
    after = O.evaluate_policy(world, out["policy_state"], device=device)
    return size, before, after


@test_case(points=4, hidden=True)
def test_policy_optimisation_raises_true_quality(rlhf, device):
    size, before, after = _run(rlhf, device)
    gain = after["true_quality"] - before["true_quality"]
    assert after["kl"] <= MAX_KL[size], (
        f"after policy optimisation the policy is far from the SFT policy (KL estimate "
        f"{after['kl']:.2f} > {MAX_KL[size]}): the KL penalty does not hold it back. Check the "
        "sign of the penalty in kl_penalized_rewards.")
    assert gain >= MIN_GAIN[size], (
        f"policy optimisation changed the hidden true quality by {gain:+.3f} (required at least "
        f"+{MIN_GAIN[size]}; proxy reward {before['proxy_reward']:.3f} -> "
        f"{after['proxy_reward']:.3f}, KL {after['kl']:.2f}). A drop usually means a sign error "
        "in policy_gradient_loss; no change, that no gradient reaches the log-probabilities.")

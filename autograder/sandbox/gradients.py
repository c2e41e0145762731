"""Gradients of a function's summed output with respect to some of its keyword arguments.

Stdlib and torch only: used by the hidden tests in the runner (``autograder.testlib.grad_of``) and,
for the student's functions, inside the sandboxed worker, which imports this file as a sibling.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence


def local_grad_of(fn: Callable[..., Any], wrt: Sequence[str], *args: Any, **kwargs: Any):
    """Call ``fn(*args, **kwargs)`` in this process with the keyword arguments named in ``wrt``
    replaced by detached clones that require grad; ``(output, {name: gradient or None})``, the
    output detached, None where no gradient reaches that input."""
    import torch

    kwargs = dict(kwargs)
    leaves = {}
    for name in wrt:
        leaf = torch.as_tensor(kwargs[name]).detach().clone().requires_grad_(True)
        kwargs[name] = leaves[name] = leaf
    out = fn(*args, **kwargs)
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        return (out.detach() if isinstance(out, torch.Tensor) else out), {n: None for n in wrt}
    grads = torch.autograd.grad(out.sum(), list(leaves.values()), allow_unused=True)
    return out.detach(), {n: (g.detach() if g is not None else None) for n, g in zip(leaves, grads)}

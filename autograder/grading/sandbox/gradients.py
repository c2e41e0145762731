"""Gradients of a function's output with respect to some of its arguments.

Stdlib and torch only: used by the hidden tests in the runner (``autograder.grading.testlib.grad_of``) and,
for the student's functions, inside the sandboxed worker, which imports this file as a sibling.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence


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


def with_leaves(obj: Any, flags: Iterator[bool], leaves: list) -> Any:
    """``obj`` (nested lists, tuples and dicts) with each tensor whose flag (one per tensor, in
    the order ``hw12.replay.tensors_in`` visits them) is true replaced by a detached clone that
    requires grad, appended to ``leaves``."""
    import torch

    if isinstance(obj, torch.Tensor):
        if not next(flags):
            return obj
        leaf = obj.detach().clone().requires_grad_(True)
        leaves.append(leaf)
        return leaf
    if type(obj) in (list, tuple):
        return type(obj)(with_leaves(v, flags, leaves) for v in obj)
    if type(obj) is dict:
        return {k: with_leaves(v, flags, leaves) for k, v in obj.items()}
    return obj


def local_vjp(fn: Callable[..., Any], args: tuple, kwargs: dict, flags: Sequence[bool],
              grad_output: Any = None):
    """Call ``fn(*args, **kwargs)`` with the flagged tensors as fresh leaves. Without
    ``grad_output``: the detached output. With it: the vector-Jacobian product, a list with the
    gradient of ``(output * grad_output).sum()`` for each flagged tensor (None where none
    reaches it)."""
    import torch

    flag_iter, leaves = iter(list(flags) + [False] * 10_000), []
    args = with_leaves(tuple(args), flag_iter, leaves)
    kwargs = with_leaves(dict(kwargs), flag_iter, leaves)
    with torch.enable_grad():  # as in a training loop
        out = fn(*args, **kwargs)
    if grad_output is None:
        return out.detach() if isinstance(out, torch.Tensor) else out
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        raise RuntimeError("element 0 of tensors does not require grad and does not have a "
                           "grad_fn")
    grads = torch.autograd.grad(out, leaves, grad_outputs=grad_output, allow_unused=True)
    return [g.detach() if g is not None else None for g in grads]

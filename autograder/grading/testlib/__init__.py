"""Helpers for hidden tests: gradients through local or sandboxed functions, statistics, oracles.

Hidden test files import from here; public test files must not (students do not have this package).

Naming: an *oracle* is an independent computation of the value a test compares a submission with;
every oracle is named ``<name>_oracle`` and lives in ``<part>_oracles.py``. ``<name>`` is the
student's function when the oracle computes the same thing (``survival_prob_oracle``,
``predict_oracle``), otherwise the quantity (``keep_prob_oracle``, ``conv2d_macs_oracle``); a
Monte-Carlo oracle adds ``_mc`` (``prob_final_nonpositive_mc_oracle``). Everything else in those
modules (schemas and consistency checks of uploaded files, diagnosis of wrong answers, inputs and
data) is a helper, not an oracle. ``docs/QUESTIONS.md`` lists the oracles each question's tests use.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Sequence

from autograder.grading.sandbox.gradients import local_grad_of

__all__ = ["grad_of", "with_correct", "FailsOnCpu", "on_the_cpu_first"]


def grad_of(fn: Callable[..., Any], wrt: Sequence[str], *args: Any, **kwargs: Any):
    """Call ``fn(*args, **kwargs)`` and differentiate the sum of its output.

    wrt: names of keyword arguments (tensors) to differentiate with respect to; each is cloned,
    detached and marked ``requires_grad`` before the call.
    Returns ``(output, grads)``: the detached output and a dict name -> gradient tensor, or ``None``
    where no gradient reaches that input. Works for a local function and for a sandbox proxy (which
    performs the same computation inside the student process).
    """
    remote = getattr(fn, "_autograder_grad_of", None)
    if remote is not None:
        return remote(list(wrt), *args, **kwargs)
    return local_grad_of(fn, wrt, *args, **kwargs)


def with_correct(module: str, name: str, stand_in: Callable[..., Any]):
    """Decorator of a test whose function calls ``name``, a function of another question: the test
    runs with ``stand_in`` (a correct ``name``, computed by the grader) in place of the student's
    ``module.name``, so that a mistake there costs its own question only.

    The decorated test takes the test parameter ``substituted`` as well (autograder/grading/testfiles.py;
    in the grader the student's process gets a stand-in that asks the grader for values, never
    code). A student function that reaches ``name`` other than through its module's global (a
    copy of the code, an alias taken at import) is tested as written.
    """
    def decorate(test):
        def run(substituted, **params):
            with substituted(params[module], name, stand_in):
                return test(**params)

        run.__name__, run.__qualname__, run.__doc__ = test.__name__, test.__qualname__, test.__doc__
        own = list(inspect.signature(test).parameters.values())
        run.__signature__ = inspect.Signature(
            own + [inspect.Parameter("substituted", inspect.Parameter.KEYWORD_ONLY)])
        return run

    return decorate


class FailsOnCpu(Exception):
    """The student's function fails on the CPU as well, so a GPU-tier test does not charge it (its
    own CPU-tier question does). ``aborted``: its process hung or crashed, so the test's time is
    gone and nothing more should be called."""

    def __init__(self, aborted: bool):
        super().__init__("fails on the CPU as well")
        self.aborted = aborted


def on_the_cpu_first(call: Callable[[], Any]) -> Any:
    """``call()``, the CPU run a GPU-tier test compares the device with. A function that is not
    implemented raises as it is (a stub scores zero); any other failure, a hang or a crash raises
    :class:`FailsOnCpu`."""
    from autograder.grading.sandbox.client import SandboxAbort

    try:
        return call()
    except SandboxAbort:
        raise FailsOnCpu(aborted=True) from None
    except Exception as exc:  # noqa: BLE001 - whatever the student's code raised
        if "NotImplementedError" in (type(exc).__name__, getattr(exc, "type_name", "")):
            raise
        raise FailsOnCpu(aborted=False) from None

"""``grade UPLOAD``: one upload graded on a staff machine as Gradescope grades it (the same
opener, supervisor and confinement), with a results.json per part and the table staff read."""
from __future__ import annotations

from pathlib import Path

from autograder.grading.results import CaseResult, staff_view, write_results
from autograder.grading.supervisor import GradeOptions, Layout, RunnerPool, grade_part, in_tier


def _echo(result: CaseResult) -> None:
    mark = {"passed": "ok  ", "failed": "FAIL", "skipped": "skip"}[result.status]
    print(f"  {mark} {result.case.id} ({result.seconds:.1f}s)", flush=True)


def grade_upload(layout: Layout, cfg, cases, upload: Path, parts: list[str], opts: GradeOptions,
                 verbose: bool, questions: set[str] | None = None) -> dict[str, dict]:
    """{part: results.json dictionary} of an unpacked upload, one runner for every part."""
    out = {}
    with RunnerPool() as pool:
        for part in parts:
            selected = [c for c in cases[part] if questions is None or c.question in questions]
            if verbose:
                print(f"grading part {part} ({len(in_tier(selected, opts.tier))} test cases, "
                      f"tier {opts.tier})", flush=True)
            out[part] = grade_part(layout, cfg, part, selected, upload, opts,
                                   echo=_echo if verbose else None, pool=pool)
    return out


def failure_lines(data: dict, whole: bool) -> list[str]:
    """``name: message`` for every failed test of a results.json (the first line of the message
    unless ``whole``)."""
    out = []
    for t in data["tests"]:
        if "max_score" not in t or t.get("score", 0) >= t["max_score"]:
            continue
        message = (t.get("output") or "").strip() or "(no message)"
        if not whole:
            message = message.splitlines()[0]
        else:
            message = message.replace("\n", "\n      ")
        out.append(f"  {t['name']}: {message}")
    return out


def output_paths(output: Path, parts: list[str]) -> dict[str, Path]:
    """Where each part's results.json goes: ``output`` itself for one part, else
    ``<stem>-<part>.json`` beside it."""
    if len(parts) == 1:
        return {parts[0]: output}
    return {p: output.with_name(f"{output.stem}-{p}{output.suffix or '.json'}") for p in parts}


def write_and_show(cfg, results: dict[str, dict], output: Path, verbose: bool) -> None:
    """Write each part's results.json and print its table and its failed tests."""
    outputs = output_paths(output, list(results))
    for part, data in results.items():
        write_results(data, outputs[part])
        print(f"\n== {cfg.parts[part].title} -> {outputs[part]}")
        print(staff_view(data))
        failures = failure_lines(data, verbose)
        if failures:
            print("\nfailed tests (first line of each message; -v for the whole message):"
                  if not verbose else "\nfailed tests:")
            print("\n".join(failures))

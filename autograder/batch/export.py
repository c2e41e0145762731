"""A Gradescope export as a list of submissions: ``submission_metadata.yml`` (names, SIDs, e-mails,
times) and one ``submission_<id>/`` folder (or zip) per submission; every submission gets a
record, whatever it holds, and so does every one the metadata lists."""
from __future__ import annotations

import datetime as _dt
import re
import zipfile
from collections import Counter
from pathlib import Path

import yaml

from autograder.batch.records import Flag, Student, Submission
from autograder.grading.uploads import SKIP_DIRS, part_files, walk

META_FILE = "submission_metadata.yml"
MAX_NAMES = 5000  # entries of one submission read to detect its part


class _RubyTolerantLoader(yaml.SafeLoader):
    """Gradescope's YAML is written by Ruby: tagged values (``!ruby/object:BigDecimal``) load as
    plain data."""


def _any_tag(loader, _suffix, node):
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_RubyTolerantLoader.add_multi_constructor("!", _any_tag)


def _key(d: dict, name: str):
    """A Ruby-symbol key (``:name``) or a plain one."""
    if not isinstance(d, dict):
        return None
    return d.get(f":{name}", d.get(name))


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, dict):  # e.g. a serialised ActiveSupport::TimeWithZone
        return _text(_key(value, "time") or _key(value, "utc") or "")
    return str(value).strip()


def read_metadata(export: Path) -> tuple[dict[str, dict], str | None]:
    """{submission id: {"students": [Student], "submitted_at": str}} and a problem, if any."""
    path = export / META_FILE
    if not path.exists():
        return {}, f"{META_FILE} is missing: no names, SIDs or e-mails"
    try:
        raw = yaml.load(path.read_text(errors="replace"), Loader=_RubyTolerantLoader)
    except (yaml.YAMLError, OSError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        return {}, f"{META_FILE} could not be read ({first}): no names, SIDs or e-mails"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        return {}, f"{META_FILE} is not a mapping of submissions: no names, SIDs or e-mails"
    out, bad = {}, 0
    for sub_id, entry in raw.items():
        submitters = _key(entry, "submitters")
        if not isinstance(submitters, list):
            bad += 1
            continue
        students = [Student(_text(_key(s, "name")), _text(_key(s, "sid")), _text(_key(s, "email")))
                    for s in submitters if isinstance(s, dict)]
        out[str(sub_id)] = {"students": students,
                            "submitted_at": _text(_key(entry, "created_at"))}
    problem = f"{bad} entries of {META_FILE} have no submitters list" if bad else None
    return out, problem


def list_submissions(export: Path) -> tuple[list[Submission], list[str]]:
    """Every submission of the export (folders, zips, anything else) and every one the metadata lists."""
    meta, problem = read_metadata(export)
    warnings = [problem] if problem else []
    seen: dict[str, Submission] = {}
    try:
        entries = sorted(export.iterdir())
    except OSError as e:
        raise SystemExit(f"cannot list {export}: {e}") from e
    for p in entries:
        if p.name.startswith(".") or p.name == META_FILE or p.name in SKIP_DIRS:
            continue
        sub_id = p.stem if p.suffix == ".zip" else p.name
        if sub_id in seen:  # submission_1/ and submission_1.zip: keep both apart
            sub_id = p.name
        seen[sub_id] = Submission(sub_id, p)
    for sub_id in meta:
        if sub_id not in seen:
            seen[sub_id] = Submission(sub_id, None, flags=[
                Flag("identity", "listed in the metadata but not in the export")])
    for sub_id, sub in seen.items():
        info = meta.get(sub_id)
        if info is not None:
            sub.students, sub.submitted_at = info["students"], info["submitted_at"]
        elif meta:
            sub.flags.append(Flag("identity", f"not in {META_FILE}"))
    return sorted(seen.values(), key=lambda s: _natural(s.id)), warnings


def _natural(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def detect_parts(cfg, subs: list[Submission]) -> list[str]:
    """The parts whose modules or files appear in the export, in config order (cheap: file names
    only, no unpacking; ``uploads.part_files`` says what identifies a part)."""
    counts: Counter = Counter()
    for sub in subs:
        names = names_in(sub.path)
        for pname, part in cfg.parts.items():
            if names & {Path(f).name for f in part_files(part)}:
                counts[pname] += 1
    return [p for p in cfg.parts if counts[p]] or list(cfg.parts)


def names_in(path: Path | None) -> set[str]:
    """The file names in a submission's folder or zip (and in zips inside its folder), at most
    about MAX_NAMES of them; an empty set for what cannot be read."""
    try:
        if path is None:
            return set()
        if path.is_file() and path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                return {Path(n).name for n in zf.namelist()[:MAX_NAMES]}
        if path.is_dir():
            names = set()
            for _, entry in walk(path, MAX_NAMES):
                if entry is None:
                    break
                names.add(entry.name)
                if entry.name.endswith(".zip") and entry.is_file(follow_symlinks=False):
                    names |= names_in(Path(entry.path))
            return names
    except Exception:  # noqa: BLE001 - a submission the detection cannot read is not counted
        pass
    return set()

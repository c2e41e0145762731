"""Write the zip to upload to Gradescope for one part of the homework.

    python -m hw12.export diffusion      # -> hw12_diffusion_submission.zip
    python -m hw12.export early_exit     # -> hw12_early_exit_submission.zip (code + answers file)
    python -m hw12.export rlhf           # -> hw12_rlhf_submission.zip (code + submission_log.json)

Run it from the folder that holds the notebooks (the parent of ``hw12/``).
"""
from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

from hw12.parts import PARTS, zip_name


def export(part: str, root: Path) -> Path:
    """Zip the files of ``part`` found under ``root``; raise FileNotFoundError naming any missing."""
    files = PARTS[part]["files"]
    missing = [f for f in files if not (root / f).is_file()]
    if missing:
        raise FileNotFoundError(
            "missing " + ", ".join(missing) + " (run the part's notebook to the end first)")
    out = root / zip_name(part)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in files:
            zf.write(root / f, arcname=f)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hw12.export", description=__doc__.splitlines()[0])
    ap.add_argument("part", choices=sorted(PARTS))
    ap.add_argument("--root", default=".", help="folder holding hw12/ (default: here)")
    args = ap.parse_args(argv)
    try:
        out = export(args.part, Path(args.root))
    except FileNotFoundError as e:
        print(f"cannot export {args.part}: {e}", file=sys.stderr)
        return 1
    print(f"wrote {out}: upload it to \"{PARTS[args.part]['assignment']}\" on Gradescope")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

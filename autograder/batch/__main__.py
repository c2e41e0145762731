"""``python -m autograder.batch serve SPEC`` (one slot's gradings: pool.serve) or
``python -m autograder.batch chunk FILE`` (a cluster job: cluster.run_chunk)."""
import sys
from pathlib import Path

from autograder.batch.cluster import run_chunk
from autograder.batch.pool import serve
from autograder.batch.records import ChunkSpec, RunSpec


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"] and len(argv) == 2:
        serve(RunSpec.from_json(argv[1]))
        return 0
    if argv[:1] == ["chunk"] and len(argv) == 2:
        run_chunk(ChunkSpec.from_json(Path(argv[1]).read_text()))
        return 0
    raise SystemExit(f"usage: python -m autograder.batch serve SPEC | chunk FILE (got {argv})")


sys.exit(main(sys.argv[1:]))

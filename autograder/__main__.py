"""``python -m autograder COMMAND``: see cli.py."""
from autograder.cli import main

raise SystemExit(main())

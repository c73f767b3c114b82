"""`python -m chronoq`: the same as the `chronoq` command."""

from chronoq.cli.main import run

run()

"""The command line: each command parses its options, calls the plain functions that do the
work, and prints what they return. `run` runs the command line and exits (the console script,
`flags_async/_console.py`, calls it); `main` returns its exit code."""

from . import _bench, _download, _serve  # noqa: F401  (each registers its command)
from ._app import app, main, run

__all__ = ["app", "main", "run"]

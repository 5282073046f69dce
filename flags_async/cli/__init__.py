"""The command line: each command parses its options, calls the plain functions that do the
work, and prints what they return. `main` is the `flags-async` console script."""

from . import _bench, _download, _serve  # noqa: F401  (each registers its command)
from ._app import app, main

__all__ = ["app", "main"]

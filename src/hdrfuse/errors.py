"""Errors hdrfuse raises for bad input.

Every problem with a user's input is an :class:`InputError` that names the file (when there is one)
and the problem in one line; the command line prints ``str(err)`` and exits with status 2.
"""

from __future__ import annotations

import os


class HdrfuseError(Exception):
    """Base class of hdrfuse's own errors."""


class InputError(HdrfuseError, ValueError):
    """Bad input: a file that cannot be read, frames that do not fit together, a bad option.

    Args:
        problem: what is wrong, in a few words.
        path: the file it concerns, or ``None``.
    """

    def __init__(self, problem: str, path: str | os.PathLike[str] | None = None) -> None:
        self.problem = problem
        self.path = None if path is None else os.fspath(path)
        super().__init__(f"{self.path}: {problem}" if self.path else problem)

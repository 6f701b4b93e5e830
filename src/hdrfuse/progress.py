"""Progress bars (tqdm, on stderr): shown on a terminal, quiet when output is piped unless asked for
(``--progress`` on the command line, :func:`set_progress` or ``HDRFUSE_PROGRESS=1``; ``0`` silences
them on a terminal too)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_FORCED: bool | None = None


def set_progress(show: bool | None) -> None:
    """``True``: always show bars (also when piped), ``False``: never, ``None``: on a terminal only."""
    global _FORCED
    _FORCED = show


def progress_enabled(requested: bool = True) -> bool:
    """Whether a bar shows now: ``requested``, and forced on, or stderr a terminal (unless forced off)."""
    if not requested:
        return False
    if _FORCED is not None:
        return _FORCED
    env = os.environ.get("HDRFUSE_PROGRESS")
    if env in ("0", "1"):
        return env == "1"
    return sys.stderr.isatty()


def progress(items: Iterable[T], desc: str, enabled: bool = True, total: int | None = None) -> Iterator[T]:
    """Iterate ``items`` with a tqdm bar on stderr when :func:`progress_enabled`."""
    if not progress_enabled(enabled):
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(items, desc=desc, total=total, leave=False, file=sys.stderr, dynamic_ncols=True)


class Bar:
    """A bar updated by hand (``bar(done, total)``), for work that reports its own steps (tiles).

    Example:
        >>> bar = Bar("tiles", enabled=False); bar(1, 4); bar(4, 4)
    """

    def __init__(self, desc: str, enabled: bool = True) -> None:
        self.desc, self.enabled, self._bar = desc, progress_enabled(enabled), None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 1:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=self.desc, leave=False, file=sys.stderr, dynamic_ncols=True)
        self._bar.update(done - self._bar.n)
        if done >= total:
            self._bar.close()
            self._bar = None

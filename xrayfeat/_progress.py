"""Progress of a long extraction on standard error: tqdm's bar if installed, else one line.

tqdm is an optional extra (``xrayfeat[progress]``); a user of the console script who
never asked for it still sees how far a long extraction has got.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from typing import Any, TextIO

# Redraws of the built-in line at most this often (seconds): a terminal is slow.
_REDRAW_S = 0.2


class _Line:
    """``\\r``-redrawn "desc: done/total (pct), rate, time left" on one line of ``file``."""

    def __init__(self, total: int, desc: str, file: TextIO):
        self.total, self.desc, self.file = total, desc, file
        self.done, self.start, self.drawn = 0, time.perf_counter(), -float("inf")

    def update(self, n: int) -> None:
        self.done += n
        now = time.perf_counter()
        if now - self.drawn >= _REDRAW_S or self.done >= self.total:
            self.drawn = now
            self._draw(now - self.start)

    def _draw(self, elapsed: float) -> None:
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = f", {(self.total - self.done) / rate:.0f} s left" if 0 < rate and self.done < self.total else ""
        self.file.write(f"\r{self.desc}: {self.done}/{self.total} ({self.done / self.total:.0%}), "
                        f"{rate:.0f} img/s{left}  ")
        self.file.flush()

    def close(self) -> None:
        self._draw(time.perf_counter() - self.start)
        self.file.write("\n")
        self.file.flush()


def progress_bar(total: int, desc: str) -> Any:
    """An object with ``update(n)`` and ``close()`` that shows progress on standard error.

    Parameters
    ----------
    total : int
        Number of items to do (at least 1).
    desc : str
        What is being done, shown first.

    Returns
    -------
    tqdm.tqdm or a built-in one-line equivalent
    """
    if importlib.util.find_spec("tqdm") is not None:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit="img", file=sys.stderr)
    return _Line(total, desc, sys.stderr)

"""Atomic file replacement that keeps the permissions an ordinary ``open`` would give.

``tempfile.mkstemp`` creates its file with mode 0600 whatever the umask, and a
rename keeps that mode: every model and report written "atomically" was then
unreadable to colleagues. :func:`publish` gives the temporary file the mode
``open(path, "w")`` would have had (0666 minus the umask) before renaming it.
"""

from __future__ import annotations

import errno
import os
import tempfile
import threading
from pathlib import Path

__all__ = ["publish", "default_file_mode", "write_text"]

_UMASK_LOCK = threading.Lock()


def default_file_mode() -> int:
    """Mode of a new regular file under the process umask (``0o666 & ~umask``)."""
    # There is no read-only query of the umask in the standard library: set and restore
    # it, under a lock so concurrent threads in this module never see the temporary 0.
    with _UMASK_LOCK:
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask


def publish(tmp: str | os.PathLike, path: str | os.PathLike) -> None:
    """Give ``tmp`` the default file mode and rename it onto ``path`` atomically.

    Parameters
    ----------
    tmp : str or path-like
        A finished temporary file in the same folder as ``path``.
    path : str or path-like
        The destination; replaced in one step if it exists.
    """
    if os.path.isdir(path):
        # os.replace would name the temporary file, which the user never heard of.
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file: give a file name", os.fspath(path))
    os.chmod(tmp, default_file_mode())
    os.replace(tmp, path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and an atomic rename.

    Returns
    -------
    pathlib.Path
        The written file; a crash never leaves it half-written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path

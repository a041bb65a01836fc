"""File-system helpers shared by the tests."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest


def make_unwritable(path: Path) -> Callable[[], None]:
    """Make ``path`` unwritable and return the function that undoes it.

    chmod for ordinary users; root ignores modes, so the file is marked immutable
    (``chattr +i``) instead, and the test is skipped where that is not possible.
    """
    if os.geteuid() != 0:
        mode = path.stat().st_mode & 0o777
        path.chmod(0o555 if path.is_dir() else 0o444)
        return lambda: path.chmod(mode)
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("running as root and chattr +i is not available")
    return lambda: subprocess.run(["chattr", "-i", str(path)], check=True)


#: The project's shared data folder (``../shared/data`` beside the clone).
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def require(path: Path) -> Path:
    """``path`` under the shared data, or skip the test; in CI, fail loudly instead.

    CI (``.ci/run``) sets ``CI=1``: there a missing folder means the checkout is broken,
    and a silent skip would hide every real-data test.
    """
    if path.exists():
        return path
    message = f"shared data {path} is not present (expected ../shared/data beside the clone)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def needs_shared(path: Path) -> Callable:
    """Decorator form of :func:`require`, checked when the test runs (not at import)."""
    import functools

    def decorate(test: Callable) -> Callable:
        @functools.wraps(test)
        def run(*args, **kwargs):
            require(path)
            return test(*args, **kwargs)

        return run

    return decorate

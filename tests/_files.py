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

"""Running a command as the unprivileged user `nobody` (uid 65534), as the Docker image does.

Root bypasses file permissions, so the tests of unwritable folders and of the image's
commands drop to `nobody` with `setpriv`. That user must be able to read this checkout and
the interpreter's packages: a checkout under a private folder (mode 0700, as `mktemp -d`
makes) can't be, and those tests are then skipped with the reason instead of failing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

NOBODY = 65534
ROOT = Path(__file__).resolve().parents[1]


def as_nobody(command: list[str]) -> list[str]:
    """`command` run as `nobody` when we are root (setpriv), unchanged otherwise."""
    if os.geteuid() != 0:
        return command
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]


@cache
def why_not() -> str:
    """Why commands can't run as `nobody` here ("" when they can)."""
    if os.geteuid() != 0:
        return ""
    if shutil.which("setpriv") is None:
        return "running as root without setpriv to drop privileges"
    probe = subprocess.run(  # noqa: S603 - our own interpreter and fixed arguments
        as_nobody([sys.executable, "-c", "import bot, pydantic"]),
        cwd="/",
        env={"PYTHONPATH": str(ROOT), "PATH": os.environ.get("PATH", "")},
        capture_output=True,
        timeout=60,
        check=False,
    )
    if probe.returncode != 0:
        return (
            f"uid {NOBODY} can't read this checkout or its interpreter ({ROOT}, "
            f"{sys.executable}): a parent folder is private (e.g. made by mktemp -d); "
            "chmod o+rx it to run this test"
        )
    return ""

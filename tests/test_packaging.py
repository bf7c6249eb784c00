"""The bot as it is shipped, not as it runs from the source tree: the wheel installed into a
fresh venv elsewhere, and the Docker image's build context installed the way the Dockerfile
does it, run as an unprivileged user (there is no Docker engine here).

The fresh venvs get the bot's dependencies from the test venv through a .pth line (no
download, no editable finder: .pth files inside that folder are not processed), so the
`bot` they import can only be the installed one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unprivileged import NOBODY, as_nobody, why_not

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 120
SETTINGS = ("BOT_TOKEN", "ADMIN_IDS", "DATABASE_URL", "CHANNEL_ID", "EXPORT_SALT")


# --- the build context, as Docker makes it ------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match plus `**`) as a regex on a relative path."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            if pattern.startswith("/", i):
                out += "(?:/|)"
                i += 1
            continue
        char = pattern[i]
        out += "[^/]*" if char == "*" else "[^/]" if char == "?" else re.escape(char)
        i += 1
    return re.compile(out + r"\Z")


def dockerignore() -> list[tuple[bool, re.Pattern[str]]]:
    """(exclude?, regex) per .dockerignore line, in order (a later `!` line re-includes)."""
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        rules.append((not negate, _pattern_regex(pattern)))
    return rules


def ignored(rel: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: the last matching line wins; a matched folder takes its contents."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for exclude, regex in rules:
        if any(regex.match(p) for p in prefixes):
            result = exclude
    return result


def build_context(dest: Path) -> Path:
    """Copy the files Docker would send as the build context into `dest`."""
    rules = dockerignore()
    for path in sorted(ROOT.rglob("*")):
        rel = path.relative_to(ROOT).as_posix()
        if path.is_dir() or ignored(rel, rules):
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return dest


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    steps = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, args = line.partition(" ")
            steps.append((name.upper(), args.strip()))
    return steps


def exec_form(args: str) -> list[str]:
    """The JSON array of an exec-form CMD (or HEALTHCHECK ... CMD)."""
    command: list[str] = json.loads(args[args.index("[") :])
    return command


# --- fresh venvs --------------------------------------------------------------------------------


def fresh_venv(where: Path) -> Path:
    """A venv without pip whose site-packages also sees the test venv's (through a .pth
    line); returns its python."""
    subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "-m", "venv", "--without-pip", str(where)], check=True, timeout=TIMEOUT
    )
    python = where / "bin" / "python"
    site = subprocess.run(  # noqa: S603 - fixed arguments
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
        timeout=TIMEOUT,
    ).stdout.strip()
    Path(site, "_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def pip_install(python: Path, *args: str) -> None:
    """The test venv's pip installing into the venv of `python`, no dependencies."""
    subprocess.run(  # noqa: S603 - fixed arguments
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            *args,
        ],
        check=True,
        timeout=TIMEOUT,
        capture_output=True,
    )


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without the bot's settings and without the source tree on the path."""
    env = {
        k: v for k, v in os.environ.items() if k not in (*SETTINGS, "PYTHONPATH", "VIRTUAL_ENV")
    }
    return {**env, **extra}


def run(
    command: list[str], cwd: Path, env: dict[str, str], stdin: str = "", nobody: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run a command of the installed bot (looked up on env's PATH, as Docker does), as
    `nobody` when asked and we are root."""
    command = [shutil.which(command[0], path=env.get("PATH")) or command[0], *command[1:]]
    if nobody:
        command = as_nobody(command)
    return subprocess.run(  # noqa: S603 - fixed arguments
        command,
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.fixture(scope="module")
def place() -> Iterator[Path]:
    """A folder outside the source tree that an unprivileged user can enter."""
    path = Path(tempfile.mkdtemp(prefix="bot-package-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def context(place: Path) -> Path:
    """The Docker build context."""
    return build_context(place / "context")


# --- the wheel ------------------------------------------------------------------------------


def test_wheel_installed_elsewhere_has_its_dataset(place: Path, context: Path) -> None:
    subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(place / "dist"), str(context)],
        check=True, timeout=TIMEOUT, capture_output=True,
    )  # fmt: skip
    (wheel,) = (place / "dist").glob("beijing_ai_bot-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "bot/data/beijing_ai.toml" in names
    assert "bot/locales/en/LC_MESSAGES/core.po" in names
    assert "bot/locales/ru/LC_MESSAGES/ops.po" in names
    python = fresh_venv(place / "wheel-venv")
    pip_install(python, str(wheel))
    work = place / "wheel-work"
    work.mkdir()
    env = clean_env()

    where = run([str(python), "-c", "import bot; print(bot.__file__)"], work, env)
    assert where.stdout.strip().startswith(str(place / "wheel-venv")), where

    script = python.parent / "beijing-ai-bot"
    init = run([str(script), "init-db"], work, env)
    assert init.returncode == 0 and "Database ready" in init.stdout, init.stderr
    assert "No dataset" not in init.stderr

    shell = run([str(python), "-m", "bot", "shell"], work, env, stdin="/stats\n")
    assert shell.returncode == 0, shell.stderr
    assert "183" in shell.stdout and "PRC.TODAY" in shell.stdout

    # an external dataset file still imports
    external = work / "mine.toml"
    external.write_text((ROOT / "bot" / "data" / "beijing_ai.toml").read_text(encoding="utf-8"))
    imported = run([str(python), "-m", "bot", "stats", "import", str(external)], work, env)
    assert imported.returncode == 0 and f"loaded from {external}" in imported.stdout


# --- the image ------------------------------------------------------------------------------


def test_image_context_has_what_the_dockerfile_copies(context: Path) -> None:
    steps = dockerfile()
    for name, args in steps:
        if name == "COPY":
            *sources, _dest = [a for a in args.split() if not a.startswith("--")]
            for source in sources:
                assert (context / source).exists(), f"COPY {source}: not in the build context"
    assert not (context / "data").exists() and not (context / ".venv").exists()
    assert (context / "bot" / "data" / "beijing_ai.toml").exists()


def test_lock_pins_every_dependency() -> None:
    lock = (ROOT / "requirements.lock").read_text()
    pinned = {m[1].lower().replace("_", "-") for m in re.finditer(r"^([\w.-]+)==", lock, re.M)}
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for dep in declared:
        name = re.match(r"[\w.-]+", dep)
        assert name and name[0].lower().replace("_", "-") in pinned, f"{dep} not in the lock"
    assert "--hash=sha256:" in lock


def test_image_commands_run_unprivileged(place: Path, context: Path) -> None:
    if why_not():
        pytest.skip(why_not())
    steps = dict(dockerfile())
    python = fresh_venv(place / "image-venv")
    pip_install(python, str(context))  # the Dockerfile's `pip install --no-deps /tmp/src`
    bindir = str(python.parent)
    cmd = exec_form(steps["CMD"])
    health = exec_form(steps["HEALTHCHECK"])
    assert cmd[:3] == ["python", "-m", "bot"] and health[:3] == ["python", "-m", "bot"]
    assert re.search(r"\bUSER 10001", (ROOT / "Dockerfile").read_text())

    # the volume as a new named volume is: owned by the bot's (unprivileged) user
    volume = place / "volume"
    volume.mkdir()
    if os.geteuid() == 0:
        os.chown(volume, NOBODY, NOBODY)
    env = clean_env(
        PATH=f"{bindir}:{os.environ['PATH']}",
        HOME=str(volume),
        DATABASE_URL=f"sqlite:///{volume}/bot.sqlite3",
    )
    sick = run(health, volume, env, nobody=True)
    assert sick.returncode == 1 and sick.stderr.startswith("unhealthy: No database")
    no_token = run(cmd, volume, env, nobody=True)
    assert no_token.returncode == 2 and no_token.stderr.startswith("BOT_TOKEN is not set")
    init = run(["python", "-m", "bot", "init-db"], volume, env, nobody=True)
    assert init.returncode == 0, init.stderr
    healthy = run(health, volume, env, nobody=True)
    assert healthy.returncode == 0 and healthy.stdout.startswith("healthy: database")

    # the console works in the image: its files land in the volume (the working directory)
    shell = run(
        ["python", "-m", "bot", "shell"], volume, env, "/forecast 70\n/results\n", nobody=True
    )
    assert shell.returncode == 0, shell.stderr
    assert list((volume / "shell-files").glob("*.png")), shell.stdout

    # a bind mount the bot's user cannot write: one line naming the folder, uid and fix
    mount = place / "bind-mount"
    mount.mkdir(mode=0o755)
    if os.geteuid() != 0:
        mount.chmod(0o555)
    bad = run(cmd, mount, {**env, "DATABASE_URL": f"sqlite:///{mount}/bot.sqlite3"}, nobody=True)
    uid = NOBODY if os.geteuid() == 0 else os.geteuid()
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert f"{mount} is not writable by uid {uid}" in bad.stderr and "chown" in bad.stderr

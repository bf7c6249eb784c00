"""Start-up as an operator meets it: every fault a person can fix is one line on stderr, a
non-zero exit and no traceback, and the process ends (a timeout catches a hang). Each case
runs the real `python -m bot` as a subprocess; permission cases run as an unprivileged user
(root ignores file permissions)."""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import load_settings
from tests.conftest import UnauthorizedBotApi
from tests.unprivileged import NOBODY, as_nobody, why_not

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456789:AAE-secretsecretsecretsecretsecret12"
TIMEOUT = 30  # seconds: generous for a loaded machine; only a hang comes near it
SETTINGS = (
    "BOT_TOKEN",
    "ADMIN_IDS",
    "DATABASE_URL",
    "DEFAULT_LANGUAGE",
    "CHANNEL_ID",
    "EXPORT_SALT",
    "TELEGRAM_API_BASE_URL",
    "TELEGRAM_FILE_BASE_URL",
    "LOG_LEVEL",
    "ADMIN_ALERT_CHAT_ID",
)


def bot(
    *args: str, cwd: Path, env: dict[str, str] | None = None, unprivileged: bool = False
) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` in `cwd` with a clean environment plus `env`."""
    base = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    command = [sys.executable, "-m", "bot", *args]
    if unprivileged:
        command = as_nobody(command)
    return subprocess.run(  # noqa: S603 - our own interpreter and fixed arguments
        command,
        cwd=cwd,
        env={**base, "PYTHONPATH": str(ROOT), "HOME": str(cwd), **(env or {})},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a failed start; fails on a traceback or several lines."""
    err = result.stderr.strip()
    assert result.returncode != 0, (result.stdout, err)
    assert "Traceback" not in err and "\n" not in err, err
    return err


@pytest.fixture
def place() -> Iterator[Path]:
    """A working directory an unprivileged user can enter (pytest's tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="bot-startup-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


needs_unprivileged = pytest.mark.skipif(bool(why_not()), reason=why_not() or "-")


# --- settings -----------------------------------------------------------------------------


def test_env_example_as_shipped_loads_and_run_asks_for_the_token(place: Path) -> None:
    shutil.copy(ROOT / ".env.example", place / ".env")
    result = bot("run", cwd=place)
    err = one_line(result)
    assert (
        result.returncode == 2 and err.startswith("BOT_TOKEN is not set") and "@BotFather" in err
    )
    assert bot("init-db", cwd=place).returncode == 0


def test_env_example_values(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.bot_token is None and settings.admin_ids == [] and settings.channel_id is None
    assert settings.export_salt.get_secret_value() == ""  # generated and kept in the database
    assert settings.telegram_api_base_url == "https://api.telegram.org/bot"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"BOT_TOKEN": ""}, "BOT_TOKEN is not set"),
        ({"BOT_TOKEN": "  "}, "BOT_TOKEN is not set"),
        ({"BOT_TOKEN": "12345:short"}, "Invalid setting BOT_TOKEN: not a bot token"),
        ({"BOT_TOKEN": TOKEN, "EXPORT_SALT": "change-me"}, "Invalid setting EXPORT_SALT"),
        (
            {"BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": "api.telegram.org"},
            "Invalid setting TELEGRAM",
        ),
    ],
)
def test_bad_setting_is_one_line_before_any_network_call(
    place: Path, env: dict[str, str], expected: str
) -> None:
    # nothing listens on port 9: a network call would say "Cannot reach the Bot API" instead
    result = bot("run", cwd=place, env={"TELEGRAM_API_BASE_URL": "http://127.0.0.1:9/bot", **env})
    err = one_line(result)
    assert err.startswith(expected), err
    assert "short" not in err and "AAE-secret" not in err  # the value is never echoed


def test_every_bad_setting_gets_its_own_line(place: Path) -> None:
    env = {"BOT_TOKEN": "nope", "DEFAULT_LANGUAGE": "de", "EXPORT_SALT": "change-me"}
    result = bot("init-db", cwd=place, env=env)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert [line.split(":")[0] for line in lines] == [
        "Invalid setting BOT_TOKEN",
        "Invalid setting DEFAULT_LANGUAGE",
        "Invalid setting EXPORT_SALT",
    ]


def test_empty_optional_settings_take_their_defaults(place: Path) -> None:
    (place / ".env").write_text(
        "DATABASE_URL=\nTELEGRAM_API_BASE_URL=\nADMIN_IDS=\nRESULTS_REVEAL_MIN=\nCHANNEL_ID=\n"
    )
    result = bot("init-db", cwd=place)
    assert result.returncode == 0, result.stderr
    assert (place / "data" / "bot.sqlite3").exists()


# --- the database -----------------------------------------------------------------------------


def make_database(place: Path) -> Path:
    """A migrated, seeded database at place/data/bot.sqlite3 (WAL checkpointed)."""
    assert bot("init-db", cwd=place).returncode == 0
    return place / "data" / "bot.sqlite3"


def test_garbage_file(place: Path) -> None:
    (place / "data").mkdir()
    (place / "data" / "bot.sqlite3").write_bytes(os.urandom(8192))
    err = one_line(bot("init-db", cwd=place))
    assert "is not an SQLite database or is damaged" in err and "bot.sqlite3" in err


def test_damaged_file_with_a_valid_header(place: Path) -> None:
    path = make_database(place)
    data = bytearray(path.read_bytes())
    data[4096:] = os.urandom(len(data) - 4096)  # page 1 (the schema) intact, the rest noise
    path.write_bytes(bytes(data))
    err = one_line(bot("init-db", cwd=place))
    assert "damaged" in err and str(path) in err


def test_newer_schema(place: Path) -> None:
    path = make_database(place)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (999, '2030-01-01T00:00:00+00:00')")
    conn.close()
    result = bot("init-db", cwd=place)
    err = one_line(result)
    assert result.returncode == 1 and "schema version 999" in err and "Upgrade the bot" in err


def test_folder_given_as_the_file(place: Path) -> None:
    (place / "state").mkdir()
    err = one_line(bot("init-db", cwd=place, env={"DATABASE_URL": "sqlite:///state"}))
    assert "names a folder, not a file: state" in err and "state/bot.sqlite3" in err


@needs_unprivileged
def test_unwritable_folder_names_path_uid_and_fix(place: Path) -> None:
    (place / "data").mkdir(mode=0o755)  # owned by us; `nobody` cannot write there
    uid = NOBODY if os.geteuid() == 0 else os.geteuid()
    if os.geteuid() != 0:
        (place / "data").chmod(0o555)
    result = bot("init-db", cwd=place, unprivileged=True)
    err = one_line(result)
    assert f"{place / 'data'} is not writable by uid {uid}" in err and "chown" in err


@needs_unprivileged
def test_folder_that_cannot_be_created(place: Path) -> None:
    place.chmod(0o555)
    try:
        err = one_line(bot("init-db", cwd=place, unprivileged=True))
    finally:
        place.chmod(0o755)
    assert "Cannot create the database folder data" in err


@needs_unprivileged
@pytest.mark.parametrize(("mode", "what"), [(0o644, "read-only"), (0o600, "unreadable")])
def test_read_only_or_unreadable_file(place: Path, mode: int, what: str) -> None:
    path = make_database(place)
    (place / "data").chmod(0o777)  # the folder is writable; only the file is not
    path.chmod(mode if os.geteuid() == 0 else mode & 0o500)
    err = one_line(bot("init-db", cwd=place, unprivileged=True))
    assert f"{path} is not readable and writable by uid" in err, what


@needs_unprivileged
def test_healthcheck_reports_an_unwritable_database(place: Path) -> None:
    path = make_database(place)
    path.chmod(0o444)
    result = bot("healthcheck", cwd=place, unprivileged=True)
    assert result.returncode == 1 and result.stderr.startswith("unhealthy: ")


# --- the Bot API ------------------------------------------------------------------------------


def test_api_unreachable(place: Path) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {"BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{port}/bot"}
    result = bot("run", cwd=place, env=env)
    err = one_line(result)
    assert result.returncode == 1 and err.startswith("Cannot reach the Bot API")
    assert "AAE-secret" not in err


def test_token_rejected(place: Path) -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), UnauthorizedBotApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = f"http://127.0.0.1:{server.server_port}/bot"
        result = bot("run", cwd=place, env={"BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": api})
    finally:
        server.shutdown()
        server.server_close()
    err = one_line(result)
    assert result.returncode == 2 and err.startswith("Telegram rejected BOT_TOKEN")
    assert "AAE-secret" not in err + result.stdout


# --- pipes ------------------------------------------------------------------------------------


def test_export_into_a_closed_pipe_is_quiet(place: Path) -> None:
    make_database(place)
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head` that has already exited: the first write fails
    base = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    process = subprocess.run(
        [sys.executable, "-m", "bot", "export", "--format", "json"],
        cwd=place,
        env={**base, "PYTHONPATH": str(ROOT)},
        stdout=write_end,
        stderr=subprocess.PIPE,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    os.close(write_end)
    assert process.returncode == 0, process.stderr
    assert "Traceback" not in process.stderr and "BrokenPipe" not in process.stderr

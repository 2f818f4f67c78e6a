"""`planbrief run` as an operator meets it (issue 10, items 5 and 6): one line per database problem, exit
1, no traceback; and the webhook secret never in a log line, even at DEBUG.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot.digests.health import POSTGRES_EXTRA, DatabaseProblem, open_checked
from bot.digests.store import open_store
from tests.support.postgres import unavailable_reason

ROOT = Path(__file__).resolve().parent.parent


def run_env(api_root: str, token: str, data_dir: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "PLANBRIEF_"))}
    # the operator messages asserted here are their English wording (a Chinese locale gets Chinese)
    env.update(TELEGRAM_BOT_TOKEN=token, TELEGRAM_API_URL=api_root, PLANBRIEF_DATA_DIR=str(data_dir),
               PLANBRIEF_LANG="en",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])), **extra)
    return env


def run_bot(env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", "run"], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)


def one_line_exit_1(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("planbrief:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def good_db(path: Path) -> Path:
    open_store(path).close()
    return path


# Nothing answers on port 1: if the database check let the bot go on, the token check would fail
# with a different line ("cannot reach the Bot API").
UNREACHABLE_API = "http://127.0.0.1:1"
TOKEN = "123456:fake-token-for-db-checks"


@pytest.mark.parametrize("damage,expected", [
    ("corrupt", "corrupt or not a database"),
    ("truncated", "corrupt or not a database"),
])
def test_run_on_a_damaged_sqlite_file_names_it_and_exits_1(tmp_path, damage, expected):
    db = good_db(tmp_path / "data" / "planbrief.sqlite3")
    if damage == "corrupt":
        db.write_bytes(b"this is not a database, just bytes " * 200)
    else:
        with db.open("r+b") as fh:
            fh.truncate(db.stat().st_size // 2 or 100)
    line = one_line_exit_1(run_bot(run_env(UNREACHABLE_API, TOKEN, tmp_path / "data"), tmp_path))
    assert expected in line and str(db) in line


def test_run_where_the_database_folder_cannot_be_created_exits_1(tmp_path):
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be")
    line = one_line_exit_1(run_bot(run_env(UNREACHABLE_API, TOKEN, blocker), tmp_path))
    assert "database folder" in line


def test_a_read_only_database_is_noticed_at_start_up(tmp_path):
    db = good_db(tmp_path / "ro.sqlite3")
    url = f"sqlite:///file:{db}?mode=ro&uri=true"  # root ignores file modes; SQLite's read-only mode does not
    line = one_line_exit_1(run_bot(run_env(UNREACHABLE_API, TOKEN, tmp_path, PLANBRIEF_DATABASE_URL=url), tmp_path))
    assert "read-only" in line
    with pytest.raises(DatabaseProblem, match="read-only"):
        open_checked(url)


@pytest.mark.skipif(unavailable_reason() is not None, reason="needs the PostgreSQL driver")
def test_run_with_an_unreachable_postgres_names_it_without_the_password(tmp_path):
    url = "postgresql+psycopg://planbrief:hunter2pw@127.0.0.1:1/planbrief"
    line = one_line_exit_1(run_bot(run_env(UNREACHABLE_API, TOKEN, tmp_path, PLANBRIEF_DATABASE_URL=url), tmp_path))
    assert "PostgreSQL" in line and "127.0.0.1:1/planbrief" in line and "hunter2pw" not in line


def test_run_without_the_postgres_driver_names_the_extra(tmp_path):
    blocked = tmp_path / "no-driver"
    (blocked / "psycopg").mkdir(parents=True)  # shadows the installed driver, as if it were missing
    (blocked / "psycopg" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'psycopg'\", name='psycopg')\n")
    env = run_env(UNREACHABLE_API, TOKEN, tmp_path,
                  PLANBRIEF_DATABASE_URL="postgresql+psycopg://u:p@127.0.0.1:1/x")
    env["PYTHONPATH"] = os.pathsep.join([str(blocked), env["PYTHONPATH"]])
    line = one_line_exit_1(run_bot(env, tmp_path))
    assert POSTGRES_EXTRA in line


def test_the_webhook_secret_is_redacted_from_every_log_line_at_debug(fake_api, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    for secret in ("my-webhook-secret-42", None):  # set by the operator, or random per start
        fake_api.reset_records()
        extra = {"PLANBRIEF_WEBHOOK_SECRET": secret} if secret else {}
        env = run_env(fake_api.root_url, fake_api.token, tmp_path / "data", PLANBRIEF_LOG_LEVEL="DEBUG",
                      PLANBRIEF_WEBHOOK_URL="https://bot.example.org/hook", PLANBRIEF_WEBHOOK_LISTEN="127.0.0.1",
                      PLANBRIEF_WEBHOOK_PORT=str(port), **extra)
        proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, cwd=tmp_path,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            call = fake_api.wait_for_call("setWebhook", timeout=60)
        finally:
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=120)  # a bound, not a timing: the test is about redaction
        used = call.params.get("secret_token")
        assert used and (secret is None or used == secret)
        assert used not in out + err
        assert "<webhook-secret>" in err  # PTB did log setWebhook's parameters: the check is real
        assert fake_api.token.split(":", 1)[1] not in out + err

"""`.ci/run`: the README's test command verbatim, then ruff, and ruff runs even when the tests fail.

The script's own control flow is run for real, in a copy of the repo layout whose `python3` is a stand-in
that builds a .venv of small shell scripts: pytest fails (or passes) on demand and ruff records that it
ran. Installing for real would take a minute and need the network; what is under test is the script.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FAKE_PYTHON3 = """#!/bin/sh
# stands in for `python3 -m venv [--upgrade-deps] .venv`: a venv whose tools are scripts
mkdir -p .venv/bin
printf '#!/bin/sh\\nexit 0\\n' > .venv/bin/pip
printf '#!/bin/sh\\necho pytest-ran >> calls.log\\nexit %s\\n' "$TESTS_EXIT" > .venv/bin/python
printf '#!/bin/sh\\necho ruff-ran >> calls.log\\nexit %s\\n' "$RUFF_EXIT" > .venv/bin/ruff
chmod +x .venv/bin/pip .venv/bin/python .venv/bin/ruff
"""


def _readme_commands() -> list[str]:
    return re.findall(r"```bash\n(.+?)\n```", (ROOT / "README.md").read_text(encoding="utf-8"))


def _run_ci(tmp_path: Path, tests_exit: int, ruff_exit: int) -> tuple[subprocess.CompletedProcess, list[str]]:
    repo = tmp_path / "repo"
    (repo / ".ci").mkdir(parents=True)
    shutil.copy(ROOT / ".ci" / "run", repo / ".ci" / "run")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "python3"
    fake.write_text(FAKE_PYTHON3)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "TESTS_EXIT": str(tests_exit), "RUFF_EXIT": str(ruff_exit), "PLANBRIEF_DATA_DIR": str(tmp_path / "d")}
    done = subprocess.run(["bash", str(repo / ".ci" / "run")], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=60)
    log = repo / "calls.log"
    return done, log.read_text().split() if log.exists() else []


def test_ci_calls_the_readme_test_command_verbatim():
    test_command = next(c for c in _readme_commands() if "pytest" in c)
    assert test_command in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize(("tests_exit", "ruff_exit", "ok"), [(1, 0, False), (0, 1, False), (1, 1, False), (0, 0, True)])
def test_ruff_runs_even_when_tests_fail_and_both_are_reported(tmp_path, tests_exit, ruff_exit, ok):
    done, calls = _run_ci(tmp_path, tests_exit, ruff_exit)
    assert calls == ["pytest-ran", "ruff-ran"]
    assert (done.returncode == 0) is ok
    summary = done.stdout.strip().splitlines()[-1]
    assert ("tests passed" in summary) is (tests_exit == 0)
    assert ("ruff passed" in summary) is (ruff_exit == 0)

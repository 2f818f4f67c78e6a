"""`.env` is found as python-dotenv finds it (the working folder, then each parent), and python-dotenv
is imported only when there is one: a CLI start without a `.env` does not pay for its import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from dotenv import find_dotenv

from bot.config import _find_dotenv, load_dotenv_file

ROOT = Path(__file__).resolve().parent.parent


def test_the_nearest_env_file_is_the_one_python_dotenv_finds(tmp_path, monkeypatch):
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    (tmp_path / "a" / ".env").write_text("PLANBRIEF_TEST_DOTENV=from-a\n", encoding="utf-8")
    (tmp_path / "a" / "b" / ".env").mkdir()  # a folder named .env is not the file
    monkeypatch.chdir(deep)
    assert _find_dotenv() == find_dotenv(usecwd=True) == str(tmp_path / "a" / ".env")
    monkeypatch.delenv("PLANBRIEF_TEST_DOTENV", raising=False)
    load_dotenv_file()
    assert os.environ["PLANBRIEF_TEST_DOTENV"] == "from-a"
    monkeypatch.setenv("PLANBRIEF_TEST_DOTENV", "from-the-environment")
    load_dotenv_file()
    assert os.environ["PLANBRIEF_TEST_DOTENV"] == "from-the-environment"  # the environment wins


def test_without_an_env_file_python_dotenv_is_not_imported(tmp_path):
    probe = ("import sys\n"
             "from bot.config import _find_dotenv, load_dotenv_file\n"
             "load_dotenv_file()\n"
             "print(repr(_find_dotenv()), 'dotenv' in sys.modules)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    found, imported = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True,
                                     text=True, check=True).stdout.split()
    if found != "''":
        pytest.skip(f"a .env above the temporary folder: {found}")
    assert imported == "False"

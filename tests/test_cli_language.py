"""Issue 16: PLANBRIEF_LANG and the locale choose the language of every CLI output — the answers of
search, changes, city, show and plans, argparse's own usage and errors, and `run`'s operator errors."""

from __future__ import annotations

import pytest

from bot.cli import main


@pytest.fixture
def lang(monkeypatch):
    def use(value: str | None, locale: str = "C.UTF-8") -> None:
        for name in ("PLANBRIEF_LANG", "LC_ALL", "LC_MESSAGES"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("LANG", locale)
        if value:
            monkeypatch.setenv("PLANBRIEF_LANG", value)
    return use


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_english_answers(lang, capsys):
    lang("en")
    assert "Nothing found for “量子计算”. Try: " in _run(capsys, "search", "量子计算")[1]
    assert "Showing results for “双减”" in _run(capsys, "search", "双剑", "--limit", "1")[1]
    out = _run(capsys, "changes", "无锡")[1]
    assert "\nNew:" in out and "No longer mentioned:" in out and "different kinds" in out and "\n新增：" not in out
    assert "Headline priorities:" in _run(capsys, "show", "suzhou-2023-workpoints")[1]
    assert "passages)" in _run(capsys, "plans")[1]
    code, _, err = _run(capsys, "changes", "火星城")
    assert code == 3 and "No place “火星城”" in err


def test_chinese_locale_answers_and_argparse_in_chinese(lang, capsys):
    lang(None, "zh_CN.UTF-8")
    assert "没有找到「量子计算」" in _run(capsys, "search", "量子计算")[1]
    with pytest.raises(SystemExit) as stop:
        main(["search"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "用法：" in err and "错误：缺少参数：query" in err
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "列出收录的规划" in out and "显示帮助并退出" in out


def test_english_locale_keeps_argparse_english(lang, capsys):
    lang(None, "en_US.UTF-8")
    with pytest.raises(SystemExit):
        main(["search"])
    assert "the following arguments are required: query" in capsys.readouterr().err


def test_run_errors_follow_the_language(lang, capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.setenv("PLANBRIEF_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no .env here
    lang(None, "zh_CN.UTF-8")
    code, _, err = _run(capsys, "run")
    assert code == 2 and "未设置 TELEGRAM_BOT_TOKEN" in err
    lang("en")
    code, _, err = _run(capsys, "run")
    assert code == 2 and "TELEGRAM_BOT_TOKEN is not set" in err

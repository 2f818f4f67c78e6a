"""Bounds on what `add` will read, so one hostile or careless file cannot exhaust the server.

A 5 MB .docx can unpack to gigabytes (a zip bomb); a 50 MB .txt makes every later start slow; a
pathological text can keep the parser busy. Each bound is checked as early as it can be: the file's
size before reading, a .docx's members by their declared sizes before anything is unpacked (zipfile
stops at the declared size, so a lying header only yields a broken member), the text's length before
parsing, and the parse time at each stage — and, where the process allows it (the command line's main
thread), by an alarm that interrupts a single stage that runs too long. Operators set them in .env.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


class LimitError(Exception):
    """A file over one of the bounds, said in one line in Chinese and in English."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(zh)
        self.zh = zh
        self.en = en


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 20 * 1024 * 1024  # Telegram's own limit for files a bot downloads
    max_member_bytes: int = 64 * 1024 * 1024  # one unpacked .docx member; a 300-page plan is under 10 MB
    max_text_chars: int = 2_000_000  # a long plan is 50,000 characters
    max_parse_seconds: float = 60.0

    @classmethod
    def from_env(cls, env: dict | None = None) -> Limits:
        env = os.environ if env is None else env
        mb = 1024 * 1024
        return cls(
            max_file_bytes=int(_number(env, "PLANBRIEF_MAX_FILE_MB", cls.max_file_bytes / mb) * mb),
            max_member_bytes=int(_number(env, "PLANBRIEF_MAX_DOCX_MEMBER_MB", cls.max_member_bytes / mb) * mb),
            max_text_chars=int(_number(env, "PLANBRIEF_MAX_TEXT_CHARS", cls.max_text_chars)),
            max_parse_seconds=_number(env, "PLANBRIEF_MAX_PARSE_SECONDS", cls.max_parse_seconds),
        )


def _number(env, name: str, default: float) -> float:
    raw = (env.get(name) or "").strip()
    try:
        value = float(raw) if raw else float(default)
    except ValueError:
        return float(default)
    return value if value > 0 else float(default)


def _mb(size: float) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def check_file(path: Path, limits: Limits) -> None:
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise LimitError(f"文件太大：{path.name} 有 {_mb(size)}（上限 {_mb(limits.max_file_bytes)}）",
                         f"file too large: {path.name} is {_mb(size)} (limit {_mb(limits.max_file_bytes)})")


def check_zip_members(path: Path, limits: Limits) -> None:
    """Every member's unpacked size, from the zip's directory, before a byte is inflated."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError):
        return  # not a zip at all: the reader says "unreadable" in its own words
    total = sum(m.file_size for m in members)
    big = max(members, key=lambda m: m.file_size, default=None)
    if big is not None and (big.file_size > limits.max_member_bytes or total > 4 * limits.max_member_bytes):
        raise LimitError(
            f"文件解压后过大：{path.name} 中的 {big.filename} 有 {_mb(big.file_size)}（上限 "
            f"{_mb(limits.max_member_bytes)}），可能是压缩炸弹",
            f"{path.name} unpacks too large: {big.filename} is {_mb(big.file_size)} (limit "
            f"{_mb(limits.max_member_bytes)}); possibly a zip bomb")


def check_text(text: str, name: str, limits: Limits) -> None:
    if len(text) > limits.max_text_chars:
        raise LimitError(f"正文太长：{name} 有 {len(text):,} 字（上限 {limits.max_text_chars:,}）",
                         f"text too long: {name} has {len(text):,} characters (limit {limits.max_text_chars:,})")


class Deadline:
    """Parse time as a budget, checked between stages; `over` raises once it is spent."""

    def __init__(self, seconds: float, name: str):
        self.seconds = seconds
        self.name = name
        self.end = time.monotonic() + seconds

    def error(self) -> LimitError:
        return LimitError(f"解析超时：{self.name} 超过 {self.seconds:.0f} 秒仍未读完",
                          f"parsing {self.name} took longer than {self.seconds:.0f} s")

    def check(self) -> None:
        if time.monotonic() > self.end:
            raise self.error()


@contextmanager
def parse_deadline(seconds: float, name: str) -> Iterator[Deadline]:
    """A Deadline, plus a real interruption where signals can deliver one (the main thread)."""
    deadline = Deadline(seconds, name)
    in_main = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    if not in_main:
        yield deadline
        return

    def interrupt(signum, frame):
        raise deadline.error()

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield deadline
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

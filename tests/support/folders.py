"""The seeds folder as tests compare it: every file's bytes by name, so "untouched" means byte-identical."""

from __future__ import annotations

from pathlib import Path


def folder_bytes(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name not in skip}

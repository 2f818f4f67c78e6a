"""`planbrief add`: bring new plans (.txt, .html, .docx, .pdf; one file, several, or a folder) into the seeds folder without risking the rest.

Metadata is read from the text where it states it (title line, 发布日期/成文日期, issuing body, the city in
the title); what cannot be found must be given on the command line, so a plan never enters the corpus
with a guessed city. The new file and manifest are written only after the plan parses, and the
manifest is replaced atomically, so a failed add leaves the corpus exactly as it was.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from bot.corpus import formats, regions
from bot.corpus.clean import clean
from bot.corpus.loader import build_plan, read_manifest, read_text, write_manifest
from bot.corpus.metadata import detect, kind_of
from bot.textnorm import normalize


class AddError(Exception):
    """A clear, one-line reason an add was refused; nothing was written. `en` is the English line
    where one exists (the command line picks by the user's locale)."""

    def __init__(self, message: str, en: str | None = None) -> None:
        super().__init__(message)
        self.en = en or message


def extract_text(path: Path) -> str:
    try:
        return formats.extract_text(path)
    except formats.FormatError as exc:
        raise AddError(exc.zh, exc.en) from exc
    except Exception as exc:  # noqa: BLE001 - any parser failure means "unreadable", said plainly
        raise AddError(f"文件无法读取（{type(exc).__name__}）：{path.name}",
                       f"cannot read {path.name} ({type(exc).__name__})") from exc


def batch_files(paths: list[Path]) -> list[Path]:
    """The files a batch add covers: each file given, and each plan-like file in a folder given
    (what we read, and what we can tell how to convert), in name order; hidden files are skipped."""
    known = formats.SUPPORTED | set(formats.CONVERTIBLE)
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir()
                            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in known)
        else:
            files.append(path)
    return files


def _slug(city: str, year: int, digest: str) -> str:
    from pypinyin import lazy_pinyin

    name = "".join(lazy_pinyin(regions.short_name(city)))
    name = re.sub(r"[^a-z0-9]+", "", name.lower()) or "plan"
    return f"{name}-{year}-{digest[:6]}"


def add_plan(
    seeds_dir: Path,
    file: Path,
    *,
    city: str | None = None,
    year: int | None = None,
    title: str | None = None,
    kind: str | None = None,
    issuer: str | None = None,
    date: str | None = None,
    source_site: str | None = None,
) -> dict:
    """Validate, then write the text and manifest entry; returns the new manifest entry."""
    text = extract_text(file)
    if not normalize(text).strip():
        raise AddError(f"文件是空的：{file.name}", f"the file is empty: {file.name}")
    cleaned = clean(text)
    if sum(len(p) for p in cleaned.paragraphs) < 50:
        raise AddError(f"文件里没有可用的正文（清理后不足 50 字）：{file.name}",
                       f"no usable text in {file.name} (under 50 characters once cleaned)")
    found = detect(text)
    city = city or found.city
    year = year or found.year
    title = title or found.title
    missing = [name for name, value in (("--city", city), ("--year", year), ("--title", title)) if not value]
    if missing:
        raise AddError("无法从文本中识别 " + "、".join(missing) + "，请在命令行上指定",
                       "cannot find " + ", ".join(missing) + " in the text: give it on the command line")
    if regions.find_place(city) is None:
        raise AddError(f"未知地名「{city}」：请用行政区划名称，如 无锡市、江阴市",
                       f"unknown place '{city}': use an official name such as 无锡市 or 江阴市")

    entries = read_manifest(seeds_dir)
    body_key = hashlib.sha256(normalize("".join(cleaned.paragraphs)).encode()).hexdigest()
    for entry in entries:
        existing = seeds_dir / entry["file"]
        if existing.exists():
            other = clean(read_text(existing))
            other_key = hashlib.sha256(normalize("".join(other.paragraphs)).encode()).hexdigest()
            if other_key == body_key:
                raise AddError(f"重复：这份文件已在语料中（{entry['plan_id']}）",
                               f"duplicate: this text is already in the corpus ({entry['plan_id']})")
        if normalize(entry.get("title", "")) == normalize(title) and str(entry.get("city")) == city \
                and int(entry.get("year", 0)) == int(year):
            raise AddError(f"重复：{city} {year}「{title}」已在语料中（{entry['plan_id']}）",
                           f"duplicate: {city} {year} '{title}' is already in the corpus ({entry['plan_id']})")

    plan_id = _slug(city, int(year), body_key)
    place = regions.find_place(city)
    entry = {
        "plan_id": plan_id,
        "file": f"{plan_id}.txt",
        "city": city,
        "province": place.province,
        "parent_city": place.parent_city,
        "admin_level": place.level,
        "year": int(year),
        "kind": kind or (found.kind if title == found.title else kind_of(title)),
        "title": title,
        "issuer": issuer or found.issuer or "",
        "date": date or found.date or str(year),
        "source_site": source_site or "",
        "original_file": file.name,
        "added_by": "planbrief add",
    }
    plan = build_plan(entry, text)  # parse before writing anything
    if not plan.passages:
        raise AddError(f"解析后没有任何段落：{file.name}", f"no passages after parsing {file.name}")
    target = seeds_dir / entry["file"]
    tmp = target.with_suffix(".txt.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    try:
        write_manifest(seeds_dir, [*entries, entry])
    except OSError as exc:
        target.unlink(missing_ok=True)
        raise AddError(f"清单写入失败：{exc}") from exc
    return {**entry, "passages": len(plan.passages), "priorities": [p.as_dict() for p in plan.priorities]}

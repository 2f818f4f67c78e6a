"""`planbrief add`: bring a new plan (.txt, .html, .docx) into the seeds folder without risking the rest.

Metadata is read from the text where it states it (title line, 发布日期/成文日期, issuing body, the city in
the title); what cannot be found must be given on the command line, so a plan never enters the corpus
with a guessed city. The new file and manifest are written only after the plan parses, and the
manifest is replaced atomically, so a failed add leaves the corpus exactly as it was.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from bot.corpus import regions
from bot.corpus.clean import clean
from bot.corpus.loader import CorpusError, build_plan, manifest_lock, read_manifest, read_text, write_manifest
from bot.models import Plan
from bot.textnorm import normalize

SUPPORTED = {".txt", ".text", ".md", ".html", ".htm", ".docx"}
_TITLE_HINT = re.compile(r"(工作要点|工作计划|工作总结|总结和.{0,4}计划|工作会议|讲话|实施方案|重点工作|工作安排)")
_DATE = re.compile(r"(20\d{2}|19\d{2})\s*[年\-/.]\s*(\d{1,2})\s*[月\-/.]\s*(\d{1,2})\s*日?")
_YEAR = re.compile(r"(20\d{2})\s*年")
_ISSUER = re.compile(r"(?:发文单位|发布机构|发文机关|来源|信息来源)[:：\s]*([\u4e00-\u9fff、\s]{3,40}?)(?:\s{2,}|$|\s*(?:效力|发布|主题|时间))")


MIN_YEAR = 1980  # the oldest work plans bureaus still publish online are from the 1990s


def max_year() -> int:
    """Next year's plans appear late in the year, so next year is the latest a plan can be for."""
    return datetime.date.today().year + 1


def valid_year(year) -> bool:
    try:
        return MIN_YEAR <= int(year) <= max_year()
    except (TypeError, ValueError):
        return False


class AddError(Exception):
    """A clear, one-line reason an add was refused; nothing was written."""


@dataclass
class Detected:
    title: str | None
    city: str | None
    year: int | None
    issuer: str | None
    date: str | None


def extract_text(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise AddError(f"不支持的文件类型 {suffix or '(无扩展名)'}：请提供 .txt、.html 或 .docx")
    if not path.exists():
        raise AddError(f"文件不存在：{path}")
    try:
        if suffix == ".docx":
            return _docx_text(path)
        if suffix in (".html", ".htm"):
            return _html_text(path)
        return read_text(path)
    except AddError:
        raise
    except CorpusError as exc:
        raise AddError(str(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - any parser failure means "unreadable", said plainly
        raise AddError(f"文件无法读取（{type(exc).__name__}）：{path.name}") from exc


def _docx_text(path: Path) -> str:
    import docx  # python-docx; imported here so the bot's start-up never pays for it

    document = docx.Document(str(path))
    return "\n".join(p.text for p in document.paragraphs)


def _html_text(path: Path) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(read_text(path), "lxml")
    for tag in soup(["script", "style", "nav", "header", "footer", "noscript", "iframe"]):
        tag.decompose()
    title = soup.title.get_text(strip=True) if soup.title else ""
    body = soup.body or soup
    text = body.get_text("\n")
    return (title + "\n" + text) if title and title not in text else text


def detect(text: str) -> Detected:
    cleaned = clean(text)
    candidates = cleaned.front + cleaned.paragraphs[:1]
    title = None
    for line in reversed(cleaned.front):
        if _TITLE_HINT.search(line) and len(line) <= 60 and "。" not in line:
            title = re.sub(r"^(关于印发|印发)", "", line).strip()
            break
    if title is None:
        for line in text.splitlines()[:15]:
            line = line.strip()
            quoted = re.search(r"《([^》]{4,60}?)(?:\.docx?|\.pdf|\.txt)?》", line)
            if quoted and _TITLE_HINT.search(quoted.group(1)):
                title = re.sub(r"\s+", "", quoted.group(1))
                break
            if _TITLE_HINT.search(line) and len(line) <= 60 and "。" not in line:
                title = line
                break
    if title is None:
        title = next((ln for ln in cleaned.front if len(ln) <= 40 and not _DATE.search(ln)), None)
    head = "\n".join(candidates + ([title] if title else []))
    city = None
    for source in ([title] if title else []) + [head]:
        places = [p for p in regions.places_in_text(source) if p.level != regions.LEVEL_PROVINCE]
        places = places or _places_by_short_name(source)
        if places:
            city = places[0].name
            break
    year = None
    if title and (m := _YEAR.search(title)):
        year = int(m.group(1))
    date = None
    standalone = [ln for ln in cleaned.front if _DATE.fullmatch(ln.strip())]
    if m := (_DATE.search(standalone[-1]) if standalone else _DATE.search(head)):
        date = f"{int(m.group(1)):04d}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"
        year = year or int(m.group(1))
    if year is None and (m := _YEAR.search(head)):
        year = int(m.group(1))
    issuer = None
    if m := _ISSUER.search(head):
        issuer = re.sub(r"\s+", "、", m.group(1).strip())
    for label, value in zip(cleaned.front, cleaned.front[1:], strict=False):
        if issuer is None and label in ("发布机构", "发文机关", "发文单位", "来源"):
            issuer = value
    return Detected(title, city, year, issuer, date)


def _places_by_short_name(text: str) -> list[regions.Place]:
    """News copy says 无锡教育, not 无锡市: match short names of cities, then counties, longest first."""
    hits = [p for p in regions.all_places()
            if p.level != regions.LEVEL_PROVINCE and len(p.short) >= 2 and p.short in text]
    rank = {regions.LEVEL_CITY: 0, regions.LEVEL_COUNTY: 1}
    return sorted(hits, key=lambda p: (rank[p.level], -len(p.short), p.code))


def _slug(city: str, year: int, digest: str) -> str:
    from pypinyin import lazy_pinyin

    name = "".join(lazy_pinyin(regions.short_name(city)))
    name = re.sub(r"[^a-z0-9]+", "", name.lower()) or "plan"
    return f"{name}-{year}-{digest[:6]}"


@dataclass
class Draft:
    """A plan read and parsed but not yet in the corpus: what a preview shows and what publish writes.

    Splitting add into prepare and publish lets an editor see what the reader understood (and fix the
    place, year or title) before anything is written.
    """

    entry: dict
    text: str
    plan: Plan
    body_key: str
    warnings: list[str]  # codes: "no_priorities", "city_from_body"

    def summary(self) -> dict:
        """The `add --json` contract: the manifest entry plus what the parse found."""
        return {**self.entry, "passages": len(self.plan.passages),
                "priorities": [p.as_dict() for p in self.plan.priorities]}


def prepare_plan(
    file: Path,
    *,
    city: str | None = None,
    year: int | None = None,
    title: str | None = None,
    kind: str | None = None,
    issuer: str | None = None,
    date: str | None = None,
    source_site: str | None = None,
    original_name: str | None = None,
) -> Draft:
    """Read, detect metadata, validate and parse; writes nothing. Raises AddError with the reason."""
    text = extract_text(file)
    if not normalize(text).strip():
        raise AddError(f"文件是空的：{file.name}")
    cleaned = clean(text)
    if sum(len(p) for p in cleaned.paragraphs) < 50:
        raise AddError(f"文件里没有可用的正文（清理后不足 50 字）：{file.name}")
    found = detect(text)
    city_given = city is not None
    city = city or found.city
    year = year if year is not None else found.year
    title = title or found.title
    missing = [name for name, value in (("--city", city), ("--year", year), ("--title", title)) if value in (None, "")]
    if missing:
        raise AddError("无法从文本中识别 " + "、".join(missing) + "，请在命令行上指定")
    if regions.find_place(city) is None:
        raise AddError(f"未知地名「{city}」：请用行政区划名称，如 无锡市、江阴市")
    if not valid_year(year):
        raise AddError(f"年份不合理：{year}（应在 {MIN_YEAR}–{max_year()} 之间）")

    body_key = hashlib.sha256(normalize("".join(cleaned.paragraphs)).encode()).hexdigest()
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
        "kind": kind or _kind_of(title),
        "title": title,
        "issuer": issuer or found.issuer or "",
        "date": date or found.date or str(year),
        "source_site": source_site or "",
        "original_file": original_name or file.name,
        "added_by": "planbrief add",
    }
    plan = build_plan(entry, text)  # parse before writing anything
    if not plan.passages:
        raise AddError(f"解析后没有任何段落：{file.name}")
    warnings = [] if plan.priorities else ["no_priorities"]
    if not city_given and regions.short_name(city) not in title:
        warnings.append("city_from_body")
    return Draft(entry, text, plan, body_key, warnings)


def duplicate_of(seeds_dir: Path, draft: Draft) -> str | None:
    """The id of the plan this draft duplicates, if any (a preview's check; publish checks again)."""
    try:
        _refuse_duplicate(seeds_dir, read_manifest(seeds_dir), draft.body_key, draft.entry["city"],
                          draft.entry["year"], draft.entry["title"])
    except _Duplicate as dup:
        return dup.plan_id
    return None


def publish_plan(seeds_dir: Path, draft: Draft) -> dict:
    """Write the draft's text and manifest entry under the manifest lock; refuses duplicates."""
    try:
        with manifest_lock(seeds_dir):
            entries = read_manifest(seeds_dir)  # read under the lock: another process may just have added
            _refuse_duplicate(seeds_dir, entries, draft.body_key, draft.entry["city"], draft.entry["year"],
                              draft.entry["title"])
            _write_plan(seeds_dir, entries, draft.entry, draft.text)
    except CorpusError as exc:
        raise AddError(str(exc)) from exc
    return draft.summary()


def add_plan(seeds_dir: Path, file: Path, **metadata) -> dict:
    """Validate, then write the text and manifest entry; returns the new manifest entry (`add --json`)."""
    return publish_plan(seeds_dir, prepare_plan(file, **metadata))


class _Duplicate(AddError):
    def __init__(self, message: str, plan_id: str):
        super().__init__(message)
        self.plan_id = plan_id


def _refuse_duplicate(seeds_dir: Path, entries: list[dict], body_key: str, city: str, year: int,
                      title: str) -> None:
    for entry in entries:
        existing = seeds_dir / entry["file"]
        if existing.exists():
            other = clean(read_text(existing))
            other_key = hashlib.sha256(normalize("".join(other.paragraphs)).encode()).hexdigest()
            if other_key == body_key:
                raise _Duplicate(f"重复：这份文件已在语料中（{entry['plan_id']}）", entry["plan_id"])
        if normalize(entry.get("title", "")) == normalize(title) and str(entry.get("city")) == city \
                and int(entry.get("year", 0)) == year:
            raise _Duplicate(f"重复：{city} {year}「{title}」已在语料中（{entry['plan_id']}）", entry["plan_id"])


def _write_plan(seeds_dir: Path, entries: list[dict], entry: dict, text: str) -> None:
    """Text first, then the manifest that names it: a crash between them leaves an unlisted file, never
    a listed plan without its text."""
    target = seeds_dir / entry["file"]
    tmp = target.with_suffix(".txt.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
        write_manifest(seeds_dir, [*entries, entry])
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        target.unlink(missing_ok=True)
        raise AddError(f"写入失败：{seeds_dir}（{exc.strerror or exc}）") from exc


def _kind_of(title: str) -> str:
    if "讲话" in title or "会议" in title:
        return "工作会议讲话"
    if "总结" in title:
        return "半年总结与计划" if "计划" in title else "工作总结"
    return "工作要点"


class RemoveError(Exception):
    """A clear, one-line reason a removal was refused; nothing was changed."""

    def __init__(self, message: str, *, not_found: bool = False):
        super().__init__(message)
        self.not_found = not_found


def remove_plan(seeds_dir: Path, plan_id: str) -> dict:
    """Withdraw a plan as if it had never been added: its manifest entry and its text go.

    The manifest is rewritten first, so a crash in between leaves an unlisted text file (ignored by the
    corpus, swept by nothing but harmless) rather than a listed plan whose text is gone.
    """
    try:
        with manifest_lock(seeds_dir):
            entries = read_manifest(seeds_dir)
            found = [e for e in entries if e.get("plan_id") == plan_id]
            if not found:
                known = "、".join(str(e.get("plan_id")) for e in entries)
                raise RemoveError(f"没有这份规划：{plan_id}（现有：{known}）", not_found=True)
            try:
                write_manifest(seeds_dir, [e for e in entries if e.get("plan_id") != plan_id])
                (seeds_dir / found[0]["file"]).unlink(missing_ok=True)
            except OSError as exc:
                raise RemoveError(f"写入失败：{seeds_dir}（{exc.strerror or exc}）") from exc
    except CorpusError as exc:
        raise RemoveError(str(exc)) from exc
    return found[0]

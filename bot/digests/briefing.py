"""A briefing (简报) on one topic to take away: what the plans in scope say, as .docx or Markdown, and the
rows of an answer as .xlsx or .csv.

Readers pass answers on: a bureau's office writes a 简报 for its leaders in Word, a researcher wants the
rows in a spreadsheet. The content (build_brief) is the same whatever the format, and every excerpt
carries its full citation (place ·《plan》· section › item, the plan's date, the source), because a
document that leaves the bot can no longer be checked against it otherwise.

Presentation, but not Telegram's: the CLI writes the same files the bot sends, so this imports no
`telegram`. python-docx and openpyxl are imported when a file is made, not at start-up.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from bot.corpus.regions import Place
from bot.digests.themes import ThemeCount, ThemeMatrix, shared_themes, theme_counts, theme_matrix
from bot.models import Hit, Passage, Plan, PlanMeta

PER_PLACE = 3  # excerpts per place: enough to show how a place states the topic, short enough to read
MAX_PLACES = 30  # a province brief at scale keeps its 30 strongest places (the rest are counted)

WORDS = {
    "zh": {
        "title": "「{topic}」工作简报",
        "meta": "{day} · 范围：{scope} · {plans} 份规划",
        "summary_h": "概要",
        "summary": "在{scope}收录的规划中，{n} 份提及「{topic}」，分布在{places}。",
        "summary_none": "在{scope}收录的规划中，没有找到提及「{topic}」的内容。",
        "summary_themes": "这些规划的共同主题是{themes}。",
        "summary_more": "另有 {n} 地，未逐一列出。",
        "theme_item": "{theme}（{n} 份）",
        "places_h": "各地要点",
        "figure_h": "主题分布",
        "figure_caption": "图 1　{scope}规划的共同主题（格中数字为计划部分提及该主题的段落数）",
        "appendix_h": "附录：所用规划",
        "date": "发布日期",
        "source": "来源",
        "all": "全部地区",
        "sep": "、",
        "export_head": ("地区", "规划", "章节", "摘录", "链接"),
        "sheet": "导出",
        "day": "{d.year}年{d.month}月{d.day}日",
    },
    "en": {
        "title": "Briefing: {topic}",
        "meta": "{day} · Scope: {scope} · {plans} plans",
        "summary_h": "Summary",
        "summary": "Of the plans collected for {scope}, {n} mention “{topic}”, in {places}.",
        "summary_none": "None of the plans collected for {scope} mentions “{topic}”.",
        "summary_themes": "Themes these plans share: {themes}.",
        "summary_more": "{n} more places are not listed one by one.",
        "theme_item": "{theme} ({n} plans)",
        "places_h": "By place",
        "figure_h": "Themes",
        "figure_caption": "Figure 1. Themes shared by the plans of {scope} (cell: passages of the forward-looking part)",
        "appendix_h": "Appendix: plans used",
        "date": "date",
        "source": "source",
        "all": "all places",
        "sep": ", ",
        "export_head": ("place", "plan", "section", "excerpt", "link"),
        "sheet": "export",
        "day": "{d:%Y-%m-%d}",
    },
}


def _w(lang: str, key: str, **kw):
    value = WORDS.get(lang, WORDS["zh"])[key]
    return value.format(**kw) if isinstance(value, str) else value


# --------------------------------------------------------------------------------------- content


def plan_name(meta: PlanMeta) -> str:
    """`2023年工作要点`: the short title when the manifest has one, with the year when it lacks it."""
    name = meta.short_title or meta.title
    return name if str(meta.year) in name else f"{meta.year}年{name}"


def source_link(meta: PlanMeta) -> str | None:
    """The plan's web address when the manifest has one (many seeds name a site, not a page)."""
    site = (meta.source_site or "").strip()
    return site if site.startswith(("http://", "https://")) else None


@dataclass(frozen=True)
class Excerpt:
    """One cited excerpt: where it is from, precisely enough to find it in the plan."""

    place: str
    meta: PlanMeta
    passage: Passage
    text: str
    score: float = 0.0

    @property
    def section(self) -> str:
        return " › ".join(s for s in self.passage.section if s)

    def citation(self) -> str:
        """place ·《plan》· section › item (the city named when it differs from the place row)."""
        where = self.place if self.meta.city.startswith(self.place) else f"{self.place}（{self.meta.city}）"
        parts = [where, f"《{plan_name(self.meta)}》"]
        if self.section:
            parts.append(self.section)
        return " · ".join(parts)

    def as_dict(self) -> dict:
        return {"place": self.place, "plan_id": self.meta.plan_id, "plan": plan_name(self.meta),
                "year": self.meta.year, "date": self.meta.date, "section": list(self.passage.section),
                "passage_id": self.passage.id, "excerpt": self.text, "citation": self.citation(),
                "link": source_link(self.meta), "source": self.meta.source_site}


@dataclass
class PlaceBlock:
    place: str
    excerpts: list[Excerpt]


@dataclass
class Brief:
    """A briefing's content; `plans` are those stating the topic (the appendix), best place first."""

    topic: str
    scope: str  # "江苏" or "无锡、苏州"; "" for every place
    made: date
    places: list[PlaceBlock] = field(default_factory=list)
    plans: list[PlanMeta] = field(default_factory=list)
    themes: list[ThemeCount] = field(default_factory=list)
    matrix: ThemeMatrix | None = None
    plans_in_scope: int = 0
    hidden_places: int = 0
    corrected: str | None = None
    error: str | None = None  # "empty" (no topic) or "no_match"
    stating: list[Plan] = field(default_factory=list, repr=False)  # the plans, for the picture

    def summary(self, lang: str = "zh") -> str:
        scope = self.scope or _w(lang, "all")
        if not self.plans:
            return _w(lang, "summary_none", scope=scope, topic=self.topic)
        names = _w(lang, "sep").join(b.place for b in self.places)
        text = _w(lang, "summary", scope=scope, n=len(self.plans), topic=self.topic, places=names)
        if self.hidden_places:
            text += (" " if lang == "en" else "") + _w(lang, "summary_more", n=self.hidden_places)
        if self.themes and len(self.plans) > 1:
            items = [_w(lang, "theme_item", theme=t.theme, n=t.plans) for t in self.themes]
            text += (" " if lang == "en" else "") + _w(lang, "summary_themes", themes=_w(lang, "sep").join(items))
        return text

    def excerpts(self) -> list[Excerpt]:
        return [e for block in self.places for e in block.excerpts]

    def as_dict(self) -> dict:
        return {"topic": self.topic, "scope": self.scope, "date": self.made.isoformat(),
                "corrected": self.corrected, "error": self.error, "summary": self.summary(),
                "plans_in_scope": self.plans_in_scope, "hidden_places": self.hidden_places,
                "places": [{"place": b.place, "excerpts": [e.as_dict() for e in b.excerpts]} for b in self.places],
                "themes": [t.as_dict() for t in self.themes],
                "matrix": self.matrix.as_dict() if self.matrix else None,
                "plans": [m.as_dict() for m in self.plans]}


def scope_plans(corpus, places: Sequence[Place] | None) -> list[Plan]:
    """The plans of the named places (a province covers its cities and counties), or all plans."""
    if not places:
        return list(corpus.plans)
    from bot.digests.content import plans_in_scope

    seen: dict[str, Plan] = {}
    for place in places:
        for plan in plans_in_scope(corpus, place=place):
            seen.setdefault(plan.plan_id, plan)
    return list(seen.values())


def build_brief(engine, corpus, topic: str, places: Sequence[Place] | None = None, *,
                today: date | None = None, per_place: int = PER_PLACE) -> Brief:
    """Each plan in scope is judged on its own (as /compare does: SearchEngine.plan_bests, what a search of
    that plan answers), so every place that states the topic is found however far down a global ranking
    it sits; excerpts are grouped by the plan's own place, and only those a place shows are read."""
    from bot.search.places import plan_place

    brief = Brief(topic=(topic or "").strip(), scope="、".join(p.short for p in places or []),
                  made=today or date.today())
    plans = scope_plans(corpus, places)
    brief.plans_in_scope = len(plans)
    if not plans:
        brief.error = "no_match"
        return brief
    bests = engine.plan_bests(brief.topic, [p.plan_id for p in plans], k=2)
    if bests.result.error == "empty":
        brief.error = "empty"
        return brief
    brief.corrected = bests.result.corrected
    # each place's candidates as (score, plan, rank among the plan's hits), in plan order then rank
    by_place: dict[str, list[tuple[float, Plan, int]]] = {}
    stating: list[Plan] = []
    for plan in plans:
        scores = bests.scores(plan.plan_id)
        if not scores:
            continue
        stating.append(plan)
        own = plan_place(plan)
        label = own.short if own else plan.meta.city
        by_place.setdefault(label, []).extend((score, plan, rank) for rank, score in enumerate(scores))
    blocks = []
    for label, found in by_place.items():
        found.sort(key=lambda e: -e[0])
        kept, texts = [], set()
        for _, plan, rank in found:
            hit = bests.hit(plan.plan_id, rank)
            if hit.excerpt not in texts:  # a re-issued plan quoting itself is one excerpt, not two
                texts.add(hit.excerpt)
                kept.append(Excerpt(label, plan.meta, hit.passage, hit.excerpt, hit.score))
                if len(kept) >= per_place:
                    break
        blocks.append(PlaceBlock(label, kept[:per_place]))
    blocks.sort(key=lambda b: -b.excerpts[0].score)
    brief.hidden_places = max(0, len(blocks) - MAX_PLACES)
    brief.places = blocks[:MAX_PLACES]
    if not stating:
        brief.error = "no_match"
        return brief
    order = {b.place: i for i, b in enumerate(brief.places)}
    ranked = sorted(stating, key=lambda p: (order.get(_label(p), len(order)), -p.meta.year, p.plan_id))
    brief.plans = [p.meta for p in ranked]
    counts = {p.plan_id: theme_counts(p) for p in stating}  # read once for the line and the picture
    brief.themes = shared_themes(stating, counts=counts)
    brief.matrix = theme_matrix(stating, counts=counts)
    brief.stating = stating
    return brief


def _label(plan: Plan) -> str:
    from bot.search.places import plan_place

    own = plan_place(plan)
    return own.short if own else plan.meta.city


# -------------------------------------------------------------------------------------- documents


def _set_east_asian(style, name: str) -> None:
    """Word picks the CJK face from w:eastAsia; without it Chinese falls back to whatever the reader has."""
    from docx.oxml.ns import qn

    rpr = style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(fonts)
    fonts.set(qn("w:eastAsia"), name)


def _hyperlink(paragraph, url: str, text: str) -> None:
    """A clickable link (python-docx has no public API for one)."""
    from docx.opc.constants import RELATIONSHIP_TYPE
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    rel = paragraph.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), rel)
    run = OxmlElement("w:r")
    props = OxmlElement("w:rPr")
    for tag, attr in (("w:color", "0563C1"), ("w:u", "single")):
        el = OxmlElement(tag)
        el.set(qn("w:val"), attr)
        props.append(el)
    run.append(props)
    node = OxmlElement("w:t")
    node.text = text
    run.append(node)
    link.append(run)
    paragraph._p.append(link)


def _day(brief: Brief, lang: str) -> str:
    return _w(lang, "day", d=brief.made)


def _meta_line(brief: Brief, lang: str) -> str:
    return _w(lang, "meta", day=_day(brief, lang), scope=brief.scope or _w(lang, "all"), plans=len(brief.plans))


def _source_bits(excerpt: Excerpt, lang: str) -> list[str]:
    bits = [f"{_w(lang, 'date')} {excerpt.meta.date}"] if excerpt.meta.date else []
    if excerpt.meta.source_site and not source_link(excerpt.meta):
        bits.append(f"{_w(lang, 'source')}：{excerpt.meta.source_site}" if lang != "en"
                    else f"{_w(lang, 'source')}: {excerpt.meta.source_site}")
    return bits


def appendix_line(meta: PlanMeta) -> str:
    bits = [f"{meta.city} · {meta.title}", meta.issuer, meta.date, meta.plan_id]
    return " · ".join(b for b in bits if b)


def brief_docx(brief: Brief, picture: bytes | None = None, lang: str = "zh") -> bytes:
    """The briefing as a Word document laid out like an office 简报: title, date and scope, summary, per
    place its excerpts each followed by its citation, the themes figure, and the appendix of plans."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt, RGBColor

    doc = Document()
    _set_east_asian(doc.styles["Normal"], "宋体")
    doc.styles["Normal"].font.size = Pt(11)
    for name in ("Title", "Heading 1", "Heading 2"):
        _set_east_asian(doc.styles[name], "黑体")
    title = doc.add_heading(_w(lang, "title", topic=brief.topic), level=0)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    meta = doc.add_paragraph(_meta_line(brief, lang))
    meta.alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.add_heading(_w(lang, "summary_h"), level=1)
    doc.add_paragraph(brief.summary(lang))
    # python-docx's paragraph.style = … scans every style of the document each time (~4 ms): for a
    # province's appendix of hundreds of plans that was most of the time, so the id is set directly
    bullet, numbered = doc.styles["List Bullet"].style_id, doc.styles["List Number"].style_id

    def styled(text: str, style_id: str):
        paragraph = doc.add_paragraph(text)
        paragraph._p.style = style_id
        return paragraph

    if brief.places:
        doc.add_heading(_w(lang, "places_h"), level=1)
    for block in brief.places:
        doc.add_heading(block.place, level=2)
        for excerpt in block.excerpts:
            styled(excerpt.text, bullet)
            cite = doc.add_paragraph()
            cite.paragraph_format.left_indent = Cm(0.63)
            run = cite.add_run("—— " + " · ".join([excerpt.citation(), *_source_bits(excerpt, lang)]))
            run.italic = True
            run.font.size = Pt(9)
            run.font.color.rgb = RGBColor(0x55, 0x55, 0x55)
            if link := source_link(excerpt.meta):
                cite.add_run(" · ")
                _hyperlink(cite, link, link)
    if picture:
        doc.add_heading(_w(lang, "figure_h"), level=1)
        doc.add_picture(io.BytesIO(picture), width=Cm(15.5))
        doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
        caption = doc.add_paragraph(_w(lang, "figure_caption", scope=brief.scope or _w(lang, "all")))
        caption.alignment = WD_ALIGN_PARAGRAPH.CENTER
        caption.runs[0].font.size = Pt(9)
    if brief.plans:
        doc.add_heading(_w(lang, "appendix_h"), level=1)
        for meta_ in brief.plans:
            styled(appendix_line(meta_), numbered)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _md(text: str) -> str:
    """Markdown-safe text: the characters that would start emphasis, links or HTML are escaped."""
    for ch in "\\`*_[]<>#|":
        text = text.replace(ch, "\\" + ch)
    return " ".join(text.split())  # one line: a line break inside an excerpt would end its list item


def brief_markdown(brief: Brief, picture_name: str | None = None, lang: str = "zh") -> str:
    """The same briefing as Markdown, for pasting into other tools; the figure is linked by file name."""
    out = [f"# {_md(_w(lang, 'title', topic=brief.topic))}", "", _md(_meta_line(brief, lang)), "",
           f"## {_w(lang, 'summary_h')}", "", _md(brief.summary(lang)), ""]
    if brief.places:
        out += [f"## {_w(lang, 'places_h')}", ""]
    for block in brief.places:
        out += [f"### {_md(block.place)}", ""]
        for excerpt in block.excerpts:
            tail = [_md(b) for b in [excerpt.citation(), *_source_bits(excerpt, lang)]]
            if link := source_link(excerpt.meta):
                tail.append(f"<{link}>")
            out += [f"- {_md(excerpt.text)}", f"  *—— {' · '.join(tail)}*"]
        out.append("")
    if picture_name:
        caption = _w(lang, "figure_caption", scope=brief.scope or _w(lang, "all"))
        out += [f"## {_w(lang, 'figure_h')}", "", f"![{_md(caption)}]({picture_name})", ""]
    if brief.plans:
        out += [f"## {_w(lang, 'appendix_h')}", ""]
        out += [f"{n}. {_md(appendix_line(m))}" for n, m in enumerate(brief.plans, 1)]
        out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------- export


@dataclass(frozen=True)
class ExportRow:
    place: str
    plan: str
    section: str
    excerpt: str
    link: str

    def cells(self) -> tuple[str, str, str, str, str]:
        return (self.place, self.plan, self.section, self.excerpt, self.link)


def export_row(place: str, meta: PlanMeta, passage: Passage, excerpt: str) -> ExportRow:
    return ExportRow(place, f"{meta.city}《{plan_name(meta)}》", " › ".join(s for s in passage.section if s),
                     excerpt, source_link(meta) or meta.source_site or "")


def comparison_rows(comparison) -> list[ExportRow]:
    """A /compare answer (bot.digests.compare.Comparison) as export rows, in the answer's order."""
    return [export_row(r.place, r.meta, r.hit.passage, r.hit.excerpt) for r in comparison.places]


def hit_rows(hits: Iterable[Hit], plans: dict[str, PlanMeta]) -> list[ExportRow]:
    """A /topic answer's hits as export rows (`plans`: plan id → meta, as SearchResult carries)."""
    rows = []
    for hit in hits:
        meta = plans.get(hit.passage.plan_id)
        if meta is not None:
            rows.append(export_row(meta.city, meta, hit.passage, hit.excerpt))
    return rows


def _safe_cell(text: str) -> str:
    """A cell a spreadsheet will not run: text starting with = + - @ is a formula to Excel and WPS."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def rows_csv(rows: Sequence[ExportRow], lang: str = "zh") -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_w(lang, "export_head"))
    for row in rows:
        writer.writerow([_safe_cell(c) for c in row.cells()])
    return out.getvalue()


def rows_xlsx(rows: Sequence[ExportRow], lang: str = "zh") -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    sheet.title = _w(lang, "sheet")
    sheet.append(list(_w(lang, "export_head")))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(list(row.cells()))
        for cell in sheet[sheet.max_row]:
            cell.data_type = "s"  # text, never a formula, whatever the excerpt starts with
    for column, width in zip("ABCDE", (10, 30, 40, 80, 30), strict=True):
        sheet.column_dimensions[column].width = width
    for line in sheet.iter_rows(min_row=2, min_col=4, max_col=4):
        for cell in line:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

"""Pictures of the themes: a themes-by-places heatmap and a year-over-year two-column view, as PNG bytes.

Presentation that is not Telegram's: the CLI, the briefing document and the bot all use the same
bytes, so this module imports no `telegram`. Matplotlib is imported lazily, on the Agg backend, the
first time a picture is drawn, so start-up and the commands that never draw stay fast.

The CJK font is Noto Sans CJK SC shipped inside the `mplfonts` wheel (installed from the package index
with the project): system fonts differ between machines and many servers have none with Chinese, so
a label would come out as tofu boxes. The file is found without importing mplfonts (which would pull
in its command-line helpers) and is added to matplotlib's font manager by path.

Every picture is sized for a phone: 1080 px wide, at most 12 rows × 10 columns of cells, labels in
the reader's language (themes through the reviewed English glossary, places in pinyin).
"""

from __future__ import annotations

import importlib.util
import io
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from functools import lru_cache
from pathlib import Path

from bot.digests.themes import ThemeMatrix, YearShift

FONT_FILE = "NotoSansCJKsc-Regular.otf"
WIDTH_IN = 7.2
DPI = 150  # 7.2 in × 150 = 1080 px: a phone shows it full width without scaling text below ~9 pt
MAX_HEIGHT_IN = 9.6
CACHE_SIZE = 64

WORDS = {
    "zh": {
        "themes_title": "共同主题 · {scope}",
        "themes_own_title": "主要主题 · {scope}",
        "themes_sub": "{places} 地 · {plans} 份规划（只计计划部分）{ps}{pls}",
        "themes_note": "格中数字：该地计划部分提及该主题的段落数；列名后为提及的规划数",
        "hidden": "另有 {n} 地提及较少，未列出",
        "plans_unit": "{n}份",
        "shift_title": "{place}：{old} → {new}",
        "added": "新增",
        "dropped": "不再提及",
        "shift_note": "条长：该年规划计划部分提及的段落数",
        "none": "（无）",
        "all": "全部规划",
    },
    "en": {
        "themes_title": "Shared themes · {scope}",
        "themes_own_title": "Main themes · {scope}",
        "themes_sub": "{places} place{ps} · {plans} plan{pls} (forward-looking parts only)",
        "themes_note": "Cell: passages of the place's plans stating the theme; column: plans stating it",
        "hidden": "{n} more places state these themes less and are not shown",
        "plans_unit": "{n}",
        "shift_title": "{place}: {old} → {new}",
        "added": "Added",
        "dropped": "No longer mentioned",
        "shift_note": "Bar: passages of that year's plan stating the theme",
        "none": "(none)",
        "all": "all plans",
    },
}


def _w(lang: str, key: str, **kw) -> str:
    return WORDS.get(lang, WORDS["zh"])[key].format(**kw)


# ------------------------------------------------------------------------------------------ font


class FontMissing(RuntimeError):
    """The CJK font package is not installed: a picture would have tofu instead of Chinese."""


@lru_cache(maxsize=1)
def font_path() -> Path:
    spec = importlib.util.find_spec("mplfonts")
    if spec is None or not spec.submodule_search_locations:
        raise FontMissing("mplfonts is not installed (pip install mplfonts)")
    path = Path(next(iter(spec.submodule_search_locations))) / "fonts" / FONT_FILE
    if not path.is_file():
        raise FontMissing(f"{FONT_FILE} missing from mplfonts")
    return path


_setup_lock = threading.Lock()
_draw_lock = threading.Lock()  # pyplot's figure registry is not thread-safe; we use Figure directly, but
# the font manager and FT2Font caches are shared, so drawing is serialised (a picture takes ~100 ms)


@lru_cache(maxsize=1)
def _matplotlib():
    """(Figure class, FontProperties for the CJK font, FigureCanvasAgg): imported on first draw only."""
    with _setup_lock:
        import matplotlib

        matplotlib.use("Agg", force=True)
        from matplotlib import font_manager
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        path = font_path()
        font_manager.fontManager.addfont(str(path))
        prop = font_manager.FontProperties(fname=str(path))
        matplotlib.rcParams["font.family"] = [prop.get_name(), "DejaVu Sans"]
        matplotlib.rcParams["axes.unicode_minus"] = False
        return Figure, prop, FigureCanvasAgg


def _png(fig, canvas_cls) -> bytes:
    canvas_cls(fig)
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI, facecolor="white", pil_kwargs={"compress_level": 2})
    return out.getvalue()


def text_png(text: str, size: float = 28) -> bytes:
    """One label drawn alone, as the heatmap draws its labels: what the no-tofu test compares with the
    font's own rasterisation."""
    Figure, prop, canvas_cls = _matplotlib()
    with _draw_lock:
        fig = Figure(figsize=(max(1.0, 0.5 * len(text)), 0.8), dpi=DPI)
        fig.text(0.5, 0.5, text, fontproperties=prop, fontsize=size, ha="center", va="center")
        return _png(fig, canvas_cls)


# ---------------------------------------------------------------------------------------- labels


def theme_label(theme: str, lang: str) -> str:
    """The theme in the reader's language: the glossary's English where it has one, else the Chinese."""
    if lang != "en":
        return theme
    from bot.search.glossary import load_glossary

    entry = load_glossary().by_zh.get(theme)
    return entry.english if entry else theme


def place_label(label: str, lang: str) -> str:
    """`无锡 2023` → `Wuxi 2023` for English readers (pinyin; Chinese place names have no other English)."""
    if lang != "en":
        return label
    from bot.search.fuzzy import word_pinyin

    parts = []
    for word in label.split():
        parts.append(word if word.isascii() else word_pinyin(word).capitalize())
    return " ".join(parts)


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _wrap(text: str, width: int) -> str:
    """Break a long English label on spaces so a column header stays narrow."""
    if len(text) <= width or " " not in text:
        return text
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "\n".join(lines[:3])


# --------------------------------------------------------------------------------------- drawing


def heatmap_png(matrix: ThemeMatrix, lang: str = "zh", scope: str = "") -> bytes:
    """The themes-by-places heatmap of `matrix`; rows and columns are already ≤ 12 × 10."""
    Figure, prop, canvas_cls = _matplotlib()
    rows = [place_label(r.label, lang) for r in matrix.rows]
    cols = [f"{_short(theme_label(t.theme, lang), 22)} ({_w(lang, 'plans_unit', n=t.plans)})"
            for t in matrix.themes]
    data = [list(r) for r in matrix.cells] or [[0]]
    n_rows, n_cols = max(1, len(rows)), max(1, len(cols))
    header = 1.25 if lang != "en" else 1.75  # room for the slanted column labels, in inches
    height = min(MAX_HEIGHT_IN, 2.0 + header + 0.42 * n_rows)
    with _draw_lock:
        fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
        right = 0.86 if lang != "en" else 0.8
        ax = fig.add_axes((0.17, 0.65 / height, right - 0.17, 1 - (1.0 + header + 0.65) / height))
        peak = max((v for r in data for v in r), default=0) or 1
        ax.imshow(data, cmap="YlOrRd", vmin=0, vmax=peak, aspect="auto")
        ax.set_xticks(range(n_cols), cols if cols else [""], fontproperties=prop, fontsize=9,
                      rotation=50, ha="left", rotation_mode="anchor")
        ax.set_yticks(range(n_rows), rows if rows else [""], fontproperties=prop, fontsize=11)
        ax.xaxis.tick_top()
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_xticks([x - 0.5 for x in range(1, n_cols)], minor=True)
        ax.set_yticks([y - 0.5 for y in range(1, n_rows)], minor=True)
        ax.grid(which="minor", color="white", linewidth=2)
        ax.tick_params(which="minor", length=0)
        for y, row in enumerate(matrix.cells):
            for x, value in enumerate(row):
                if value:
                    ax.text(x, y, str(value), ha="center", va="center", fontsize=10, fontproperties=prop,
                            color="white" if value > peak * 0.6 else "#222222")
        places = len(matrix.rows) + matrix.hidden_rows
        title = "themes_title" if matrix.plans > 1 else "themes_own_title"
        fig.text(0.03, 1 - 0.3 / height, _w(lang, title, scope=place_label(scope, lang) if scope else _w(lang, "all")),
                 fontproperties=prop, fontsize=14, weight="bold", va="top")
        plural = {"ps": "" if places == 1 or lang != "en" else "s",
                  "pls": "" if matrix.plans == 1 or lang != "en" else "s"}
        fig.text(0.03, 1 - 0.62 / height, _w(lang, "themes_sub", places=places, plans=matrix.plans, **plural),
                 fontproperties=prop, fontsize=9.5, color="#555555", va="top")
        note = _w(lang, "themes_note")
        if matrix.hidden_rows:
            note += "\n" + _w(lang, "hidden", n=matrix.hidden_rows)
        fig.text(0.03, 0.015, note, fontproperties=prop, fontsize=8, color="#666666", va="bottom")
        return _png(fig, canvas_cls)


def year_shift_png(shift: YearShift, lang: str = "zh") -> bytes:
    """Two columns side by side: the themes the newer plan adds (left) and no longer mentions (right)."""
    Figure, prop, canvas_cls = _matplotlib()
    ch = shift.changes
    n = max(1, len(shift.added), len(shift.dropped))
    height = min(MAX_HEIGHT_IN, 1.9 + 0.4 * n)
    with _draw_lock:
        fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
        top = 1 - 1.15 / height
        panels = ((shift.added, "added", "#2e7d32", ch.newer.year), (shift.dropped, "dropped", "#9e9e9e",
                                                                      ch.older.year))
        peak = max([c for _, c in shift.added + shift.dropped] or [1]) or 1
        for i, (items, key, color, year) in enumerate(panels):
            ax = fig.add_axes((0.03 + 0.5 * i, 0.1, 0.44, top - 0.1))
            ax.set_xlim(0, peak * 1.9)
            ax.set_ylim(n - 0.5, -0.5)
            ax.axis("off")
            ax.set_title(f"{_w(lang, key)}（{year}）" if lang != "en" else f"{_w(lang, key)} ({year})",
                         fontproperties=prop, fontsize=12, color=color, loc="left")
            if not items:
                ax.text(0, 0, _w(lang, "none"), fontproperties=prop, fontsize=11, color="#777777", va="center")
            for y, (theme, count) in enumerate(items):
                ax.barh(y, count, color=color, alpha=0.85, height=0.6)
                ax.text(count + peak * 0.05, y, _wrap(theme_label(theme, lang), 22), fontproperties=prop,
                        fontsize=10.5 if lang != "en" else 9, va="center")
        title = _w(lang, "shift_title", place=place_label(ch.place, lang), old=ch.older.year, new=ch.newer.year)
        fig.text(0.03, 1 - 0.3 / height, title, fontproperties=prop, fontsize=14, weight="bold", va="top")
        fig.text(0.03, 0.02, _w(lang, "shift_note"), fontproperties=prop, fontsize=8, color="#666666")
        return _png(fig, canvas_cls)


# ----------------------------------------------------------------------------------------- cache


class PictureCache:
    """PNG bytes by (kind, corpus generation, scope, language): the same question asked again, by any
    chat, is answered without drawing; a corpus change (new fingerprint) makes new keys, so a stale
    picture is never served. Bounded, least recently used out."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable, make: Callable[[], bytes]) -> bytes:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
        value = make()
        with self._lock:
            self.misses += 1
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


CACHE = PictureCache()


def corpus_generation(corpus) -> str:
    return str(getattr(corpus, "fingerprint", id(corpus)))


def themes_picture(corpus, plans, lang: str = "zh", scope: str = "", matrix: ThemeMatrix | None = None) -> bytes | None:
    """The heatmap for `plans` of `corpus`, cached; None when the plans share no theme to draw.
    `matrix`: `theme_matrix(plans)` when the caller has it (a brief), so it is not counted again."""
    from bot.digests.themes import theme_matrix

    key = ("themes", corpus_generation(corpus), tuple(sorted(p.plan_id for p in plans)), lang, scope)
    matrix_box: list[ThemeMatrix] = []

    def make() -> bytes:
        matrix_box.append(matrix if matrix is not None else theme_matrix(plans))
        return b"" if matrix_box[0].empty else heatmap_png(matrix_box[0], lang, scope)

    png = CACHE.get(key, make)
    return png or None


def year_shift_picture(corpus, changes, lang: str = "zh") -> bytes:
    from bot.digests.themes import year_shift

    key = ("shift", corpus_generation(corpus), changes.older.plan_id, changes.newer.plan_id, lang)
    return CACHE.get(key, lambda: year_shift_png(year_shift(changes, corpus), lang))


def warm(corpus, stop=None) -> None:
    """Count every plan's themes (kept beside each stored plan, so only plans new to the store are
    read) and load matplotlib and the font: what the first picture of a process would otherwise pay
    (~1 s for the import, ~1 ms a plan). Errors are left for the real request to meet and report.
    `stop` (a threading.Event) ends it between steps: a process shutting down waits for this thread,
    because a thread still inside matplotlib's C++ when the interpreter finalizes aborts the process."""
    import logging

    from bot.digests.themes import theme_counts

    try:
        for plan in list(corpus.plans):
            if stop is not None and stop.is_set():
                return
            theme_counts(plan)
        if stop is None or not stop.is_set():
            text_png("预热")
    except Exception:  # noqa: BLE001 - a warm-up must never take the process down
        logging.getLogger(__name__).warning("picture warm-up failed", exc_info=True)

"""The files people have, read into one plain text: any common encoding, web pages, Word, PDF.

Each reader hands the cleaner text shaped like a saved page (headline, date line, paragraphs), so a
plan reads the same whether it came as a portal page, a GBK .txt, a UTF-16 export, a .docx or a PDF.
Web pages go through trafilatura, a maintained main-content extractor; bench.extractor_compare measures
it against readability-lxml with the development set served as portal pages: once layout tables are
unwrapped (below) the two leave the same text for the reader, and trafilatura stays for its upkeep and
its page metadata. The project's own rules then take what either leaves behind. Libraries are imported inside the readers, so the bot's start-up never pays for them.
"""

from __future__ import annotations

import re
import threading
import zlib
from collections import Counter
from pathlib import Path

from bot.corpus.clean import TERMINAL
from bot.corpus.metadata import is_title_line, labelled_date

SUPPORTED = {".txt", ".text", ".md", ".html", ".htm", ".docx", ".pdf"}
# Formats we recognise but cannot read: the message says how to convert them.
CONVERTIBLE = {".doc": "Word 97-2003", ".wps": "WPS", ".wpt": "WPS", ".rtf": "RTF"}


class FormatError(Exception):
    """A file this reader cannot take, said in one line in Chinese and in English."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(zh)
        self.zh = zh
        self.en = en


def extract_text(path: Path, limits=None) -> str:
    """The file's text; `limits` (bot.corpus.limits.Limits) bounds what a PDF's streams may inflate to."""
    suffix = path.suffix.lower()
    if suffix in CONVERTIBLE:
        name = CONVERTIBLE[suffix]
        raise FormatError(
            f"不能直接读取 {name} 文件 {path.name}：请在 WPS 或 Word 中“另存为” .docx 或 .pdf 后再添加",
            f"cannot read the {name} file {path.name}: open it in WPS or Word, 'Save As' .docx or .pdf, "
            "then add that file",
        )
    if suffix not in SUPPORTED:
        raise FormatError(
            f"不支持的文件类型 {suffix or '(无扩展名)'}：请提供 .txt、.html、.docx 或 .pdf",
            f"unsupported file type {suffix or '(no extension)'}: give a .txt, .html, .docx or .pdf file",
        )
    if not path.exists():
        raise FormatError(f"文件不存在：{path}", f"no such file: {path}")
    if suffix == ".docx":
        return docx_text(path)
    if suffix == ".pdf":
        return pdf_text(path, limits)
    data = path.read_bytes()
    if suffix in (".html", ".htm"):
        return html_text(decode(data, path.name, declared=_declared_charset(data)))
    return decode(data, path.name)


# --------------------------------------------------------------------------------------------- encodings

_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def _declared_charset(data: bytes) -> str | None:
    """The charset a page declares in its <meta> (many county portals still serve GBK)."""
    m = re.search(rb"charset\s*=\s*[\"']?([A-Za-z0-9_-]{3,20})", data[:4096])
    return m.group(1).decode("ascii").lower() if m else None


def decode(data: bytes, name: str = "", declared: str | None = None) -> str:
    """BOM first (UTF-8, UTF-16), then the page's declared charset, then strict UTF-8, then
    charset-normalizer's best guess, then GB18030 (a superset of GBK that decodes almost anything
    Chinese portals serve)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding)
    if declared:
        declared = "gb18030" if declared in ("gbk", "gb2312", "x-gbk") else declared
        try:
            return data.decode(declared)
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is not None and best.encoding:
        encoding = "gb18030" if best.encoding.lower() in ("gbk", "gb2312", "hz") else best.encoding
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise FormatError(f"无法识别文件编码：{name}", f"cannot tell the text encoding of {name}") from exc


# --------------------------------------------------------------------------------------------- web pages

_TITLE_SPLIT = re.compile(r"\s*[_|｜—–-]{1,2}\s*")


def trafilatura_body(html: str) -> tuple[str, str | None]:
    """The main content as text (paragraphs a line each) and the page's title metadata."""
    import trafilatura

    doc = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False, include_tables=True,
                                      favor_recall=True)
    return ((doc.text or "") if doc is not None else ""), (doc.title if doc is not None else None)


# Above this a page skips trafilatura (whose effort grows much faster than the page: a 19 MB one-line
# page took over two minutes) and is read by the plain extractor. Saved plan pages are under 1 MB.
RICH_HTML_CHARS = 3_000_000


def html_text(html: str, body_of=trafilatura_body) -> str:
    """The page's main content (trafilatura unless `body_of` says otherwise), under the page's own
    headline and 发布时间 line.

    The headline is the first h1–h3 that reads as one (a site logo does not), else the part of
    <title> that does; the date is the page's own labelled date line. Neither is guessed.
    """
    import lxml.html

    if len(html) > RICH_HTML_CHARS:
        return _huge_page_text(html)
    try:
        page = lxml.html.fromstring(html)
    except Exception:  # noqa: BLE001 - an unparsable page still goes through the plain fallback
        page = None
    if page is not None and _unwrap_layout_tables(page):
        html = lxml.html.tostring(page, encoding="unicode")
    body, meta_title = body_of(html)
    if len(body.strip()) < 50:
        body = _plain_text(html)
    lines = []
    headline = _headline(page, meta_title)
    if headline and headline not in body[:200]:
        lines.append(headline)
    if page is not None and (date := labelled_date(page.text_content())) and date not in body[:300]:
        lines.append(f"发布时间：{date}")
    return "\n".join([*lines, body])


_BLOCKS = ("p", "div", "table", "ul", "ol", "h1", "h2", "h3", "h4")


def _unwrap_layout_tables(page) -> bool:
    """Older portals lay the whole page out in a table, article and sidebar in neighbouring cells;
    an extractor then reads the article as one table row. A table whose cells hold paragraphs or
    other tables is layout, so it becomes plain blocks; a data table (cells of text) stays a table."""
    changed = False
    for table in list(page.iter("table")):
        cells = table.xpath(".//td|.//th")
        if any(cell.find(".//" + tag) is not None for cell in cells for tag in _BLOCKS):
            for element in [table, *table.xpath(".//tbody|.//thead|.//tr|.//td|.//th")]:
                element.tag = "div"
            changed = True
    return changed


def _headline(page, meta_title: str | None) -> str | None:
    if page is not None:
        for element in page.iter("h1", "h2", "h3"):
            text = " ".join(element.text_content().split())
            if is_title_line(text):
                return text
    if meta_title:
        for part in _TITLE_SPLIT.split(meta_title):
            if is_title_line(part):
                return part.strip()
    return None


def _huge_page_text(html: str) -> str:
    """A page too big for the main-content extractor: its text, with scripts and styles gone, by
    lxml alone (one pass, linear in the page)."""
    import lxml.html

    try:
        page = lxml.html.fromstring(html)
    except Exception:  # noqa: BLE001 - not HTML at all: the text as it is
        return html
    for element in page.iter("script", "style", "noscript", "template"):
        element.text = None
    return page.text_content()


def _plain_text(html: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    for tag in soup(["script", "style", "nav", "header", "footer", "noscript", "iframe"]):
        tag.decompose()
    return (soup.body or soup).get_text("\n")


# --------------------------------------------------------------------------------------------- Word, PDF


def docx_text(path: Path) -> str:
    import docx

    document = docx.Document(str(path))
    return "\n".join(p.text for p in document.paragraphs)


# Page numbers as printed: — 3 —, - 3 -, 第3页 共10页, ·3·, 3/10, a bare 3.
_PAGE_NUMBER = re.compile(
    r"^\s*([—\-–－]\s*\d{1,4}\s*[—\-–－]|第\s*\d{1,4}\s*页\s*(共\s*\d{1,4}\s*页)?|[·•]\s*\d{1,4}\s*[·•]"
    r"|\d{1,4}\s*/\s*\d{1,4}|\d{1,4})\s*$"
)
_MARKER = re.compile(r"^([一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[)）]|\d{1,2}\s*[.．、]|第[一二三四五六七八九十]+[，,、]|[①-⑳])")


class StreamTooLarge(FormatError):
    """A PDF stream that inflates past the bound (a 1 MB file can hold a 1 GiB stream)."""


class _BoundedZlib:
    """What pdfminer sees as `zlib`: the same calls, but a stream stops inflating at `limit` bytes and
    all streams of one file together at `4 * limit`, as .docx members are bounded."""

    error = zlib.error

    def __init__(self, limit: int, name: str) -> None:
        self.limit = limit
        self.name = name
        self.total = 0

    def _count(self, size: int) -> None:
        self.total += size
        if size > self.limit or self.total > 4 * self.limit:
            mb = self.limit / 2**20
            raise StreamTooLarge(f"PDF 中的数据流解压后过大（单个上限 {mb:.0f} MB）：{self.name}，可能是压缩炸弹",
                                 f"a stream in the PDF {self.name} inflates past {mb:.0f} MB: possibly a "
                                 "decompression bomb")

    def decompress(self, data: bytes, *args) -> bytes:
        inflater = zlib.decompressobj()
        out = inflater.decompress(data, self.limit + 1)
        self._count(len(out))
        if not inflater.eof:
            raise zlib.error("incomplete or truncated stream")
        return out

    def decompressobj(self, *args):
        return _BoundedInflater(self, zlib.decompressobj(*args))


class _BoundedInflater:
    def __init__(self, owner: _BoundedZlib, inflater) -> None:
        self.owner = owner
        self.inflater = inflater

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        out = self.inflater.decompress(data, max_length or self.owner.limit + 1)
        self.owner._count(len(out))
        return out

    def __getattr__(self, name):
        return getattr(self.inflater, name)


_pdf_lock = threading.Lock()  # the bound is set on pdfminer's module: one PDF at a time per process


def pdf_text(path: Path, limits=None) -> str:
    """The text layer, page by page, without page numbers or running headers and footers, and with
    the lines of each paragraph joined back (a PDF breaks every line at the page width)."""
    import pdfminer.pdftypes

    from bot.corpus.limits import Limits

    limits = limits or Limits.from_env()
    with _pdf_lock:
        pdfminer.pdftypes.zlib = _BoundedZlib(limits.max_member_bytes, path.name)
        try:
            pages = _pdf_pages(path)
        finally:
            pdfminer.pdftypes.zlib = zlib
    if not any(pages):
        raise FormatError(f"PDF 没有文字层（可能是扫描件）：{path.name}，请先做文字识别（OCR）",
                          f"the PDF {path.name} has no text layer (a scan?): run OCR on it first")
    running = _running_lines([[text for text, _ in lines] for lines in pages])
    kept = [(text, indented) for lines in pages for text, indented in lines
            if not _PAGE_NUMBER.match(text) and _shape(text) not in running]
    return "\n".join(_reflow(kept))


def _pdf_pages(path: Path) -> list[list[tuple[str, bool]]]:
    import pdfplumber

    try:
        pdf = pdfplumber.open(str(path))
    except Exception as exc:  # noqa: BLE001 - see below
        raise _unreadable_pdf(path, exc) from exc
    try:
        return [_page_lines(page) for page in pdf.pages]
    except FormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged or encrypted PDF is "unreadable", said plainly
        raise _bound_hit(exc) or _unreadable_pdf(path, exc) from exc
    finally:
        # Not pdf.close(): it walks every page again, so a PDF that stopped the walk (a deadline in a
        # reference cycle) would start it over. The file handle is all there is to release.
        pdf.stream.close()


def _bound_hit(exc: BaseException | None) -> StreamTooLarge | None:
    """The stream bound's own error, however pdfplumber wrapped it (as an argument or a cause)."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, StreamTooLarge):
            return exc
        inner = next((a for a in exc.args if isinstance(a, BaseException)), None)
        exc = inner or exc.__cause__ or exc.__context__
        seen += 1
    return None


def _unreadable_pdf(path: Path, exc: Exception) -> FormatError:
    return FormatError(f"PDF 无法读取：文件损坏、加密或格式不支持（{type(exc).__name__}）：{path.name}",
                       f"cannot read the PDF {path.name}: damaged, encrypted or unsupported "
                       f"({type(exc).__name__})")


def _page_lines(page) -> list[tuple[str, bool]]:
    """Each text line with whether it is indented (a paragraph's first line is, by two characters)."""
    lines = [ln for ln in page.extract_text_lines(return_chars=False) if ln["text"].strip()]
    if not lines:
        return []
    margin = min(ln["x0"] for ln in lines)
    out = []
    for ln in lines:
        text = ln["text"].strip()
        char = (ln["x1"] - ln["x0"]) / max(len(text), 1)
        out.append((text, ln["x0"] - margin > 1.5 * char))
    return out


def _shape(line: str) -> str:
    return re.sub(r"\d+", "#", line.replace(" ", ""))


def _running_lines(pages: list[list[str]]) -> set[str]:
    """Lines that open or close most pages (a running header or footer), digits ignored."""
    if len(pages) < 2:
        return set()
    edges = Counter()
    for lines in pages:
        edges.update({_shape(ln) for ln in lines[:2] + lines[-2:]})
    return {shape for shape, n in edges.items() if n >= max(2, len(pages) // 2 + 1)}


def _reflow(lines: list[tuple[str, bool]]) -> list[str]:
    """Join a line to the next when it runs to the page width without ending a sentence and the next
    neither is indented nor opens a numbered item: that break is the layout's, not the author's."""
    if not lines:
        return []
    width = max(len(text) for text, _ in lines)
    out: list[str] = []
    for text, indented in lines:
        if out:
            prev = out[-1]
            full = len(prev) >= 0.8 * width
            ends = prev[-1] in TERMINAL or prev[-1] in "：:"
            if full and not ends and not indented and not _MARKER.match(text):
                out[-1] = prev + text
                continue
        out.append(text)
    return out

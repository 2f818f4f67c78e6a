"""One plan, many files: PDF, GBK, UTF-16, a portal page and .docx must read as the same plan.

The files are built here from one made-up text (reportlab writes the PDF with running header, footer
and page numbers; python-docx the Word file; the page carries a portal's navigation, buttons, sidebar
and footer), so each reader is checked against the plain text, not against itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.cli import main
from bot.corpus.formats import decode, extract_text
from bot.corpus.loader import build_plan
from bot.corpus.metadata import detect
from tests.support.folders import folder_bytes as snapshot

SEEDS = Path(__file__).resolve().parent.parent / "seeds"

TITLE = "扬州市教育局2024年工作要点"
DATE_LINE = "发布日期：2024-03-01"
BODY = [
    "2024年，全市教育系统坚持以人民为中心发展教育，聚焦质量与公平两条主线，加快建设高质量教育体系，"
    "努力办好人民满意的教育，为全市高质量发展提供坚实的人才支撑和智力保障。",
    "一、坚持立德树人",
    "1. 深化思政课改革创新。推进大中小学思政课一体化建设，打造一批思政课示范课堂，新建思政课名师工作室十个，"
    "组织开展思政课教学展示活动，推动思政小课堂与社会大课堂相结合。",
    "2. 推进家校协同育人。办好家长学校，建设家庭教育指导中心，开展家庭教育公益讲座一百场，"
    "让学校、家庭和社会形成育人合力。",
    "二、促进教育公平",
    "3. 扩大优质学位供给。新建改扩建中小学幼儿园二十所，新增学位一万五千个，缓解城区入学压力。",
    "4. 办好特殊教育。完善融合教育支持体系，扩大送教上门覆盖面，保障残疾儿童少年接受适合的教育。",
    "三、建强教师队伍",
    "5. 提升教师专业能力。实施名师培养工程，组织全员培训，推进城乡教师交流轮岗，激发队伍活力。",
]
TEXT = "\n".join([TITLE, DATE_LINE, *BODY]) + "\n"


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def reading(text: str) -> tuple:
    found = detect(text)
    entry = {"plan_id": "p", "file": "p.txt", "city": found.city, "year": found.year, "kind": found.kind,
             "title": found.title}
    plan = build_plan(entry, text)
    return ((found.title, found.city, found.year, found.date, found.kind),
            [p.as_dict() for p in plan.priorities], [squash(p.text) for p in plan.passages])


def write_html(path: Path) -> None:
    paragraphs = "".join(f"<p>{line}</p>" for line in BODY)
    path.write_text(
        "<html><head><meta charset='utf-8'><title>扬州市教育局2024年工作要点_扬州教育网</title>"
        "<script>var tracker = 1;</script><style>.nav{color:red}</style></head><body>"
        "<div class='top'><a href='/'>扬州教育网</a> <a>繁体版</a> <a>无障碍浏览</a></div>"
        "<div class='nav'><a>首页</a><a>教育新闻</a><a>政务公开</a><a>办事服务</a></div>"
        "<div class='crumb'>当前位置：首页 &gt; 政务公开 &gt; 规划计划</div>"
        f"<div class='article'><h1>{TITLE}</h1>"
        "<div class='info'>发布时间：2024-03-01 来源：市教育局 浏览次数：1024 字号：大 中 小</div>"
        f"<div class='content'>{paragraphs}</div>"
        "<div class='tools'>【打印本页】【关闭窗口】【返回顶部】</div>"
        "<div class='share'>分享到：微信 微博 QQ空间</div></div>"
        "<div class='side'><h3>相关新闻</h3><ul><li><a>市教育局召开安全工作会议</a></li>"
        "<li><a>全市中小学开学工作有序推进</a></li></ul></div>"
        "<div class='footer'><p>版权所有：扬州市教育局 苏ICP备12345678号-1 苏公网安备 32100202000000号</p>"
        "<p>网站地图 | 联系我们 | 建议使用1024×768分辨率浏览</p></div></body></html>",
        encoding="utf-8",
    )


def write_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    for line in TEXT.splitlines():
        document.add_paragraph(line)
    document.save(str(path))


def write_pdf(path: Path) -> None:
    """A4 pages, 28 characters a line, a running header and a "— N —" footer on every page."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(path))
    lines = [(TITLE, 0), (DATE_LINE, 0)]
    for paragraph in BODY:  # first lines indented two characters, as official documents print them
        lines += [(paragraph[i:i + 28], 22 if i == 0 and not paragraph[0].isdigit() else 0)
                  for i in range(0, len(paragraph), 28)]
    per_page = 12
    for page, start in enumerate(range(0, len(lines), per_page), 1):
        pdf.setFont("STSong-Light", 11)
        pdf.drawString(72, 800, "扬州市教育局文件")
        y = 760
        for line, indent in lines[start:start + per_page]:
            pdf.drawString(72 + indent, y, line)
            y -= 22
        pdf.drawString(280, 40, f"— {page} —")
        pdf.showPage()
    pdf.save()


@pytest.fixture(scope="module")
def expected():
    return reading(TEXT)


def test_plain_text_reads_as_expected(expected):
    meta, priorities, passages = expected
    assert meta == (TITLE, "扬州市", 2024, "2024-03-01", "工作要点")
    assert [p["title"] for p in priorities] == ["一、坚持立德树人", "二、促进教育公平", "三、建强教师队伍"]
    assert len(passages) >= 6


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("gbk.txt", lambda t: t.encode("gbk")),
        ("gb18030.txt", lambda t: t.encode("gb18030")),
        ("utf16.txt", lambda t: t.encode("utf-16")),
        ("utf16be.txt", lambda t: b"\xfe\xff" + t.encode("utf-16-be")),
        ("bom.txt", lambda t: t.encode("utf-8-sig")),
    ],
)
def test_encodings_give_the_same_plan(tmp_path, expected, name, encoded):
    path = tmp_path / name
    path.write_bytes(encoded(TEXT))
    assert reading(extract_text(path)) == expected


@pytest.mark.parametrize(("name", "writer"), [("plan.html", write_html), ("plan.docx", write_docx),
                                               ("plan.pdf", write_pdf)])
def test_page_word_and_pdf_give_the_same_plan(tmp_path, expected, name, writer):
    path = tmp_path / name
    writer(path)
    text = extract_text(path)
    for furniture in ("扬州教育网", "打印", "分享到", "相关新闻", "版权所有", "ICP", "分辨率", "— 1 —", "扬州市教育局文件",
                      "tracker"):
        assert furniture not in "".join(reading(text)[2]), (name, furniture)
    assert reading(text) == expected


def test_reflow_keeps_an_indented_line_as_a_new_paragraph():
    from bot.corpus.formats import _reflow

    lines = [("第一段写满了整整一行而没有句号结束这里", False), ("接着写完。", False),
             ("第二段也写满了整整一行而没有句号结束这", False), ("新的一段首行缩进两个字开始。", True)]
    assert _reflow(lines) == ["第一段写满了整整一行而没有句号结束这里接着写完。", "第二段也写满了整整一行而没有句号结束这",
                              "新的一段首行缩进两个字开始。"]


def test_pdf_has_several_pages_with_running_lines(tmp_path):
    import pdfplumber

    path = tmp_path / "plan.pdf"
    write_pdf(path)
    with pdfplumber.open(str(path)) as pdf:
        assert len(pdf.pages) >= 2
        assert all("扬州市教育局文件" in (page.extract_text() or "") for page in pdf.pages)


def test_decode_prefers_marks_then_utf8_then_a_detector():
    assert decode(b"\xff\xfe" + "教育".encode("utf-16-le")) == "教育"
    assert decode("双减政策".encode()) == "双减政策"
    assert decode("全市教育系统坚持以人民为中心发展教育。".encode("gbk")) == "全市教育系统坚持以人民为中心发展教育。"


# --------------------------------------------------------------------------------------------- failures


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def scanned_pdf(path: Path) -> None:
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path))
    pdf.rect(72, 72, 300, 500, fill=1)
    pdf.showPage()
    pdf.save()


@pytest.mark.parametrize(
    ("name", "make", "zh", "en"),
    [
        ("old.doc", lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0fake"), "另存为", "Save As"),
        ("plan.wps", lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0fake"), "另存为", "Save As"),
        ("scan.pdf", scanned_pdf, "文字层", "no text layer"),
        ("broken.pdf", lambda p: p.write_bytes(b"%PDF-1.7 truncated"), "无法读取", "cannot read"),
        ("page.html", lambda p: p.write_text("<html><body><div>首页</div></body></html>"), "正文", "no usable text"),
    ],
)
def test_failed_add_is_one_line_in_the_users_language_and_touches_nothing(
        seeds, tmp_path, capsys, monkeypatch, name, make, zh, en):
    path = tmp_path / name
    make(path)
    before = snapshot(seeds)
    code, _, err = run(capsys, "--seeds", str(seeds), "add", str(path))
    assert code != 0 and zh in err and err.count("\n") == 1 and "Traceback" not in err
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    code, _, err = run(capsys, "--seeds", str(seeds), "add", str(path))
    assert code != 0 and en in err and err.count("\n") == 1
    assert snapshot(seeds) == before


def test_add_takes_a_pdf_into_the_corpus(seeds, tmp_path, capsys):
    import json

    path = tmp_path / "plan.pdf"
    write_pdf(path)
    code, out, err = run(capsys, "--seeds", str(seeds), "add", str(path), "--json")
    assert code == 0, err
    entry = json.loads(out)
    assert entry["city"] == "扬州市" and entry["title"] == TITLE and entry["date"] == "2024-03-01"
    assert [p["title"] for p in entry["priorities"]] == ["一、坚持立德树人", "二、促进教育公平", "三、建强教师队伍"]


# --------------------------------------------------------------------------------------------- batch


def batch_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    write_pdf(folder / "a-yangzhou.pdf")
    write_docx_of(folder / "b-taizhou.docx", TEXT.replace("扬州", "泰州").replace("二十所", "十八所"))
    (folder / "c-old.doc").write_bytes(b"\xd0\xcf\x11\xe0fake")
    (folder / "d-empty.txt").write_bytes(b"")
    (folder / "e-again.txt").write_text(TEXT, encoding="utf-8")  # the PDF's text again: a duplicate
    (folder / ".hidden.txt").write_text(TEXT, encoding="utf-8")
    (folder / "notes.json").write_text("{}", encoding="utf-8")
    return folder


def write_docx_of(path: Path, text: str) -> None:
    import docx

    document = docx.Document()
    for line in text.splitlines():
        document.add_paragraph(line)
    document.save(str(path))


def test_batch_adds_the_good_files_and_reports_the_bad(seeds, tmp_path, capsys):
    import json

    folder = batch_folder(tmp_path)
    before = json.loads((seeds / "manifest.json").read_text(encoding="utf-8"))["plans"]
    code, out, err = run(capsys, "--seeds", str(seeds), "add", str(folder), "--json")
    assert code == 1 and "Traceback" not in err and "5/5" in err  # the progress bar, on stderr
    result = json.loads(out)
    assert [Path(e["file_added"]).name for e in result["added"]] == ["a-yangzhou.pdf", "b-taizhou.docx"]
    reasons = {Path(r["file"]).name: r["reason"] for r in result["refused"]}
    assert set(reasons) == {"c-old.doc", "d-empty.txt", "e-again.txt"}
    assert "另存为" in reasons["c-old.doc"] and "空" in reasons["d-empty.txt"] and "重复" in reasons["e-again.txt"]
    after = json.loads((seeds / "manifest.json").read_text(encoding="utf-8"))["plans"]
    assert after[: len(before)] == before and len(after) == len(before) + 2
    assert not list(seeds.glob("*.tmp"))


def test_batch_table_and_a_batch_of_only_bad_files_touches_nothing(seeds, tmp_path, capsys):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "x.wps").write_bytes(b"fake")
    (folder / "y.txt").write_bytes(b"")
    before = snapshot(seeds)
    code, out, err = run(capsys, "--seeds", str(seeds), "add", str(folder / "x.wps"), str(folder / "y.txt"))
    assert code == 1 and "Traceback" not in err
    lines = out.strip().splitlines()
    assert lines[0].split()[:2] == ["文件", "结果"] and "未加入" in lines[1] and "加入 0，未加入 2" in lines[-1]
    assert snapshot(seeds) == before


def test_a_gbk_portal_page_declaring_its_charset(tmp_path, expected):
    path = tmp_path / "gbk.html"
    write_html(path)
    page = path.read_text(encoding="utf-8").replace("<meta charset='utf-8'>", "<meta http-equiv='Content-Type' "
                                                   "content='text/html; charset=gb2312'>")
    path.write_bytes(page.encode("gbk"))
    assert reading(extract_text(path)) == expected

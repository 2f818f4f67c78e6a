"""The themes pictures, the briefing document and the export files, checked without golden images.

A picture is checked for what a reader needs: it decodes, it is phone-sized, and its Chinese labels are
real glyphs (drawn alone, a label matches the font's own rasterisation and not the tofu box). Its numbers
are checked against the digest's shared-themes line for the same scope, through the CLI's --json.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from bot.cli import main
from bot.digests import briefing, figures
from bot.digests.compare import compare
from bot.digests.content import plans_in_scope
from bot.digests.themes import changes_for_place, shared_themes, theme_matrix
from bot.search.places import resolve_place


def cli_json(capsys, *argv) -> dict:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    assert image.format == "PNG"
    return image


def ink(image: Image.Image, size=(96, 24)) -> np.ndarray:
    """The dark pixels of a rendering, cropped to their bounding box and scaled to `size`."""
    grey = np.asarray(image.convert("L"), dtype=float)
    mask = grey < 128
    rows, cols = np.where(mask)
    assert rows.size, "nothing was drawn"
    crop = Image.fromarray((mask[rows.min():rows.max() + 1, cols.min():cols.max() + 1] * 255).astype("uint8"))
    return np.asarray(crop.resize(size, Image.BILINEAR), dtype=float) / 255


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) or 1))


def font_render(text: str) -> Image.Image:
    """The font's own rasterisation (FreeType through Pillow), independent of matplotlib."""
    font = ImageFont.truetype(str(figures.font_path()), 64)
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("L", (right - left + 20, bottom - top + 20), 255)
    ImageDraw.Draw(image).text((10 - left, 10 - top), text, font=font, fill=0)
    return image


# ----------------------------------------------------------------------------------- the matrix


def test_themes_json_matches_the_digest_shared_themes_line(capsys, shared_corpus):
    for scope in ([], ["--city", "江苏"], ["--city", "无锡"]):
        matrix = cli_json(capsys, "themes", *scope, "--json")
        digest = cli_json(capsys, "digest", *scope, "--json")
        assert digest["themes"], scope
        # the line shows the first five themes; the picture's first five columns are the same, same counts
        assert matrix["themes"][: len(digest["themes"])] == digest["themes"]
        assert sorted(p for row in matrix["rows"] for p in row["plan_ids"]) == sorted(digest["in_scope"])
        for col, theme in enumerate(matrix["themes"]):
            column = [row[col] for row in matrix["matrix"]]
            assert sum(column) == theme["passages"], (scope, theme["theme"])
            stating = [row for row, n in zip(matrix["rows"], column, strict=True) if n]
            assert sum(len(r["plan_ids"]) for r in stating) >= theme["plans"]


def test_matrix_keeps_at_most_12_rows_and_10_columns_and_counts_the_rest(shared_corpus):
    plans = list(shared_corpus.plans)
    full = theme_matrix(plans)
    small = theme_matrix(plans, max_rows=2, max_cols=3)
    assert len(small.themes) == 3 and len(small.rows) == 2
    assert small.hidden_rows == len(full.rows) - 2
    kept = {r.label for r in small.rows}
    strength = {r.label: sum(c[:3]) for r, c in zip(full.rows, full.cells, strict=True)}
    assert min(strength[k] for k in kept) >= max(v for k, v in strength.items() if k not in kept)
    assert len(full.themes) <= 10 and len(full.rows) <= 12


def test_one_place_with_several_years_gets_a_row_per_plan(shared_corpus):
    wuxi = resolve_place("无锡", shared_corpus).place
    own = [p for p in plans_in_scope(shared_corpus, place=wuxi) if p.meta.city.startswith("无锡")]
    matrix = theme_matrix(own)
    assert [r.year for r in matrix.rows] == sorted(p.meta.year for p in own)


# ---------------------------------------------------------------------------------- the pictures


def test_heatmap_png_decodes_is_phone_sized_and_has_no_missing_glyphs(shared_corpus):
    plans = plans_in_scope(shared_corpus, place=resolve_place("江苏", shared_corpus).place)
    for lang in ("zh", "en"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            png = figures.heatmap_png(theme_matrix(plans), lang, "江苏")
        assert not [w for w in caught if "missing from" in str(w.message).lower()], lang
        image = decode(png)
        assert image.width == 1080
        assert 400 <= image.height <= 1440
        colours = np.asarray(image.convert("RGB")).reshape(-1, 3)
        assert len(np.unique(colours[:: 97], axis=0)) > 20  # cells in several shades, not a blank page


def test_cjk_label_renders_as_the_fonts_glyphs_not_tofu():
    label = "优质均衡"
    drawn = ink(decode(figures.text_png(label)))
    own = ink(font_render(label))
    tofu = ink(font_render("\u0378\u0379\u0380\u0381"))  # unassigned code points: the font's .notdef boxes
    assert similarity(drawn, own) > 0.6
    assert similarity(drawn, tofu) < 0.35
    assert similarity(drawn, own) > similarity(drawn, tofu) + 0.3


def test_year_over_year_picture_has_two_columns(shared_corpus):
    changes = changes_for_place(resolve_place("无锡", shared_corpus).place, shared_corpus)
    image = decode(figures.year_shift_picture(shared_corpus, changes, "zh"))
    assert image.width == 1080 and 300 <= image.height <= 1440
    rgb = np.asarray(image.convert("RGB")).astype(int)
    green = (rgb[:, :, 1] - rgb[:, :, 0] > 40) & (rgb[:, :, 1] - rgb[:, :, 2] > 40)
    grey = (abs(rgb[:, :, 0] - rgb[:, :, 1]) < 6) & (rgb[:, :, 0] > 140) & (rgb[:, :, 0] < 200)
    assert green[:, : image.width // 2].sum() > 1000  # added, on the left
    assert grey[:, image.width // 2:].sum() > 1000  # dropped, on the right


def test_pictures_are_cached_by_scope_and_corpus_generation(shared_corpus):
    plans = list(shared_corpus.plans)
    first = figures.themes_picture(shared_corpus, plans, "zh", "测试范围")
    misses = figures.CACHE.misses
    assert figures.themes_picture(shared_corpus, plans, "zh", "测试范围") is first
    assert figures.CACHE.misses == misses
    other = type("Corpus", (), {"fingerprint": "another-generation", "plans": plans})()
    figures.themes_picture(other, plans, "zh", "测试范围")
    assert figures.CACHE.misses == misses + 1


def test_cli_writes_pictures(tmp_path, capsys):
    assert main(["themes", "--city", "江苏", "--png", str(tmp_path / "t.png")]) == 0
    assert main(["changes", "无锡", "--png", str(tmp_path / "c.png")]) == 0
    for name in ("t.png", "c.png"):
        assert decode((tmp_path / name).read_bytes()).width == 1080
    assert main(["themes", "--city", "火星", "--json"]) == 3


# ---------------------------------------------------------------------------------- the briefing


@pytest.fixture(scope="module")
def brief_files(tmp_path_factory):
    out = tmp_path_factory.mktemp("brief")
    assert main(["brief", "双减", "--city", "江苏", "--docx", str(out / "b.docx"), "--md", str(out / "b.md"),
                 "--csv", str(out / "b.csv")]) == 0
    return out


def brief_json(capsys) -> dict:
    return cli_json(capsys, "brief", "双减", "--city", "江苏", "--json")


def test_docx_has_the_headings_every_citation_and_the_figure(brief_files, capsys):
    from docx import Document

    data = brief_json(capsys)
    doc = Document(str(brief_files / "b.docx"))
    paragraphs = [(p.style.name, p.text) for p in doc.paragraphs]
    titles = [t for s, t in paragraphs if s == "Title"]
    assert titles == ["「双减」工作简报"]
    h1 = [t for s, t in paragraphs if s == "Heading 1"]
    assert h1 == ["概要", "各地要点", "主题分布", "附录：所用规划"]
    h2 = [t for s, t in paragraphs if s == "Heading 2"]
    assert h2 == [p["place"] for p in data["places"]] and len(h2) >= 2
    text = "\n".join(t for _, t in paragraphs)
    assert "范围：江苏" in text and data["summary"] in text
    for place in data["places"]:
        for excerpt in place["excerpts"]:
            assert excerpt["excerpt"] in text
            assert excerpt["citation"] in text and excerpt["date"] in text
            assert " › ".join(excerpt["section"]) in excerpt["citation"] and "《" in excerpt["citation"]
    for plan in data["plans"]:
        assert plan["plan_id"] in text  # the appendix lists every plan used
    assert len(doc.inline_shapes) == 1
    blob = doc.inline_shapes[0]._inline.graphic.graphicData.pic.blipFill.blip.embed
    assert decode(doc.part.related_parts[blob].blob).width == 1080


def test_markdown_is_the_same_briefing_with_the_picture_beside_it(brief_files, capsys):
    data = brief_json(capsys)
    md = (brief_files / "b.md").read_text(encoding="utf-8")
    assert md.startswith("# 「双减」工作简报")
    assert "![" in md and "](b.png)" in md and decode((brief_files / "b.png").read_bytes())
    for place in data["places"]:
        assert f"### {place['place']}" in md
        for excerpt in place["excerpts"]:
            assert briefing._md(excerpt["citation"]) in md
    assert md.count("\n- ") == sum(len(p["excerpts"]) for p in data["places"])


def test_csv_rows_open_in_a_spreadsheet(brief_files, capsys):
    raw = (brief_files / "b.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel and WPS read the Chinese correctly
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0] == "地区,规划,章节,摘录,链接"
    assert len(lines) > 2


def test_docx_converts_to_pdf_in_libreoffice(brief_files, tmp_path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice is not installed (apt-get install libreoffice-writer-nogui)")
    import pdfplumber

    # the CJK font LibreOffice falls back to is the same Noto Sans CJK the pictures use, not a system font
    conf = tmp_path / "fonts.conf"
    conf.write_text(f"""<?xml version="1.0"?><fontconfig>
<include ignore_missing="yes">/etc/fonts/fonts.conf</include><dir>{figures.font_path().parent}</dir>
<cachedir>{tmp_path / "fc"}</cachedir></fontconfig>""", encoding="utf-8")
    env = {"FONTCONFIG_FILE": str(conf), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    subprocess.run([soffice, f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(brief_files / "b.docx")],
                   env=env, check=True, capture_output=True, timeout=180)
    with pdfplumber.open(tmp_path / "b.pdf") as pdf:
        assert 1 <= len(pdf.pages) <= 6
        first = pdf.pages[0].extract_text()
        assert "「双减」工作简报" in first and "概要" in first
        assert any(page.images for page in pdf.pages)  # the figure made it through


# ------------------------------------------------------------------------------------ the export


def test_xlsx_export_of_a_comparison(shared_corpus, shared_engine):
    from openpyxl import load_workbook

    result = compare(shared_engine, shared_corpus, "双减")
    rows = briefing.comparison_rows(result)
    rows.append(briefing.ExportRow("某地", "《=HYPERLINK(\"x\")》", "一", "=1+1", ""))
    book = load_workbook(io.BytesIO(briefing.rows_xlsx(rows)))
    sheet = book.active
    values = list(sheet.values)
    assert values[0] == ("地区", "规划", "章节", "摘录", "链接")
    assert len(values) == len(result.places) + 2
    assert values[1][0] == result.places[0].place and values[1][3] == result.places[0].hit.excerpt
    assert " › " in values[1][2]
    assert values[-1][3] == "=1+1" and sheet.cell(len(values), 4).data_type == "s"  # text, not a formula


def test_cli_compare_csv(tmp_path, capsys):
    assert main(["compare", "双减", "--csv", str(tmp_path / "c.csv"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    lines = (tmp_path / "c.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == len(data["places"]) + 1


def test_brief_without_a_topic_or_with_an_unknown_place_says_so(capsys):
    assert main(["brief", " "]) == 4
    assert "主题" in capsys.readouterr().err
    assert main(["brief", "双减", "--city", "火星"]) == 3


def test_shared_themes_unchanged_by_the_memo(shared_corpus):
    """theme_passages is memoised per plan object: asking twice gives the same answer as asking once."""
    plans = list(shared_corpus.plans)
    assert shared_themes(plans) == shared_themes(plans)
    assert [t.theme for t in shared_themes(plans, limit=10)] == [t.theme for t in theme_matrix(plans).themes]


def test_docs_pictures_exist():
    docs = Path(__file__).resolve().parent.parent / "docs"
    for name in ("compare-shuangjian-jiangsu.png", "themes.png", "changes-wuxi.png"):
        assert decode((docs / name).read_bytes()).width == 1080



def test_commands_that_do_not_draw_never_import_matplotlib(tmp_path):
    import os
    import sys

    code = ("import sys, contextlib, io\nfrom bot.cli import main\nimport bot.service.app, handlers.pictures\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    main(['themes', '--json']); main(['brief', '双减', '--json'])\n"
            "print('matplotlib' in sys.modules, 'docx' in sys.modules, 'openpyxl' in sys.modules)")
    env = {**os.environ, "PLANBRIEF_DATA_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.split() == ["False", "False", "False"]

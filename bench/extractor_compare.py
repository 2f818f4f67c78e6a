"""trafilatura against readability-lxml as the main-content extractor for `add`, on the development set.

Run: .venv/bin/python -m bench.extractor_compare [--runs 3]
Needs readability-lxml, installed apart from the extras (pip's resolver trips over the lxml[html_clean]
extra that it and trafilatura's justext both ask for):
    .venv/bin/pip install -q --no-deps readability-lxml && .venv/bin/pip install -q chardet cssselect
Each real document of tests/data/real/ is set inside one portal page layout — top bar, menu,
breadcrumb, a sidebar of other news headlines, share bar, footer with 版权所有/ICP/地址/电话 — the way
the bureau sites serve them. Both extractors then feed the same reader (same headline and date rule,
same cleaning), and bench.parse_eval's scoring says what each leaves: headline-priority recall and
precision, metadata accuracy, furniture left, sidebar headlines leaked into passages, and the median
time per page over the runs. formats.html_text uses the better one.
"""

from __future__ import annotations

import argparse
import html as html_lib
import json
import statistics
import time

from bench.parse_eval import DEFAULT_DIR, Report, entry_for, score, squash
from bot.corpus.formats import html_text, trafilatura_body
from bot.corpus.loader import build_plan
from bot.corpus.metadata import detect

SIDEBAR = ["某某区召开2024年校园安全工作推进会", "全市中小学春季开学工作有序推进", "市教育局开展师德师风专题培训",
           "2024年普通高中招生工作安排公布"]


def page_for(text: str, layout: str = "div") -> str:
    """A bureau portal page around the document's own lines (kept as the stored copy has them):
    "div", a modern layout with the sidebar beside the article; "table", an older portal whose article
    sits in a table cell with 上一篇/下一篇 and related headlines in the same cell."""
    body = "".join(f"<p>{html_lib.escape(line)}</p>" for line in text.splitlines() if line.strip())
    side = "".join(f"<li><a href='/n/{n}.html'>{t}</a></li>" for n, t in enumerate(SIDEBAR))
    top = ("<html><head><meta charset='utf-8'><title>教育局门户网站</title></head><body>"
           "<div class='topbar'><a>无障碍浏览</a> <a>繁体版</a> <a>English</a> <a>登录</a></div>"
           "<div class='menu'><a>首页</a><a>机构概况</a><a>政务公开</a><a>教育新闻</a><a>办事服务</a><a>互动交流</a></div>"
           "<div class='crumb'>当前位置：首页 &gt; 教育新闻 &gt; 工作动态</div>")
    foot = ("<div class='footer'><p>版权所有：某某教育局 备案号：某ICP备00000000号-1</p>"
            "<p>地址：某某路1号 邮编：000000 联系电话：0000-00000000</p><p>网站地图 | 联系我们</p></div></body></html>")
    if layout == "table":
        return (top + "<table><tr><td class='left'><ul>" + side + "</ul></td><td class='content'>"
                + body + f"<p>上一篇：{SIDEBAR[0]}</p><p>下一篇：{SIDEBAR[1]}</p>"
                + "<p>相关阅读</p><ul>" + side + "</ul>【打印本页】【关闭窗口】</td></tr></table>" + foot)
    return (top + f"<div class='main'><div class='article'>{body}</div>"
            "<div class='share'>分享到：微信 微博 QQ空间</div><div class='tools'>【打印本页】【关闭窗口】</div></div>"
            f"<div class='sidebar'><h3>相关新闻</h3><ul>{side}</ul></div>" + foot)


def readability_body(html: str) -> tuple[str, str | None]:
    import lxml.html
    from readability import Document

    doc = Document(html)
    tree = lxml.html.fromstring(doc.summary(html_partial=True))
    for element in tree.iter("p", "div", "h1", "h2", "h3", "li", "td", "tr", "br"):
        element.tail = "\n" + (element.tail or "")  # one line a block, as trafilatura gives
    lines = (" ".join(line.split()) for line in tree.text_content().splitlines())
    return "\n".join(line for line in lines if line), doc.short_title()


EXTRACTORS = {"trafilatura": trafilatura_body, "readability-lxml": readability_body}


def run_extractor(name: str, gold: list[dict], runs: int, layout: str) -> tuple[Report, int, float]:
    body_of = EXTRACTORS[name]
    docs, leaked, times = [], 0, []
    for item in gold:
        page = page_for((DEFAULT_DIR / item["file"]).read_text(encoding="utf-8"), layout)
        for _ in range(runs):
            started = time.perf_counter()
            text = html_text(page, body_of)
            times.append(time.perf_counter() - started)
        docs.append(score(item, text))
        passages = squash("".join(p.text for p in build_plan(entry_for(item, detect(text)), text).passages))
        leaked += sum(squash(t) in passages for t in SIDEBAR)
    return Report(docs), leaked, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    gold = json.loads((DEFAULT_DIR / "gold.json").read_text(encoding="utf-8"))["documents"]
    print(f"documents {len(gold)}, runs {args.runs}; sidebar = other pages' headlines left in passages")
    print(f"{'layout':<6} {'extractor':<18} {'recall':>7} {'precision':>9} {'metadata':>8} {'furniture':>9} "
          f"{'sidebar':>7} {'ms/page':>8}")
    try:
        import readability  # noqa: F401 - only to say plainly what is missing
    except ImportError:
        raise SystemExit("readability-lxml is not installed: see this module's docstring") from None
    for layout in ("div", "table"):
        for name in EXTRACTORS:
            report, leaked, median = run_extractor(name, gold, args.runs, layout)
            print(f"{layout:<6} {name:<18} {report.recall:7.3f} {report.precision:9.3f} "
                  f"{report.meta_accuracy():8.3f} {report.furniture_left:9d} {leaked:7d} {median * 1000:8.1f}")


if __name__ == "__main__":
    main()

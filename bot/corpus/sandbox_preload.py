"""Imported by the sandbox's forkserver only: it reads one small built-in plan and loads what the
readers load lazily (jieba's dictionary, the Chinese PDF character maps), so these caches are filled
once in the forkserver and every child starts with them instead of paying seconds each."""

from __future__ import annotations

import contextlib
import gc
import os
import tempfile
from pathlib import Path

from bot.corpus.ingest import AddError, prepare_plan

SAMPLE = """常州市教育局2024年工作要点
发布日期：2024-02-20
2024年，全市教育系统坚持以习近平新时代中国特色社会主义思想为指导，全面贯彻党的教育方针，落实立德树人根本任务。
一、坚持立德树人
1. 深化思政课改革创新。推进大中小学思政课一体化建设，打造一批思政课示范课堂。
2. 推进“双减”提质增效。规范校外培训，提升课后服务质量，课后服务覆盖率保持100%。
二、促进教育公平
3. 扩大优质学位供给。新建改扩建中小学幼儿园20所，新增学位15000个。
"""


def _warm() -> None:
    import logging

    import jieba
    from pdfminer.cmapdb import CMapDB

    from bot.corpus import fetch

    fetch._tls()  # the CA bundle: ~40 ms of CPU in every fetching child otherwise (a round makes hundreds)

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()  # the sample names its city in the title, so its read would not load jieba
    for name in ("UniGB-UCS2-H", "GBK-EUC-H", "UniGB-UTF16-H"):  # CJK fonts in PDFs from Chinese offices
        with contextlib.suppress(Exception):
            CMapDB.get_cmap(name)
    with contextlib.suppress(Exception):
        CMapDB.get_unicode_map("Adobe-GB1", vertical=False)
    with tempfile.TemporaryDirectory(prefix="planbrief-warm-") as folder:
        path = Path(folder) / "warm.html"
        path.write_text("<html><body>" + "".join(f"<p>{line}</p>" for line in SAMPLE.splitlines())
                        + "</body></html>", encoding="utf-8")
        with contextlib.suppress(AddError):
            prepare_plan(path)


_warm()
# Every child the forkserver forks runs niced from its first instruction (unpickling the arguments, a
# source round's list pages): readers' searches in the bot keep the CPU. Niced after the warm-up, not
# before: niced on a busy machine, the one-time warm-up took longer than a first read's 30 s deadline.
with contextlib.suppress(OSError):
    os.nice(10 - os.nice(0)) if os.nice(0) < 10 else None
# What the forkserver holds now is shared with every child until written to; the collector would
# write to all of it (each object's GC header) at a child's first collection, copying ~200 MB per
# read. Frozen, the collector leaves it alone.
gc.collect()
gc.freeze()

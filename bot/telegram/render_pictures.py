"""Captions, file names and the 导出 button for what the bot sends as a photo or a document.

The pictures and files themselves are made by bot.digests.figures and bot.digests.briefing (the CLI
makes the same ones); this module holds only what is Telegram's: caption HTML (≤ 1024 characters,
escaped), safe file names, and the export button's callback data:

    xc|<key>   export the /compare answer remembered under render.topic_key(query, places)
    xt|<key>   export the /topic answer remembered under render.topic_key(query, city)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.telegram.render import MAX_CALLBACK, Answer, Button, Reply, esc, shorten, topic_key

MAX_CAPTION = 1024
EXPORT_KINDS = {"c": "compare", "t": "topic"}

WORDS = {
    "zh": {
        "export": "📥 导出",
        "themes_caption": "🔗 共同主题 · {scope}：{line}",
        "themes_own": "🔗 主要主题 · {scope}：{line}",
        "themes_none": "{scope}的规划没有共同主题可画。",
        "themes_usage": "没有找到地方「{typed}」。试试：/themes 江苏",
        "compare_caption": "「{topic}」各地的共同主题 · {scope}",
        "all": "全部地区",
        "plans_n": "{n} 份",
        "brief_caption": "📄 简报：「{topic}」· {scope} · {plans} 份规划",
        "brief_usage": "请给出主题，例如：/brief 双减 江苏",
        "brief_none": "没有找到「{topic}」的相关内容，无法生成简报。",
        "brief_unknown": "没有找到地方「{typed}」。",
        "export_caption": "📥 {n} 条：地区、规划、章节、摘录、链接",
        "export_stale": "这个答案已过期，请重新查询后再导出。",
        "export_inline": "请在与机器人的对话中导出。",
        "export_empty": "没有可导出的内容。",
        "shift_caption": "📈 {place}：{old} → {new}，新增与不再提及的主题",
        "making": "正在生成…",
    },
    "en": {
        "export": "📥 Export",
        "themes_caption": "🔗 Shared themes · {scope}: {line}",
        "themes_own": "🔗 Main themes · {scope}: {line}",
        "themes_none": "The plans of {scope} share no theme to draw.",
        "themes_usage": "No place called “{typed}”. Try: /themes 江苏",
        "compare_caption": "Themes shared by the places answering “{topic}” · {scope}",
        "all": "all places",
        "plans_n": "{n}",
        "brief_caption": "📄 Briefing: “{topic}” · {scope} · {plans} plans",
        "brief_usage": "Give a topic, e.g. /brief 双减 江苏",
        "brief_none": "Nothing found on “{topic}”: no briefing to make.",
        "brief_unknown": "No place called “{typed}”.",
        "export_caption": "📥 {n} rows: place, plan, section, excerpt, link",
        "export_stale": "This answer has expired; ask again, then export.",
        "export_inline": "Export works in a chat with the bot.",
        "export_empty": "Nothing to export.",
        "shift_caption": "📈 {place}: {old} → {new}, themes added and no longer mentioned",
        "making": "Working on it…",
    },
}


def w(lang: str, key: str, **kw) -> str:
    """A template with every substituted value escaped: captions are Telegram HTML."""
    table = WORDS.get(lang, WORDS["zh"])
    return table[key].format(**{k: esc(str(v)) for k, v in kw.items()})


def caption(text: str) -> str:
    """Telegram refuses a caption over 1024 characters; cut on the plain text, never inside a tag."""
    return text if len(text) <= MAX_CAPTION else text[: MAX_CAPTION - 1] + "…"


# ------------------------------------------------------------------------------------------ export


@dataclass(frozen=True)
class ExportPress:
    kind: str  # "compare" | "topic"
    key: str


def export_data(kind: str, query: str, scope: str) -> str:
    code = next(c for c, name in EXPORT_KINDS.items() if name == kind)
    return f"x{code}|{topic_key(query, scope)}"


def parse_export(data: str | None) -> ExportPress | None:
    """What a client sent back; anything malformed or forged → None."""
    if not data or len(data.encode("utf-8", "surrogatepass")) > MAX_CALLBACK:
        return None
    m = re.fullmatch(r"x([ct])\|([0-9a-f]{12})", data)
    return ExportPress(EXPORT_KINDS[m.group(1)], m.group(2)) if m else None


def with_export(answer: Answer | Reply | str, kind: str, query: str, scope: str, lang: str):
    """The answer with a 导出 row under its last message (where its other buttons are)."""
    button = Button(w(lang, "export"), callback_data=export_data(kind, query, scope))
    if isinstance(answer, str):
        return Reply(answer, ((button,),))
    if isinstance(answer, Reply):
        return Reply(answer.text, (*answer.keyboard, (button,)))
    if not answer.messages:
        return answer
    last = answer.messages[-1]
    return Answer([*answer.messages[:-1], Reply(last.text, (*last.keyboard, (button,)))])


# ----------------------------------------------------------------------------------------- captions


def scope_name(scope: str, lang: str) -> str:
    return scope or WORDS.get(lang, WORDS["zh"])["all"]


def themes_caption(themes, scope: str, lang: str, plans: int) -> str:
    """The shared-themes line beside the picture: the same counts (plans per theme) as the digest's."""
    shared = plans > 1
    unit = WORDS.get(lang, WORDS["zh"])["plans_n"]
    parts = [f"{esc(t.theme)} · {unit.format(n=t.plans if shared else t.passages)}" for t in themes[:5]]
    key = "themes_caption" if shared else "themes_own"
    return caption(w(lang, key, scope=scope_name(scope, lang), line="") + "｜".join(parts))


def brief_caption(brief, lang: str) -> str:
    return caption(w(lang, "brief_caption", topic=shorten(brief.topic, 40),
                     scope=scope_name(brief.scope, lang), plans=len(brief.plans)))


_UNSAFE = re.compile(r"[\\/:*?\"<>|\x00-\x1f\s]+")


def file_name(*parts: str, ext: str) -> str:
    """`简报-双减-江苏-2026-12-02.docx`: no path separators or characters Windows refuses."""
    stem = "-".join(_UNSAFE.sub("_", p).strip("._") for p in parts if p and p.strip())
    return f"{stem[:80] or 'planbrief'}.{ext}"

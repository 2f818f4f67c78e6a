"""Every reader-facing string, Chinese first, English for users whose Telegram language is English.

Kept apart from the handlers so wording can be reviewed (and translated) in one place; values are
plain text or Telegram HTML *templates*: anything substituted into them must already be escaped.
"""

from __future__ import annotations

ZH = "zh"
EN = "en"

STRINGS: dict[str, dict[str, str]] = {
    "welcome": {
        ZH: "<b>教育规划简报</b>\n查各地教育工作要点：哪座城市有哪些规划、它们怎么说某个主题，"
            "每段摘录都注明出处（城市 · 规划 · 章节 › 条目）。\n\n"
            "试试：/topic 双减　/city 无锡　/plans",
        EN: "<b>PlanBrief</b>\nBriefings on Chinese local education work plans: which plans a city has and "
            "what they say on a topic, every excerpt cited (city · plan · section › item).\n\n"
            "Try: /topic 双减   /city 无锡   /plans",
    },
    "help": {
        ZH: "<b>用法</b>\n"
            "/topic 关键词 [地名] — 按主题查摘录，如 /topic 双减 无锡\n"
            "/city 地名 [关键词] — 一个地方的规划，如 /city 江阴\n"
            "/plans — 收录了哪些规划\n"
            "/plan 编号 — 一份规划的结构与重点任务\n"
            "/subscribe — 订阅定期简报；/subscriptions 查看；/unsubscribe 取消\n"
            "/digest — 立即生成一份简报；/timezone — 设置时区\n\n"
            "群聊里输入 @{bot} 双减 可直接分享摘录。",
        EN: "<b>How to use</b>\n"
            "/topic keyword [place] — excerpts on a topic, e.g. /topic 双减 无锡\n"
            "/city place [keyword] — a place's plans, e.g. /city 江阴\n"
            "/plans — what is covered\n"
            "/plan id — one plan's outline and headline priorities\n"
            "/subscribe — scheduled digests; /subscriptions to list; /unsubscribe to stop\n"
            "/digest — a digest now; /timezone — set your time zone\n\n"
            "In any chat, type @{bot} 双减 to share an excerpt.",
    },
    "plain_text": {
        ZH: "请用命令提问，例如 /topic {query} 或 /city 无锡。/help 查看全部用法。",
        EN: "Please ask with a command, e.g. /topic {query} or /city 无锡. /help lists them all.",
    },
    "plain_text_button": {ZH: "按主题搜索「{query}」", EN: "Search topic “{query}”"},
    "unknown_command": {
        ZH: "没有这个命令。/help 查看可用命令。",
        EN: "Unknown command. /help lists what I can do.",
    },
    "topic_usage": {
        ZH: "请在 /topic 后写关键词，例如 /topic 双减，或 /topic 双减 无锡。\n常见主题：{topics}",
        EN: "Add a keyword after /topic, e.g. /topic 双减 or /topic 双减 无锡.\nPopular topics: {topics}",
    },
    "city_usage": {
        ZH: "请在 /city 后写地名，例如 /city 无锡。\n已收录：{places}",
        EN: "Add a place after /city, e.g. /city 无锡.\nCovered: {places}",
    },
    "plan_usage": {
        ZH: "请在 /plan 后写规划编号，例如 /plan {example}。/plans 查看全部编号。",
        EN: "Add a plan id after /plan, e.g. /plan {example}. /plans lists every id.",
    },
    "unknown_plan": {
        ZH: "没有这份规划：{plan}。已收录：\n{known}",
        EN: "No such plan: {plan}. Covered:\n{known}",
    },
    "unknown_city": {
        ZH: "没有找到地方「{city}」的规划。已收录：{places}",
        EN: "No plans found for “{city}”. Covered: {places}",
    },
    "no_match": {
        ZH: "没有找到与「{query}」相关的内容。",
        EN: "Nothing found for “{query}”.",
    },
    "no_match_in": {
        ZH: "{city}的规划里没有找到「{query}」。",
        EN: "Nothing on “{query}” in the plans of {city}.",
    },
    "suggest": {ZH: "可以试试：{items}", EN: "Try: {items}"},
    "too_long": {ZH: "（查询过长，只按前 {n} 个字搜索）", EN: "(Query too long; searched its first {n} characters)"},
    "topic_title": {
        ZH: "<b>「{query}」</b>{scope} · 共 {total} 段，第 {first}–{last} 段",
        EN: "<b>“{query}”</b>{scope} · {total} passages, {first}–{last}",
    },
    "scope_city": {ZH: "（{city}）", EN: " ({city})"},
    "corrected": {ZH: "按「{corrected}」搜索", EN: "Showing results for “{corrected}”"},
    "city_title": {
        ZH: "<b>{city}</b>（{where}）· 收录 {n} 份规划",
        EN: "<b>{city}</b> ({where}) · {n} plans",
    },
    "city_corrected": {ZH: "（按「{city}」查找）", EN: "(showing {city})"},
    "plans_title": {ZH: "<b>收录的规划</b>（{n} 份）", EN: "<b>Plans covered</b> ({n})"},
    "plans_footer": {ZH: "用 /plan 编号 查看一份规划的结构。", EN: "Use /plan id to see one plan's outline."},
    "plan_priorities": {ZH: "<b>重点任务</b>", EN: "<b>Headline priorities</b>"},
    "plan_outline": {ZH: "<b>结构</b>", EN: "<b>Outline</b>"},
    "plan_passages": {ZH: "{n} 段", EN: "{n} passages"},
    "btn_prev": {ZH: "« 上一页", EN: "« Previous"},
    "btn_next": {ZH: "下一页 »", EN: "Next »"},
    "btn_share": {ZH: "分享", EN: "Share"},
    "btn_topic_here": {ZH: "在{city}搜索", EN: "Search in {city}"},
    "stale": {ZH: "这个按钮已失效，请重新发送命令。", EN: "This button has expired; please send the command again."},
    "throttled": {ZH: "请稍候再试。", EN: "Please wait a moment and try again."},
    "error": {ZH: "抱歉，出了点问题，请稍后再试。", EN: "Sorry, something went wrong. Please try again later."},
    "bad_start": {ZH: "这个链接已失效，下面是用法。", EN: "That link is no longer valid; here is how to use me."},
    "inline_topic_title": {ZH: "主题：{topic}", EN: "Topic: {topic}"},
    "inline_topic_desc": {ZH: "分享关于「{topic}」的第一段摘录", EN: "Share the top excerpt on “{topic}”"},
    "inline_plan_desc": {ZH: "{year} · {kind} · 分享这份规划的重点任务", EN: "{year} · {kind} · share its priorities"},
    "inline_nothing": {ZH: "没有找到「{query}」", EN: "Nothing found for “{query}”"},
    "inline_nothing_desc": {ZH: "换个关键词试试，例如 双减、职业教育", EN: "Try another keyword, e.g. 双减 or 职业教育"},
    "inline_button": {ZH: "在私聊中打开教育规划简报", EN: "Open PlanBrief in a private chat"},
    "console_intro": {
        ZH: "教育规划简报 · 离线控制台（真实的机器人处理程序，无需 token）。输入命令如 /topic 双减，"
            "输入数字按按钮，Ctrl-D 退出。",
        EN: "PlanBrief offline console (the real bot handlers, no token needed). Type a command such as "
            "/topic 双减, a number to press a button, Ctrl-D to quit.",
    },
}

# Command menus registered with set_my_commands (default = Chinese, language_code="en" = English).
COMMANDS: dict[str, list[tuple[str, str]]] = {
    ZH: [
        ("topic", "按主题查摘录：/topic 双减 [地名]"),
        ("city", "一个地方的规划：/city 无锡"),
        ("plans", "收录了哪些规划"),
        ("plan", "一份规划的结构与重点：/plan 编号"),
        ("subscribe", "订阅定期简报"),
        ("subscriptions", "查看我的订阅"),
        ("unsubscribe", "取消订阅"),
        ("digest", "立即生成一份简报"),
        ("timezone", "设置时区"),
        ("help", "用法"),
        ("start", "开始"),
    ],
    EN: [
        ("topic", "Excerpts on a topic: /topic 双减 [place]"),
        ("city", "A place's plans: /city 无锡"),
        ("plans", "What is covered"),
        ("plan", "One plan's outline and priorities: /plan id"),
        ("subscribe", "Subscribe to scheduled digests"),
        ("subscriptions", "List my subscriptions"),
        ("unsubscribe", "Stop a subscription"),
        ("digest", "A digest right now"),
        ("timezone", "Set your time zone"),
        ("help", "How to use"),
        ("start", "Start"),
    ],
}

FALLBACK_TOPICS = ["双减", "职业教育", "义务教育", "教师队伍", "学前教育"]


def lang_of(language_code: str | None) -> str:
    """English for English-speaking clients, Chinese for everyone else (the corpus is Chinese)."""
    return EN if (language_code or "").lower().startswith("en") else ZH


def t(lang: str, key: str, **kwargs) -> str:
    table = STRINGS[key]
    text = table.get(lang) or table[ZH]
    return text.format(**kwargs) if kwargs else text

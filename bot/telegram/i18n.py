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
            "/compare 关键词 [地名…] — 各地怎么说同一主题，如 /compare 双减 无锡 苏州\n"
            "/plans — 收录了哪些规划\n"
            "/plan 编号 — 一份规划的结构与重点任务\n"
            "/subscribe — 订阅定期简报；/subscriptions 查看；/unsubscribe 取消\n"
            "/digest — 立即生成一份简报；/timezone — 设置时区\n\n"
            "群聊里输入 @{bot} 双减 可直接分享摘录。",
        EN: "<b>How to use</b>\n"
            "/topic keyword [place] — excerpts on a topic, e.g. /topic 双减 无锡\n"
            "/city place [keyword] — a place's plans, e.g. /city 江阴\n"
            "/compare keyword [places…] — one topic across places, e.g. /compare 双减 无锡 苏州\n"
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
    # /compare and inline 对比 (handlers/compare.py, bot/telegram/render_compare.py)
    "compare_title": {
        ZH: "<b>对比「{query}」</b>{scope} · {total} 个地方，第 {first}–{last} 个",
        EN: "<b>Compare “{query}”</b>{scope} · places {first}–{last} of {total}",
    },
    "compare_usage": {
        ZH: "请在 /compare 后写主题，可再写地名，例如 /compare 双减，或 /compare 双减 无锡 苏州。\n常见主题：{topics}",
        EN: "Add a topic after /compare, optionally places, e.g. /compare 双减 or /compare 双减 无锡 苏州.\n"
            "Popular topics: {topics}",
    },
    "inline_compare_title": {ZH: "对比：{query}", EN: "Compare: {query}"},
    "inline_compare_desc": {ZH: "{n} 个地方各一段摘录：{places}", EN: "One excerpt from each of {n} places: {places}"},
    "corrected": {ZH: "按「{corrected}」搜索", EN: "Showing results for “{corrected}”"},
    "translated": {ZH: "英文「{en}」按「{zh}」搜索", EN: "Searched the Chinese term “{zh}” for “{en}”"},
    "glossary": {ZH: "术语：{items}", EN: "Terms: {items}"},
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
    # digest subscriptions: /subscribe /subscriptions /unsubscribe /digest /timezone (handlers/digest.py)
    "sub_usage": {
        ZH: "用法：/subscribe daily 08:00　/subscribe weekly mon 09:30 无锡　/subscribe daily 07:30 双减",
        EN: "Usage: /subscribe daily 08:00   /subscribe weekly mon 09:30 无锡   /subscribe daily 07:30 双减",
    },
    "sub_invalid_time": {
        ZH: "时间格式不对：{value}。请写 HH:MM，例如 /subscribe daily 08:00",
        EN: "Not a time: {value}. Use HH:MM, e.g. /subscribe daily 08:00",
    },
    "sub_invalid_weekday": {
        ZH: "星期写法不对：{value}。请用 mon…sun 或 周一…周日，例如 /subscribe weekly mon 09:30",
        EN: "Not a weekday: {value}. Use mon…sun, e.g. /subscribe weekly mon 09:30",
    },
    "sub_invalid_frequency": {
        ZH: "频率只能是 daily（每天）或 weekly（每周），例如 /subscribe daily 08:00",
        EN: "Frequency must be daily or weekly, e.g. /subscribe daily 08:00",
    },
    "sub_unknown_timezone": {
        ZH: "不认识这个时区：{value}。例如 /timezone Asia/Shanghai 或 /timezone Europe/Berlin",
        EN: "Unknown time zone: {value}. E.g. /timezone Asia/Shanghai or /timezone Europe/Berlin",
    },
    "sub_missing_time": {
        ZH: "缺少时间。例如 /subscribe daily 08:00",
        EN: "A time is missing. E.g. /subscribe daily 08:00",
    },
    "sub_scope_too_long": {
        ZH: "城市或主题太长（最多 {n} 个字）。例如 /subscribe daily 07:30 双减",
        EN: "City or topic too long (max {n} characters). E.g. /subscribe daily 07:30 双减",
    },
    "sub_created": {
        ZH: "已订阅：{desc}\n时区：{tz}。下一次：{next}\n/subscriptions 管理订阅",
        EN: "Subscribed: {desc}\nTime zone: {tz}. Next: {next}\n/subscriptions to manage",
    },
    "sub_pick_frequency": {ZH: "订阅简报：多久一次？", EN: "Digest subscription: how often?"},
    "sub_pick_weekday": {ZH: "每周哪一天？", EN: "Which day of the week?"},
    "sub_pick_time": {
        ZH: "几点发送？（时区 {tz}；其他时间请用 /subscribe daily 07:30）",
        EN: "At what time? (zone {tz}; for other times use /subscribe daily 07:30)",
    },
    "sub_pick_scope": {ZH: "范围：全部规划、某个城市，或某个主题？", EN: "Scope: all plans, one city, or one topic?"},
    "sub_daily": {ZH: "每天", EN: "daily"},
    "sub_weekly": {ZH: "每周", EN: "weekly"},
    "sub_all": {ZH: "全部规划", EN: "all plans"},
    "sub_days": {ZH: "周一 周二 周三 周四 周五 周六 周日", EN: "Mon Tue Wed Thu Fri Sat Sun"},
    "sub_desc": {ZH: "{freq}{day} {time}{scope}", EN: "{freq}{day} {time}{scope}"},
    "sub_city": {ZH: " · 城市：{v}", EN: " · city: {v}"},
    "sub_topic": {ZH: " · 主题：{v}", EN: " · topic: {v}"},
    "sub_none": {ZH: "还没有订阅。/subscribe 订阅简报。", EN: "No subscriptions yet. /subscribe to get digests."},
    "sub_list": {ZH: "<b>本聊天的订阅</b>（时区 {tz}）", EN: "<b>Subscriptions in this chat</b> (zone {tz})"},
    "sub_paused": {ZH: "（已暂停）", EN: " (paused)"},
    "sub_inactive": {ZH: "（已停用：{why}）", EN: " (inactive: {why})"},
    "sub_btn_pause": {ZH: "⏸ 暂停 #{id}", EN: "⏸ Pause #{id}"},
    "sub_btn_resume": {ZH: "▶ 恢复 #{id}", EN: "▶ Resume #{id}"},
    "sub_btn_delete": {ZH: "🗑 删除 #{id}", EN: "🗑 Delete #{id}"},
    "sub_btn_all": {ZH: "🗑 全部取消", EN: "🗑 Cancel all"},
    "sub_pick_unsub": {ZH: "要取消哪个订阅？", EN: "Which subscription should I cancel?"},
    "sub_deleted": {ZH: "已取消订阅 #{id}。", EN: "Subscription #{id} cancelled."},
    "sub_deleted_all": {ZH: "已取消本聊天的全部 {n} 个订阅。", EN: "All {n} subscriptions of this chat cancelled."},
    "sub_not_found": {
        ZH: "没有这个订阅：{value}。/subscriptions 查看编号。",
        EN: "No such subscription: {value}. /subscriptions shows the numbers.",
    },
    "sub_unsub_usage": {
        ZH: "用法：/unsubscribe 编号，或 /unsubscribe all 取消全部。",
        EN: "Usage: /unsubscribe NUMBER, or /unsubscribe all.",
    },
    "sub_admins_only": {ZH: "群里只有管理员可以设置订阅。", EN: "In groups only administrators can manage subscriptions."},
    "sub_tz_now": {
        ZH: "本聊天的时区：{tz}。修改：/timezone Europe/Berlin",
        EN: "This chat's time zone: {tz}. Change it: /timezone Europe/Berlin",
    },
    "sub_tz_set": {ZH: "时区已设为 {tz}。订阅时间按这个时区计算。", EN: "Time zone set to {tz}. Subscription times follow it."},
    "sub_done": {ZH: "好的", EN: "OK"},
    "sub_unknown_city_warn": {
        ZH: "（注意：暂未收录{v}的规划，收录后会出现在简报里）",
        EN: " (note: no plans for {v} yet; they will appear once added)",
    },
    "console_intro": {
        ZH: "教育规划简报 · 离线控制台（真实的机器人处理程序，无需 token）。输入命令如 /topic 双减，"
            "输入数字按按钮，Ctrl-D 退出。",
        EN: "PlanBrief offline console (the real bot handlers, no token needed). Type a command such as "
            "/topic 双减, a number to press a button, Ctrl-D to quit.",
    },
    # -- the editor's desk (adding and withdrawing plans from Telegram)
    "ed_only": {ZH: "抱歉，只有编辑可以收录或撤下规划。想推荐一份规划，请联系本机器人的管理员。",
                EN: "Sorry, only editors can add or withdraw plans. To suggest a plan, please contact the bot's admin."},
    "ed_private": {ZH: "请在与我的私聊中发送文件或链接。", EN: "Please send files or links to me in a private chat."},
    "ed_reading": {ZH: "正在读取「{name}」……", EN: "Reading “{name}”…"},
    "ed_failed": {ZH: "未能收录：{reason}", EN: "Could not add it: {reason}"},
    "ed_too_big": {ZH: "文件太大（{size} MB）：机器人最多能下载 20 MB。", EN: "The file is too big ({size} MB): bots can download at most 20 MB."},
    "ed_bad_type": {ZH: "不支持的文件类型 {suffix}：可收录 {accepted}。", EN: "Unsupported file type {suffix}: I can read {accepted}."},
    "ed_duplicate": {ZH: "这份规划已在语料中：<code>{plan_id}</code>", EN: "This plan is already in the corpus: <code>{plan_id}</code>"},
    "ed_card_title": {ZH: "<b>预览：待收录</b>", EN: "<b>Preview: not yet published</b>"},
    "ed_card_fields": {ZH: "标题：{title}\n地方：{place}（{province}）\n年份：{year}　类型：{kind}\n发文：{issuer}　日期：{date}\n段落：{passages}",
                       EN: "Title: {title}\nPlace: {place} ({province})\nYear: {year}   Kind: {kind}\nIssuer: {issuer}   Date: {date}\nPassages: {passages}"},
    "ed_card_priorities": {ZH: "<b>重点任务</b>", EN: "<b>Headline priorities</b>"},
    "ed_card_fix": {ZH: "如需修改，回复 /fix city 临沂、/fix year 2024 或 /fix title 标题。",
                    EN: "To correct it, send /fix city 临沂, /fix year 2024 or /fix title …"},
    "ed_warn_no_priorities": {ZH: "⚠️ 没有找到重点任务：这份规划的简报会是空的。", EN: "⚠️ No headline priorities found: its digest would be empty."},
    "ed_warn_city_from_body": {ZH: "⚠️ 地方是从正文推断的，请核对。", EN: "⚠️ The place was inferred from the body text; please check it."},
    "ed_btn_publish": {ZH: "收录", EN: "Publish"},
    "ed_btn_cancel": {ZH: "取消", EN: "Cancel"},
    "ed_published": {ZH: "已收录：<code>{plan_id}</code>，{place} {year}《{title}》。/plan {plan_id}",
                     EN: "Published: <code>{plan_id}</code>, {place} {year} “{title}”. /plan {plan_id}"},
    "ed_cancelled": {ZH: "已取消，没有收录。", EN: "Cancelled; nothing was added."},
    "ed_no_draft": {ZH: "没有待收录的预览：先发送一个文件或链接。", EN: "No preview is waiting: send a file or a link first."},
    "ed_fix_usage": {ZH: "用法：/fix city 地名 | /fix year 年份 | /fix title 标题", EN: "Usage: /fix city place | /fix year year | /fix title title"},
    "ed_remove_usage": {ZH: "用法：/remove 规划编号（/plans 可查编号）", EN: "Usage: /remove plan-id (see /plans for ids)"},
    "ed_remove_confirm": {ZH: "确定撤下 <code>{plan_id}</code>《{title}》？订阅者不会收到通知。",
                          EN: "Withdraw <code>{plan_id}</code> “{title}”? Subscribers will not be notified."},
    "ed_btn_remove": {ZH: "撤下", EN: "Withdraw"},
    "ed_remove_failed": {ZH: "未能撤下：{reason}", EN: "Could not withdraw it: {reason}"},
    "ed_remove_gone": {ZH: "未能撤下：<code>{plan_id}</code> 已不在语料中（可能已经撤下）。",
                       EN: "Could not withdraw it: <code>{plan_id}</code> is no longer in the corpus (already withdrawn?)."},
    "ed_removed": {ZH: "已撤下：<code>{plan_id}</code>", EN: "Withdrawn: <code>{plan_id}</code>"},
    "ed_add_usage": {ZH: "发送 .txt、.html、.docx 等文件，或 /add 网址，我会先给出预览。",
                     EN: "Send a .txt, .html or .docx file, or /add URL, and I will show a preview first."},
}

# Command menus registered with set_my_commands (default = Chinese, language_code="en" = English).
COMMANDS: dict[str, list[tuple[str, str]]] = {
    ZH: [
        ("topic", "按主题查摘录：/topic 双减 [地名]"),
        ("city", "一个地方的规划：/city 无锡"),
        ("compare", "各地对比一个主题：/compare 双减 [地名…]"),
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
        ("compare", "One topic across places: /compare 双减 [places]"),
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

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
            "/themes [地名] — 各地共同主题一览图；/brief 关键词 [地名…] — 生成 Word 简报\n"
            "/plans — 收录了哪些规划\n"
            "/plan 编号 — 一份规划的结构与重点任务\n"
            "/subscribe — 订阅定期简报；/subscriptions 查看；/unsubscribe 取消\n"
            "/digest — 预览下一份简报（/digest all 看全部）；/timezone — 设置时区；/lang en — 英文回答\n\n"
            "群聊里输入 @{bot} 双减 可直接分享摘录。",
        EN: "<b>How to use</b>\n"
            "/topic keyword [place] — excerpts on a topic, e.g. /topic 双减 无锡\n"
            "/city place [keyword] — a place's plans, e.g. /city 江阴\n"
            "/compare keyword [places…] — one topic across places, e.g. /compare 双减 无锡 苏州\n"
            "/themes [place] — themes by places, as a picture; /brief keyword [places…] — a Word briefing\n"
            "/plans — what is covered\n"
            "/plan id — one plan's outline and headline priorities\n"
            "/subscribe — scheduled digests; /subscriptions to list; /unsubscribe to stop\n"
            "/digest — preview the next digest (/digest all: everything); /timezone — set your time zone; "
            "/lang zh — answers in Chinese\n\n"
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
    "lang_set": {ZH: "好的，之后用中文回答你。（/lang en 换成英文）", EN: "OK, I will answer you in English. (/lang zh for Chinese)"},
    "lang_usage": {
        ZH: "当前语言：{current}。用 /lang zh 或 /lang en 选择回答的语言（按用户记住）。",
        EN: "Language: {current}. Choose with /lang zh or /lang en (remembered for you).",
    },
    "lang_name_zh": {ZH: "中文", EN: "Chinese"},
    "lang_name_en": {ZH: "英文", EN: "English"},
    "inline_try": {ZH: "没有找到「{query}」· 试试「{topic}」", EN: "Nothing found for “{query}” · try “{topic}”"},
    "tag_forward": {ZH: "〔计划〕", EN: "[plan] "},
    "tag_backward": {ZH: "〔回顾〕", EN: "[review] "},
    "unknown_words": {ZH: "没有找到{words}", EN: "No plan mentions {words}"},
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
    "dg_preview": {ZH: "下一次定时简报预览 · {desc}", EN: "Preview of the next scheduled digest · {desc}"},
    "dg_preview_silent": {
        ZH: "（下一次不会发送：还没有规划提到这个主题。/digest all 查看全部规划概览）",
        EN: "(Nothing will be sent next time: no plan mentions this topic yet. /digest all for the overview)",
    },
    "dg_btn_open": {ZH: "查看全文", EN: "Full plan"},
    "dg_btn_pause": {ZH: "暂停", EN: "Pause"},
    "dg_btn_resume": {ZH: "恢复", EN: "Resume"},
    "dg_btn_unsub": {ZH: "退订", EN: "Unsubscribe"},
    "dg_paused": {
        ZH: "已暂停订阅 #{id}（{desc}）。订阅保留，按「恢复」或在 /subscriptions 里随时恢复。",
        EN: "Subscription #{id} ({desc}) paused. It is kept: press Resume, or use /subscriptions, any time.",
    },
    "dg_resumed": {ZH: "已恢复订阅 #{id}（{desc}）。", EN: "Subscription #{id} ({desc}) resumed."},
    "dg_unsubscribed": {
        ZH: "已退订 #{id}（{desc}），不会再收到这份简报。重新订阅：/subscribe",
        EN: "Unsubscribed from #{id} ({desc}); no more of these digests. To subscribe again: /subscribe",
    },
    "sub_topic_alert": {
        ZH: "\n还没有规划提到「{v}」；一旦有，会通知你。在那之前不会发送空简报。",
        EN: "\nNo plan mentions “{v}” yet; you will hear when one does. Until then nothing is sent.",
    },
    "sub_topic_corrected": {ZH: "\n（按「{v}」订阅）", EN: "\n(subscribed as “{v}”)"},
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
            "输入数字按最新回答的按钮（2.1 = 第 2 条消息的第 1 个按钮），@ 双减 试内联模式，Ctrl-D 退出。",
        EN: "PlanBrief offline console (the real bot handlers, no token needed). Type a command such as "
            "/topic 双减, a number to press a button of the latest answer (2.1 = message 2, button 1), "
            "@ 双减 to try inline mode, Ctrl-D to quit.",
    },
    "console_editor": {
        ZH: "你是编辑（PLANBRIEF_EDITORS）：输入本地文件路径或 /add 路径，就像把文件发给机器人。",
        EN: "You are an editor (PLANBRIEF_EDITORS): type a local file path, or /add path, to send the bot a file.",
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
    # -- watched sources (bureau columns) and their candidates
    "sw_proposals": {ZH: "🔔 关注的来源有 {n} 份新规划待审：", EN: "🔔 {n} new plan(s) from watched sources await review:"},
    "sw_from": {ZH: "{mark} 来源 #{sid} {city} · <a href=\"{url}\">原文</a>", EN: "{mark} Source #{sid} {city} · <a href=\"{url}\">original</a>"},
    "sw_more": {ZH: "……另有 {n} 份（卡片放不下）：按钮仍可用，或 planbrief sources candidates",
                EN: "…and {n} more (no room for their cards): the buttons work, or planbrief sources candidates"},
    "sw_btn_publish": {ZH: "收录 {mark}", EN: "Publish {mark}"},
    "sw_btn_reject": {ZH: "取消 {mark}", EN: "Cancel {mark}"},
    "sw_rejected": {ZH: "已取消候选 #{id}：以后不会再推送。", EN: "Candidate #{id} dropped; it will not be proposed again."},
    "sw_auto_published": {ZH: "🤖 自动收录了 {n} 份规划：", EN: "🤖 Published automatically ({n}):"},
    "sw_failing": {ZH: "⚠️ 以下来源连续出错，已标记为失败（恢复后自动继续）：",
                   EN: "⚠️ These sources keep failing and are marked failing (checks resume by themselves):"},
    "sw_list_empty": {ZH: "还没有关注任何来源。用 /watch 网址 地名 关注一个栏目。",
                      EN: "No sources watched yet. /watch URL place watches a column."},
    "sw_list_head": {ZH: "<b>关注的来源</b>（{n} 个）", EN: "<b>Watched sources</b> ({n})"},
    "sw_list_row": {ZH: "#{id} {state} · {city} · {mode}\n上次成功 {last} · 已见 {seen} · 待审 {waiting} · 已收录 {published} · 连续失败 {failures}\n{url}",
                    EN: "#{id} {state} · {city} · {mode}\nlast success {last} · seen {seen} · waiting {waiting} · published {published} · failures in a row {failures}\n{url}"},
    "sw_watch_usage": {ZH: "用法：/watch 网址 地名（如 /watch https://jyj.example.gov.cn/tzgg/ 南通）",
                       EN: "Usage: /watch URL place (e.g. /watch https://jyj.example.gov.cn/tzgg/ 南通)"},
    "sw_watch_added": {ZH: "已关注 #{id}：{city} · {url}\n第一次检查只记录现有条目，之后的新规划会推送给编辑。",
                       EN: "Watching #{id}: {city} · {url}\nThe first check records what is listed; new plans after that come to the editors."},
    "sw_watch_refused": {ZH: "未能关注：{reason}", EN: "Could not watch it: {reason}"},
    "sw_unwatch_usage": {ZH: "用法：/unwatch 来源编号（/sources 可查编号）", EN: "Usage: /unwatch source-id (see /sources)"},
    "sw_unwatched": {ZH: "已取消关注 #{id}：{url}", EN: "Stopped watching #{id}: {url}"},
    "sw_failed": {ZH: "未能处理候选：{reason}", EN: "Could not do it: {reason}"},
    "sw_daily_on": {ZH: "好的，每天 {time} 发送来源日报（/sources off 取消）。", EN: "OK: a sources report every day at {time} (/sources off stops it)."},
    "sw_daily_off": {ZH: "已取消来源日报。", EN: "The daily sources report is off."},
    "sw_daily_head": {ZH: "📋 来源日报", EN: "📋 Daily sources report"},
}

# Command menus registered with set_my_commands (default = Chinese, language_code="en" = English).
COMMANDS: dict[str, list[tuple[str, str]]] = {
    ZH: [
        ("topic", "按主题查摘录：/topic 双减 [地名]"),
        ("city", "一个地方的规划：/city 无锡"),
        ("compare", "各地对比一个主题：/compare 双减 [地名…]"),
        ("themes", "各地共同主题图：/themes [地名]"),
        ("brief", "生成 Word 简报：/brief 双减 [地名…]"),
        ("plans", "收录了哪些规划"),
        ("plan", "一份规划的结构与重点：/plan 编号"),
        ("subscribe", "订阅定期简报"),
        ("subscriptions", "查看我的订阅"),
        ("unsubscribe", "取消订阅"),
        ("digest", "立即生成一份简报"),
        ("timezone", "设置时区"),
        ("lang", "回答语言：/lang zh 或 /lang en"),
        ("help", "用法"),
        ("start", "开始"),
    ],
    EN: [
        ("topic", "Excerpts on a topic: /topic 双减 [place]"),
        ("city", "A place's plans: /city 无锡"),
        ("compare", "One topic across places: /compare 双减 [places]"),
        ("themes", "Themes by places, as a picture: /themes [place]"),
        ("brief", "A Word briefing: /brief 双减 [places]"),
        ("plans", "What is covered"),
        ("plan", "One plan's outline and priorities: /plan id"),
        ("subscribe", "Subscribe to scheduled digests"),
        ("subscriptions", "List my subscriptions"),
        ("unsubscribe", "Stop a subscription"),
        ("digest", "A digest right now"),
        ("timezone", "Set your time zone"),
        ("lang", "Answer language: /lang zh or /lang en"),
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


# ------------------------------------------------------------------------------- command line
# argparse's own messages and `planbrief run`'s operator errors, for a Chinese locale (issue 16: they
# were English under zh_CN). The CLI decides the language (bot.cli._english); these are only the words.

ARGPARSE_ZH = {
    "usage: ": "用法：",
    "%(prog)s: error: %(message)s\n": "%(prog)s：错误：%(message)s\n",
    "the following arguments are required: %s": "缺少参数：%s",
    "unrecognized arguments: %s": "无法识别的参数：%s",
    "invalid choice: %(value)r (choose from %(choices)s)": "无效的选项：%(value)r（可选：%(choices)s）",
    "invalid %(type)s value: %(value)r": "无效的 %(type)s 值：%(value)r",
    "expected one argument": "需要一个参数值",
    "expected at least one argument": "至少需要一个参数值",
    "expected at most one argument": "最多一个参数值",
    "argument %(argument_name)s: %(message)s": "参数 %(argument_name)s：%(message)s",
    "not allowed with argument %s": "不能与参数 %s 同时使用",
    "one of the arguments %s is required": "需要以下参数之一：%s",
    "ambiguous option: %(option)s could match %(matches)s": "选项不明确：%(option)s 可能是 %(matches)s",
    "show this help message and exit": "显示帮助并退出",
    "positional arguments": "位置参数",
    "options": "选项",
}

# The CLI's own help texts (English in the source, the language argparse prints them in otherwise).
HELP_ZH = {
    "seeds folder (default: $PLANBRIEF_SEEDS or ./seeds)": "规划文件夹（默认：$PLANBRIEF_SEEDS 或 ./seeds）",
    "list the plans in the corpus": "列出收录的规划",
    "one plan's outline and headline priorities": "一份规划的结构与重点任务",
    "add plans (.txt/.html/.docx/.pdf; files, a folder, or an http(s) link)":
        "添加规划（.txt/.html/.docx/.pdf；文件、文件夹或 http(s) 链接）",
    "one or more files, a folder of them, or an http(s):// address": "一个或多个文件、一个文件夹，或 http(s):// 地址",
    "allow links to loopback/private addresses (off: a link cannot probe this host's network)":
        "允许本机/内网地址的链接（默认关闭：链接不能探测本机网络）",
    "source site": "来源网站",
    "withdraw a plan from the seeds folder, as if it had never been added": "撤下一份规划，如同从未加入",
    "fuzzy topic search across all plans ('-' reads queries from stdin)": "按主题模糊搜索全部规划（'-' 从标准输入逐行读取）",
    "plans for a city, county or province ('-' reads queries from stdin)": "一个市、县或省的规划（'-' 从标准输入逐行读取）",
    "a digest of headline priorities and targets (--plan/--city/--topic)": "重点任务与量化目标简报（--plan/--city/--topic）",
    "one plan id": "一份规划的编号",
    "a city or county (无锡, wuxi, 江阴)": "一个市或县（无锡、wuxi、江阴）",
    "a topic; adds its best excerpts per plan (双减)": "一个主题；每份规划附最相关摘录（双减）",
    "one topic across places: each place's best excerpt (--city repeats)": "各地怎么说同一主题：每地最相关的一段（--city 可重复）",
    "a place to include; repeat for several (default: all)": "要比较的地方；可重复（默认：全部）",
    "what a place's newer plan adds and drops, as themes with excerpts": "一个地方较新的规划新增和不再提及的主题，附摘录",
    "run the Telegram bot (polling, or webhook if PLANBRIEF_WEBHOOK_URL)": "运行 Telegram 机器人（长轮询；设置 PLANBRIEF_WEBHOOK_URL 时用 webhook）",
    "chat with the real handlers offline in this terminal": "在终端里离线试用机器人",
    "zh or en": "zh 或 en",
}

# `planbrief run`'s one-line errors (bot.config, bot.digests.health, bot.service.app), by pattern.
RUN_ERRORS_ZH = (
    (r"TELEGRAM_BOT_TOKEN is not set: .*", "未设置 TELEGRAM_BOT_TOKEN：请向 @BotFather 申请，并写入 .env（参见 .env.example）"),
    (r"TELEGRAM_BOT_TOKEN does not look like a bot token .*",
     "TELEGRAM_BOT_TOKEN 不像机器人令牌（应为 @BotFather 给出的 <数字>:<密钥>）"),
    (r"Telegram rejected TELEGRAM_BOT_TOKEN .*", "Telegram 拒绝了 TELEGRAM_BOT_TOKEN（请在 @BotFather 核对）"),
    (r"cannot reach the Bot API at (\S+): (.*)", r"无法连接 Bot API \1：\2"),
    (r"(\S+) must be a whole number, got (.*)", r"\1 必须是整数，现在是 \2"),
    (r"(\S+) must be a number, got (.*)", r"\1 必须是数字，现在是 \2"),
    (r"PLANBRIEF_EDITORS must be Telegram user ids separated by commas, got (.*)",
     r"PLANBRIEF_EDITORS 必须是逗号分隔的 Telegram 用户 id，现在是 \1"),
    (r"TELEGRAM_API_URL must be an http\(s\) URL, got (.*)", r"TELEGRAM_API_URL 必须是 http(s) 地址，现在是 \1"),
    (r"the PostgreSQL driver is not installed \((.*)\): (.*)", r"未安装 PostgreSQL 驱动（\1）：\2"),
    (r"cannot create the database folder for (\S+): (.*)", r"无法为 \1 创建数据库文件夹：\2"),
    (r"the database (\S+) is read-only \((.*)\): .*", r"数据库 \1 只读（\2）：机器人需要写入订阅和投递记录"),
    (r"the SQLite database (\S+) is corrupt or not a database \((.*)\): .*",
     r"SQLite 数据库 \1 已损坏或不是数据库（\2）：请移走它或从备份恢复"),
    (r"cannot open the SQLite database (\S+) \((.*)\): .*", r"无法打开 SQLite 数据库 \1（\2）：请检查其文件夹存在且可写"),
    (r"cannot use PostgreSQL at (\S+): (.*)", r"无法使用 PostgreSQL \1：\2"),
    (r"the database (\S+) cannot be used: (.*)", r"数据库 \1 无法使用：\2"),
)


def run_error(message: str, english: bool) -> str:
    """An operator error in the CLI's language: the English source line, or its Chinese wording."""
    import re

    if english:
        return message
    for pattern, zh in RUN_ERRORS_ZH:
        if re.fullmatch(pattern, message, flags=re.S):
            return re.sub(pattern, zh, message, count=1, flags=re.S)
    return message

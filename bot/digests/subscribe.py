"""Subscription requests from what a reader typed or pressed: pure parsing, no Telegram.

`/subscribe [daily|weekly] [weekday] HH:MM [city or topic]` becomes a Request; a mistake raises
ParseError with a code the i18n table knows (`sub_<code>`). Button presses carry their state in
versioned callback data, always ≤ 64 bytes and validated on the way back in:

    ds|<d|w>[|<0-6 or ->[|HH:MM[|<a | c:city | t:topic>]]]   guided subscribe, state carried inline
    dm|<p|r|x>|<id>   pause/resume/delete one               dm|a   delete all
    dg|<p|r|x>|<id>   the same from a scheduled digest's own buttons (answered with a new message,
                      so the digest itself stays readable)

A forged, oversized or stale payload parses to None, never to an action.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.digests import schedule
from bot.models import Subscription
from bot.search.places import covered_names, resolve_place
from bot.textnorm import clean

TIMES = ("07:00", "08:00", "09:00", "12:00", "18:00", "20:00")  # guided choices; others by command
TOPICS = ("双减", "职业教育", "学前教育", "义务教育", "教师队伍")  # when the engine suggests none
MAX_SCOPE = 20
MAX_CALLBACK = 64  # Telegram's limit on an inline button's callback_data, in bytes
MAX_LISTED = 20  # subscriptions with buttons in one message

# codes a reader can cause, each with its own message (anything else falls back to the usage line)
ERROR_CODES = ("invalid_time", "invalid_weekday", "invalid_frequency", "unknown_timezone", "missing_time",
               "scope_too_long")


class ParseError(ValueError):
    """A user mistake with the message key and the offending value, for a specific reply."""

    def __init__(self, code: str, value: str = ""):
        super().__init__(code)
        self.code = code
        self.value = value


@dataclass(frozen=True)
class Request:
    frequency: str
    time: str
    weekday: int | None = None
    city: str | None = None
    topic: str | None = None

    def subscription(self, chat_id: int, created_by: int | None, language: str) -> Subscription:
        """The row to store (id and time zone are the store's to fill in)."""
        return Subscription(id=None, chat_id=chat_id, frequency=self.frequency, time=self.time,
                            weekday=self.weekday, city=self.city, topic=self.topic, created_by=created_by,
                            language=language)


# ------------------------------------------------------------------------------------- arguments


def _take_time(words: list[str]) -> str:
    if not words:
        raise ParseError("missing_time")
    try:
        return schedule.parse_time(words.pop(0))
    except schedule.ScheduleError as exc:
        raise ParseError(exc.code, str(exc.value)) from None


def _frequency(words: list[str]) -> str:
    """A leading time means daily (`/subscribe 08:00`); otherwise the first word must be a frequency."""
    try:
        return schedule.parse_frequency(words[0]) if words else "daily"
    except schedule.ScheduleError:
        try:
            schedule.parse_time(words[0])
        except schedule.ScheduleError:
            raise ParseError("invalid_frequency", words[0]) from None
        return "daily"


def _is_frequency(word: str) -> bool:
    try:
        schedule.parse_frequency(word)
        return True
    except schedule.ScheduleError:
        return False


def split_scope(text: str, corpus) -> tuple[str | None, str | None]:
    """(city, topic): a place name (exact or close, e.g. wuxi, 無錫) is a city, anything else a topic."""
    text = clean(text)
    if not text:
        return None, None
    if len(text) > MAX_SCOPE:
        raise ParseError("scope_too_long", text)
    match = resolve_place(text, corpus) if corpus is not None else None
    if match is not None:
        return match.place.short, None
    return None, text


def parse_subscribe(args: list[str], corpus) -> Request:
    words = [w for w in args if w.strip()]
    frequency = _frequency(words)
    if words and _is_frequency(words[0]):
        words.pop(0)
    weekday = None
    if frequency == "weekly":
        if not words:
            raise ParseError("invalid_weekday", "")
        try:
            weekday = schedule.parse_weekday(words.pop(0))
        except schedule.ScheduleError as exc:
            raise ParseError(exc.code, str(exc.value)) from None
    hhmm = _take_time(words)
    city, topic = split_scope(" ".join(words), corpus)
    return Request(frequency, hhmm, weekday, city, topic)


def parse_unsubscribe(args: list[str] | None) -> str | None:
    """"" (no argument: offer a choice), "all", a subscription number as typed ("#12" → "12"), or None
    when it is neither."""
    arg = clean(" ".join(args or [])).lstrip("#").lower()
    if arg in ("all", "全部", "所有"):
        return "all"
    if arg and (not re.fullmatch(r"[0-9]+", arg) or len(arg) > 9):
        return None
    return arg


# ------------------------------------------------------------------------------------- callback data

_DS = re.compile(r"ds\|([dw])(?:\|([0-6-])(?:\|([0-9][0-9]:[0-9][0-9])(?:\|(a|[ct]:[^|]{1,20}))?)?)?")
_DM = re.compile(r"dm\|(?:([prx])\|([0-9]{1,9})|a)")
_DG = re.compile(r"dg\|([prx])\|([0-9]{1,9})")


def _fits(data: str) -> str | None:
    return data if len(data.encode()) <= MAX_CALLBACK else None


def ds_data(freq: str, day: str | None = None, hhmm: str | None = None,
            scope: str | None = None) -> str | None:
    """Guided-subscribe state so far ("d"/"w", weekday "0"-"6" or "-", HH:MM, "a"/"c:…"/"t:…");
    None when it would not fit in a callback."""
    parts = ["ds", freq] + [p for p in (day, hhmm, scope) if p is not None]
    return _fits("|".join(parts))


def dm_data(verb: str, sub_id: int | None = None) -> str | None:
    """Manage one subscription ("p" pause, "r" resume, "x" delete) or all of them ("a")."""
    return _fits("dm|a" if verb == "a" else f"dm|{verb}|{sub_id}")


def dg_data(verb: str, sub_id: int) -> str | None:
    """A digest's own pause ("p"), resume ("r") or unsubscribe ("x") button."""
    return _fits(f"dg|{verb}|{sub_id}")


def parse_dg(data: str) -> tuple[str, int] | None:
    if not data or len(data.encode("utf-8", "surrogatepass")) > MAX_CALLBACK:
        return None
    m = _DG.fullmatch(data)
    return (m.group(1), int(m.group(2))) if m else None


def parse_ds(data: str):
    """Validated guided-subscribe state, or None (forged, oversized or from another version)."""
    if not data or len(data.encode("utf-8", "surrogatepass")) > MAX_CALLBACK:
        return None
    m = _DS.fullmatch(data)
    if not m:
        return None
    freq, day, hhmm, scope = m.groups()
    if freq == "w" and day == "-" or freq == "d" and day not in (None, "-"):
        return None
    if hhmm is not None:
        try:
            if schedule.parse_time(hhmm) != hhmm:
                return None
        except schedule.ScheduleError:
            return None
    return freq, day, hhmm, scope


def parse_dm(data: str):
    if not data or len(data.encode("utf-8", "surrogatepass")) > MAX_CALLBACK:
        return None
    m = _DM.fullmatch(data)
    if not m:
        return None
    return ("a", None) if m.group(1) is None else (m.group(1), int(m.group(2)))


def request_from_state(state, corpus) -> Request | None:
    """The Request a complete guided state stands for; None when its city is no longer known."""
    freq, day, hhmm, scope = state
    city = topic = None
    if scope.startswith("c:"):
        match = resolve_place(scope[2:], corpus) if corpus is not None else None
        if match is None:
            return None
        city = match.place.short
    elif scope.startswith("t:"):
        topic = clean(scope[2:]) or None
        if topic is None:
            return None
    weekday = int(day) if freq == "w" else None
    return Request("weekly" if freq == "w" else "daily", hhmm, weekday, city, topic)


# ------------------------------------------------------------------------------------- suggestions


def suggested_cities(corpus) -> list[str]:
    return covered_names(corpus)[:6] if corpus is not None else []


def suggested_topics(engine) -> list[str]:
    try:
        found = engine.popular_topics(5) if engine is not None else []
    except Exception:  # noqa: BLE001 - suggestions never fail a reply
        found = []
    return [t for t in found if len(t) <= 8] or list(TOPICS)

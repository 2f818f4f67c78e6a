"""Digest scheduling maths: parsing user input and turning wall-clock subscriptions into UTC instants.

Everything here is pure and takes the current instant as an argument, so tests (and the catch-up
logic after a restart) can ask "what was due at T?" without touching a real clock.

Policy for daylight-saving transitions (deterministic, documented once here):
- a local time that does not exist (spring forward, e.g. 02:30 in Europe/Berlin on the last Sunday of
  March) is shifted forward by the length of the gap (02:30 → 03:30 CEST), because skipping the
  digest that day would silently lose it;
- a local time that occurs twice (fall back) fires at its first occurrence only (fold=0), because a
  period has one occurrence and the period key makes a second send impossible anyway.
Digests are not scheduled as per-subscription APScheduler jobs (whose cron trigger has its own DST rules and
whose run_daily `days` count 0=Sunday since PTB v20): one tick asks these functions which period is owed,
so weekdays stay Python's 0=Monday end to end.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.models import Subscription

DEFAULT_TZ = "Asia/Shanghai"
FREQUENCIES = ("daily", "weekly")


class ScheduleError(ValueError):
    """Bad user input; `code` lets the Telegram layer pick a localized message without parsing text."""

    code = "schedule"

    def __init__(self, message: str, value: object = None):
        super().__init__(message)
        self.value = value


class InvalidTime(ScheduleError):
    code = "invalid_time"


class InvalidWeekday(ScheduleError):
    code = "invalid_weekday"


class UnknownTimeZone(ScheduleError):
    code = "unknown_timezone"


class InvalidFrequency(ScheduleError):
    code = "invalid_frequency"


class NaiveDatetime(TypeError):
    """Raised instead of guessing: a naive datetime taken as UTC would shift digests by the zone offset."""


# ---------------------------------------------------------------------------------------------- parsing

_DIGITS = re.compile(r"^(\d{1,2})(?:[:.h](\d{2}))?$")
_COMPACT = re.compile(r"^(\d{1,2})(\d{2})$")
_CN = re.compile(r"^(\d{1,2})[点時时](?:(\d{1,2})分?|(半))?$")
_MERIDIEM_SUFFIX = re.compile(r"^(.*?)\s*(am|pm|a\.m\.|p\.m\.)$")
_PM_PREFIXES = ("下午", "晚上", "傍晚")
_AM_PREFIXES = ("上午", "早上", "凌晨", "早晨")


def _clean(text: str) -> str:
    """NFKC folds full-width digits and colons (０８：００) that Chinese IMEs produce."""
    return unicodedata.normalize("NFKC", str(text)).strip().lower().replace(" ", "")


def _split_meridiem(text: str) -> tuple[str, str | None]:
    for prefix in _PM_PREFIXES:
        if text.startswith(prefix):
            return text[len(prefix) :], "pm"
    for prefix in _AM_PREFIXES:
        if text.startswith(prefix):
            return text[len(prefix) :], "am"
    m = _MERIDIEM_SUFFIX.match(text)
    if m:
        return m.group(1), "pm" if m.group(2).startswith("p") else "am"
    return text, None


def _hour_minute(text: str) -> tuple[int, int] | None:
    for pattern in (_DIGITS, _COMPACT):
        m = pattern.match(text)
        if m:
            return int(m.group(1)), int(m.group(2) or 0)
    m = _CN.match(text)
    if m:
        return int(m.group(1)), 30 if m.group(3) else int(m.group(2) or 0)
    return None


def _apply_meridiem(hour: int, meridiem: str | None, raw: str) -> int:
    if meridiem is None:
        return hour
    if not 1 <= hour <= 12:
        raise InvalidTime(f"{raw!r}: with am/pm the hour must be 1-12", raw)
    return hour % 12 + (12 if meridiem == "pm" else 0)


def parse_time(text: str) -> str:
    """Accept the forms people actually type and return canonical "HH:MM" (what the store keeps).

    Accepted: 8:00, 08:00, 8.30, 0800, 800, 8, 8点, 8点半, 8点15分, 下午3点, 8pm, full-width digits.
    Rejected with InvalidTime: out-of-range values (24:00, 8:60) and anything else.
    """
    raw = text
    body, meridiem = _split_meridiem(_clean(text))
    hm = _hour_minute(body)
    if hm is None:
        raise InvalidTime(f"{raw!r} is not a time; use HH:MM, e.g. 08:00 or 20:30", raw)
    hour = _apply_meridiem(hm[0], meridiem, raw)
    minute = hm[1]
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise InvalidTime(f"{raw!r} is out of range; use 00:00-23:59", raw)
    return f"{hour:02d}:{minute:02d}"


def time_of(hhmm: str) -> time:
    """The stored "HH:MM" as a datetime.time; strict, since stored values were canonicalised on write."""
    hour, minute = hhmm.split(":")
    return time(int(hour), int(minute))


_WEEKDAY_WORDS = {
    0: ("mon", "monday"),
    1: ("tue", "tues", "tuesday"),
    2: ("wed", "weds", "wednesday"),
    3: ("thu", "thur", "thurs", "thursday"),
    4: ("fri", "friday"),
    5: ("sat", "saturday"),
    6: ("sun", "sunday"),
}
_CN_DAYS = "一二三四五六日"
_CN_PREFIXES = ("星期", "礼拜", "禮拜", "周", "週")


def _weekday_table() -> dict[str, int]:
    table: dict[str, int] = {}
    for index, words in _WEEKDAY_WORDS.items():
        for word in words:
            table[word] = index
        table[str(index + 1)] = index  # ISO numbering: 1=Monday … 7=Sunday
    for index, char in enumerate(_CN_DAYS):
        for prefix in _CN_PREFIXES:
            table[prefix + char] = index
    for prefix in _CN_PREFIXES:
        table[prefix + "天"] = 6
    return table


_WEEKDAYS = _weekday_table()


def parse_weekday(text: str | int) -> int:
    """Return Python's weekday (0=Monday … 6=Sunday) for English, Chinese or ISO-number input.

    Numbers are ISO (1=Monday … 7=Sunday); 0 is rejected because cron and PTB read it as Sunday
    while Python reads it as Monday, and guessing would move a digest by a day.
    """
    key = _clean(str(text)).rstrip(".")
    if key in _WEEKDAYS:
        return _WEEKDAYS[key]
    raise InvalidWeekday(f"{text!r} is not a weekday; use mon…sun, 周一…周日 or 1-7 (1=Monday)", text)


@lru_cache(maxsize=1)
def _zones_by_lower() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


_TZ_ALIASES = {
    "beijing": "Asia/Shanghai",
    "北京": "Asia/Shanghai",
    "china": "Asia/Shanghai",
    "中国": "Asia/Shanghai",
    "prc": "Asia/Shanghai",
    "hongkong": "Asia/Hong_Kong",
    "香港": "Asia/Hong_Kong",
    "taipei": "Asia/Taipei",
    "台北": "Asia/Taipei",
    "utc": "UTC",
}


def parse_tz(name: str) -> str:
    """Return the canonical IANA name; case-insensitive, with a few aliases Chinese users type.

    Fixed offsets like "+08:00" are rejected on purpose: they ignore DST, which is exactly what a zone
    name is for.
    """
    key = _clean(name)
    canonical = _TZ_ALIASES.get(key) or _zones_by_lower().get(key)
    if canonical is None:
        raise UnknownTimeZone(
            f"{name!r} is not an IANA time zone; use e.g. Asia/Shanghai or Europe/Berlin", name
        )
    try:
        ZoneInfo(canonical)
    except (ZoneInfoNotFoundError, ValueError) as exc:  # listed but data missing: still the user's answer
        raise UnknownTimeZone(f"time zone {name!r} has no data on this system", name) from exc
    return canonical


def parse_frequency(text: str) -> str:
    key = _clean(text)
    if key in ("daily", "day", "d", "每天", "每日", "天"):
        return "daily"
    if key in ("weekly", "week", "w", "每周", "每週", "周", "週"):
        return "weekly"
    raise InvalidFrequency(f"{text!r}: frequency must be daily or weekly", text)


# ------------------------------------------------------------------------------------------ occurrences


@dataclass(frozen=True)
class Occurrence:
    """One scheduled firing: the local date it belongs to (the period) and its UTC instant."""

    local_date: date
    at: datetime  # aware, UTC


def require_aware(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise NaiveDatetime("naive datetime: attach a zone (never assume UTC)")
    return instant.astimezone(UTC)


def _zone(sub: Subscription) -> ZoneInfo:
    return ZoneInfo(sub.tz or DEFAULT_TZ)


def _weekday_of(sub: Subscription) -> int:
    if sub.weekday is None or not 0 <= sub.weekday <= 6:
        raise InvalidWeekday("a weekly subscription needs a weekday 0-6", sub.weekday)
    return sub.weekday


def _fires_on(sub: Subscription, day: date) -> bool:
    return sub.frequency == "daily" or day.weekday() == _weekday_of(sub)


def occurrence_on(sub: Subscription, day: date) -> Occurrence:
    """Resolve the wall time on `day` to UTC; fold=0 gives the DST policy described in the module doc.

    For a nonexistent time zoneinfo with fold=0 uses the pre-transition offset, which lands the instant
    after the gap (shifted forward); for an ambiguous time fold=0 is the first of the two.
    """
    local = datetime.combine(day, time_of(sub.time), tzinfo=_zone(sub))
    return Occurrence(day, local.astimezone(UTC))


def _candidates(sub: Subscription, now: datetime, days_back: int, days_ahead: int, *, newest_first: bool = False):
    """Occurrences on the local days around now, in time order (local days map to increasing instants).

    Lazy, so the callers below stop at the first that fits: one or two zone conversions for a daily
    subscription instead of ten (a tick computes this for every row of a page)."""
    today = now.astimezone(_zone(sub)).date()
    offsets = range(-days_back, days_ahead + 1)
    for offset in reversed(offsets) if newest_first else offsets:
        day = today + timedelta(days=offset)
        if _fires_on(sub, day):
            yield occurrence_on(sub, day)


def last_occurrence(sub: Subscription, now_utc: datetime) -> Occurrence:
    """The most recent occurrence at or before now; always exists (weekly looks back 8 days)."""
    now = require_aware(now_utc)
    return next(occ for occ in _candidates(sub, now, 8, 1, newest_first=True) if occ.at <= now)


def next_occurrence(sub: Subscription, now_utc: datetime) -> Occurrence:
    now = require_aware(now_utc)
    return next(occ for occ in _candidates(sub, now, 1, 8) if occ.at > now)


def first_at_or_after(sub: Subscription, instant_utc: datetime) -> Occurrence:
    """The first occurrence at or after an instant: a subscription created or resumed then owes it."""
    instant = require_aware(instant_utc)
    return next(occ for occ in _candidates(sub, instant, 1, 8) if occ.at >= instant)


def last_due(sub: Subscription, now_utc: datetime) -> datetime:
    """Aware UTC instant of the latest occurrence ≤ now_utc."""
    return last_occurrence(sub, now_utc).at


def next_run(sub: Subscription, now_utc: datetime) -> datetime:
    """Aware UTC instant of the first occurrence strictly after now_utc."""
    return next_occurrence(sub, now_utc).at


def key_for(sub: Subscription, local_day: date) -> str:
    """Daily: the local date; weekly: the ISO week, so a weekday change cannot yield two digests a week."""
    if sub.frequency == "weekly":
        year, week, _ = local_day.isocalendar()
        return f"{year}-W{week:02d}"
    return local_day.isoformat()


def occurrence_of(sub: Subscription, key: str) -> Occurrence | None:
    """The occurrence a period key names under the subscription's current settings, or None.

    None when the key does not fit them (a daily key for a weekly subscription, a malformed key): the
    caller then knows nothing about where that period sits in time.
    """
    try:
        if sub.frequency == "weekly":
            match = re.fullmatch(r"(\d{4})-W(\d{2})", key)
            if match is None:
                return None
            day = date.fromisocalendar(int(match.group(1)), int(match.group(2)), _weekday_of(sub) + 1)
        else:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", key):
                return None
            day = date.fromisoformat(key)
    except (ValueError, InvalidWeekday):
        return None
    return occurrence_on(sub, day)


def period_key(sub: Subscription, instant_utc: datetime) -> str:
    """The period an instant belongs to: that of the latest occurrence at or before it.

    Every instant in [occurrence_k, occurrence_k+1) maps to the same key, so a job that fires a little
    late, or a retry minutes later, still names the same period and the claim deduplicates it.
    The key comes from the local date the occurrence was built from, never from converting back, so a
    DST shift cannot move it to another day.
    """
    return key_for(sub, last_occurrence(sub, instant_utc).local_date)


def owed_since(sub: Subscription) -> datetime | None:
    """Occurrences before this instant are not owed (sub created or resumed later)."""
    return require_aware(sub.active_since) if sub.active_since is not None else None


def missed_on_start(
    sub: Subscription,
    now_utc: datetime,
    last_delivered_period: str | None,
    grace: timedelta,
) -> datetime | None:
    """The occurrence still worth sending after downtime, or None.

    None means one of: already delivered (its period equals last_delivered_period), not owed (before
    the subscription was created/resumed), or too old (now - occurrence > grace; a "good morning"
    digest at night is noise). The caller tells these apart with period_key/last_due to log skips.
    """
    occ = last_occurrence(sub, now_utc)
    if key_for(sub, occ.local_date) == last_delivered_period:
        return None
    since = owed_since(sub)
    if since is not None and occ.at < since:
        return None
    if require_aware(now_utc) - occ.at > grace:
        return None
    return occ.at


def next_due(sub: Subscription, now_utc: datetime, settled_period: str | None) -> datetime:
    """The first instant from which a scheduler pass has something to do for `sub`, as things stand at now.

    That is the latest occurrence itself while it is owed and unsettled (a pass sends it within grace,
    or records it as skipped after), else the next occurrence. `settled_period` is the latest
    occurrence's period key if the ledger settled it, as for missed_on_start. The store keeps this
    instant in subscriptions.next_due, so a tick reads only the rows due, not every subscription;
    an instant too early only costs a pass a look at the row, one too late would lose a digest.
    """
    now = require_aware(now_utc)
    occ = last_occurrence(sub, now)
    since = owed_since(sub)
    if key_for(sub, occ.local_date) != settled_period and (since is None or occ.at >= since):
        return occ.at
    return next_run(sub, now)

"""Settings for the Telegram side, from the environment or a `.env` file (see `.env.example`).

One frozen object built in one place, so `run`, `console` and the tests cannot disagree about a
default, and so the token is validated before anything could log it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_API_URL = "https://api.telegram.org"
DEFAULT_TZ = "Asia/Shanghai"
# BotFather tokens are "<bot id>:<35 url-safe chars>"; test servers use shorter secrets, so only the
# shape is checked here and Telegram's getMe decides the rest.
_TOKEN_RE = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{6,}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class ConfigError(Exception):
    """A setting the operator must fix; the message is one line and never contains the token."""


@dataclass(frozen=True)
class Settings:
    token: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    data_dir: Path = Path("data")
    tz: str = DEFAULT_TZ
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    # token bucket per user: `throttle_burst` requests, refilled over `throttle_window` seconds
    throttle_burst: int = 5
    throttle_window: float = 10.0
    # their own, looser budgets: paging buttons, and inline queries (one per keystroke)
    throttle_button_burst: int = 10
    throttle_button_window: float = 10.0
    throttle_inline_burst: int = 30
    throttle_inline_window: float = 10.0
    log_level: str = "INFO"
    # Telegram user ids allowed to add and remove plans (PLANBRIEF_EDITORS); empty = nobody
    editors: frozenset[int] = frozenset()
    # Telegram user ids who may see /stats (PLANBRIEF_ADMINS); editors may too
    admins: frozenset[int] = frozenset()
    # how often the running bot looks for plans added by another process (seconds)
    reload_seconds: float = 5.0
    # digests: how often a worker looks for due digests, and how long a dead worker's claims stay
    # its own before another worker resends them (delivery.Policy.lease); both bound the recovery time
    digest_tick_seconds: float = 60.0
    digest_lease_seconds: float = 30.0
    # links an editor sends may point at loopback/private addresses (an intranet deployment)
    allow_private_urls: bool = False

    @property
    def api_root(self) -> str:
        return self.api_url.rstrip("/")

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "search"


def allow_private_urls(env=None) -> bool:
    """PLANBRIEF_ALLOW_PRIVATE_URLS: links may point at loopback/private addresses (an intranet
    deployment, or tests watching a local server) — for the bot and every CLI command alike."""
    env = os.environ if env is None else env
    return (env.get("PLANBRIEF_ALLOW_PRIVATE_URLS") or "").strip().lower() in ("1", "true", "yes")


def load_dotenv_file(path: str | os.PathLike | None = None) -> None:
    """Fill os.environ from `.env` without overriding what the environment already says."""
    target = path if path is not None else _find_dotenv()
    if target:
        from dotenv import load_dotenv  # only when there is a file: its import is ~20 ms of a CLI start

        load_dotenv(target, override=False)


def _find_dotenv() -> str:
    """The nearest `.env` from the working folder up to the root, as python-dotenv's
    `find_dotenv(usecwd=True)` finds it; "" when there is none."""
    try:
        folder = os.getcwd()
    except OSError:
        return ""
    while True:
        candidate = os.path.join(folder, ".env")
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(folder)
        if parent == folder:
            return ""
        folder = parent


def _int(env, name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None


def _float(env, name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


def _editors(env, name: str = "PLANBRIEF_EDITORS") -> frozenset[int]:
    raw = env.get(name, "")
    ids = set()
    for part in re.split(r"[,\s]+", raw.strip()):
        if not part:
            continue
        if not re.fullmatch(r"-?\d{1,20}", part):
            raise ConfigError(f"{name} must be Telegram user ids separated by commas, got {part!r}")
        ids.add(int(part))
    return frozenset(ids)


def _budget(env, kind: str, burst: int, window: float) -> tuple[int, float]:
    """PLANBRIEF_THROTTLE_<KIND>_BURST / _WINDOW, checked like the message budget."""
    names = f"PLANBRIEF_THROTTLE_{kind}_BURST", f"PLANBRIEF_THROTTLE_{kind}_WINDOW"
    burst, window = _int(env, names[0], burst), _float(env, names[1], window)
    if burst < 0 or window <= 0:
        raise ConfigError(f"{names[0]} must be >= 0 (0 = off) and {names[1]} > 0")
    return burst, window


def check_token(token: str) -> str:
    token = (token or "").strip()
    if not token:
        raise ConfigError("TELEGRAM_BOT_TOKEN is not set: get one from @BotFather and put it in .env "
                          "(see .env.example)")
    if not _TOKEN_RE.match(token):
        raise ConfigError("TELEGRAM_BOT_TOKEN does not look like a bot token (expected <digits>:<secret> "
                          "from @BotFather)")
    return token


def load_settings(env: dict | None = None, *, require_token: bool = True, dotenv: bool = True) -> Settings:
    """Read and validate every setting; raises ConfigError with a one-line, token-free message."""
    if env is None:
        if dotenv:
            load_dotenv_file()
        env = dict(os.environ)
    token = env.get("TELEGRAM_BOT_TOKEN", "")
    token = check_token(token) if require_token else token.strip()
    api_url = (env.get("TELEGRAM_API_URL") or DEFAULT_API_URL).strip().rstrip("/")
    if not re.match(r"^https?://[^\s/]+", api_url):
        raise ConfigError(f"TELEGRAM_API_URL must be an http(s) URL, got {api_url!r}")
    if api_url.endswith("/bot"):
        api_url = api_url[: -len("/bot")]  # a common slip: the root is wanted, PTB appends /bot<token>
    tz = (env.get("PLANBRIEF_TZ") or DEFAULT_TZ).strip()
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"PLANBRIEF_TZ is not a known time zone: {tz!r} (e.g. Asia/Shanghai)") from None
    webhook_url = (env.get("PLANBRIEF_WEBHOOK_URL") or "").strip() or None
    if webhook_url and not webhook_url.startswith("https://"):
        raise ConfigError("PLANBRIEF_WEBHOOK_URL must start with https:// (Telegram only calls HTTPS webhooks)")
    secret = (env.get("PLANBRIEF_WEBHOOK_SECRET") or "").strip() or None
    if secret and not _SECRET_RE.match(secret):
        raise ConfigError("PLANBRIEF_WEBHOOK_SECRET may only use A-Z a-z 0-9 _ - (1-256 characters)")
    burst = _int(env, "PLANBRIEF_THROTTLE_BURST", 5)
    window = _float(env, "PLANBRIEF_THROTTLE_WINDOW", 10.0)
    if burst < 0 or window <= 0:
        raise ConfigError("PLANBRIEF_THROTTLE_BURST must be >= 0 (0 = off) and PLANBRIEF_THROTTLE_WINDOW > 0")
    tick = _float(env, "PLANBRIEF_DIGEST_TICK_SECONDS", 60.0)
    if not 1 <= tick <= 60:  # /readyz wants a tick within the last two minutes
        raise ConfigError("PLANBRIEF_DIGEST_TICK_SECONDS must be between 1 and 60")
    lease = _float(env, "PLANBRIEF_DIGEST_LEASE_SECONDS", 30.0)
    if lease < 3:  # renewed every lease/3: shorter, a slow database could cost a live worker its claims
        raise ConfigError("PLANBRIEF_DIGEST_LEASE_SECONDS must be at least 3")
    buttons = _budget(env, "BUTTON", 10, 10.0)
    inline = _budget(env, "INLINE", 30, 10.0)
    return Settings(
        token=token,
        api_url=api_url,
        data_dir=Path(env.get("PLANBRIEF_DATA_DIR") or "data"),
        tz=tz,
        webhook_url=webhook_url,
        webhook_secret=secret,
        webhook_listen=(env.get("PLANBRIEF_WEBHOOK_LISTEN") or "0.0.0.0").strip(),
        webhook_port=_int(env, "PLANBRIEF_WEBHOOK_PORT", 8443),
        throttle_burst=burst,
        throttle_window=window,
        throttle_button_burst=buttons[0],
        throttle_button_window=buttons[1],
        throttle_inline_burst=inline[0],
        throttle_inline_window=inline[1],
        log_level=(env.get("PLANBRIEF_LOG_LEVEL") or "INFO").strip().upper(),
        editors=_editors(env),
        admins=_editors(env, "PLANBRIEF_ADMINS"),
        reload_seconds=max(0.5, _float(env, "PLANBRIEF_RELOAD_SECONDS", 5.0)),
        allow_private_urls=allow_private_urls(env),
        digest_tick_seconds=tick,
        digest_lease_seconds=lease,
    )


def cli_english() -> bool:
    """The command line's language: PLANBRIEF_LANG, else the locale (LC_ALL, LC_MESSAGES, LANG);
    English when it says English, Chinese otherwise (the corpus and its readers are Chinese)."""
    for name in ("PLANBRIEF_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        if value := os.environ.get(name):
            return value.lower().startswith("en")
    return False

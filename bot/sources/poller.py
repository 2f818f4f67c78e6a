"""The polite poller: every request a source watcher sends, paced per host and capped overall.

A bureau's portal is often one small server, so being a good guest matters more than speed: one
request at a time per host, at least `host_spacing` seconds apart (or the robots.txt Crawl-delay if
longer), at most `concurrency` requests in flight overall, robots.txt read once per host per round
and obeyed, a User-Agent that says who we are, and conditional GET so an unchanged column costs a
304. Every hop still goes through the corpus room's `fetch()` and its guard (schemes, private
addresses, size, timeouts, redirects), run in the reading sandbox's child processes: this module only
decides when and whether to call it.
"""

from __future__ import annotations

import os
import random
import threading
import time
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from bot.corpus import sandbox
from bot.corpus.fetch import MAX_BYTES, TIMEOUT, TOTAL_TIMEOUT, Fetched, FetchError, NotModified

USER_AGENT = "PlanBrief/0.1 (+https://github.com/planbrief/planbrief; education work plan watcher)"
ROBOTS_AGENT = "PlanBrief"


class Disallowed(FetchError):
    """robots.txt asks us not to fetch this address."""


def _env_float(env, name: str, default: float) -> float:
    raw = (env.get(name) or "").strip()
    try:
        return float(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


@dataclass(frozen=True)
class WatchPolicy:
    """Settings (PLANBRIEF_WATCH_*), one object so the bot's job and `sources check` agree."""

    host_spacing: float = 5.0  # seconds between two requests to one host
    concurrency: int = 4  # requests in flight at once, all hosts together
    failing_after: int = 5  # consecutive failures before a source is marked failing (editors told once)
    backoff_base: float = 600.0  # first retry after a failure; doubles each time, with jitter
    backoff_max: float = 24 * 3600.0
    timeout: float = TIMEOUT  # each connect and read
    total_timeout: float = TOTAL_TIMEOUT  # a whole request, redirects and a dripping server included
    max_bytes: int = MAX_BYTES
    user_agent: str = USER_AGENT
    tick: float = 60.0  # how often the bot looks for due sources

    @classmethod
    def from_env(cls, env: dict | None = None) -> WatchPolicy:
        env = os.environ if env is None else env
        policy = cls(
            host_spacing=_env_float(env, "PLANBRIEF_WATCH_HOST_SPACING", cls.host_spacing),
            concurrency=int(_env_float(env, "PLANBRIEF_WATCH_CONCURRENCY", cls.concurrency)),
            failing_after=int(_env_float(env, "PLANBRIEF_WATCH_FAILING_AFTER", cls.failing_after)),
            backoff_base=_env_float(env, "PLANBRIEF_WATCH_BACKOFF", cls.backoff_base),
            timeout=_env_float(env, "PLANBRIEF_WATCH_TIMEOUT", cls.timeout),
            total_timeout=_env_float(env, "PLANBRIEF_WATCH_TOTAL_TIMEOUT", cls.total_timeout),
            user_agent=(env.get("PLANBRIEF_WATCH_USER_AGENT") or cls.user_agent).strip(),
            tick=_env_float(env, "PLANBRIEF_WATCH_TICK", cls.tick),
        )
        if policy.host_spacing < 0 or policy.concurrency < 1 or policy.failing_after < 1:
            raise ValueError("PLANBRIEF_WATCH_HOST_SPACING >= 0, _CONCURRENCY >= 1, _FAILING_AFTER >= 1")
        return policy

    def retry_in(self, failures: int, rng: random.Random | None = None) -> float:
        """Exponential backoff with full jitter in its upper half: base·2^(n-1) · U(0.5, 1), capped."""
        rng = rng or random
        delay = min(self.backoff_max, self.backoff_base * 2 ** max(0, failures - 1))
        return delay * rng.uniform(0.5, 1.0)


@dataclass
class _Host:
    lock: threading.Lock = field(default_factory=threading.Lock)
    robots_lock: threading.Lock = field(default_factory=threading.Lock)
    next_at: float = 0.0
    robots: RobotFileParser | None = None
    robots_error: FetchError | None = None
    robots_read: bool = False


class Poller:
    """One per check round (robots.txt is re-read each round); safe to share between threads."""

    def __init__(self, policy: WatchPolicy, *, clock=time.monotonic, sleep=time.sleep):
        self.policy = policy
        self._clock, self._sleep = clock, sleep
        self._hosts: dict[str, _Host] = {}
        self._hosts_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(policy.concurrency)
        self._count_lock = threading.Lock()
        self.requests = 0
        self.not_modified = 0
        # Each request runs in a reading-sandbox child: its parsing costs the bot no GIL, and its
        # total_timeout is enforced by a signal in the child's main thread (a thread cannot take one),
        # so a server dripping its headers is cut off at total_timeout, and the child killed soon after.
        self._limits = replace(sandbox.SandboxLimits.from_env(), seconds=policy.total_timeout + 5,
                               workers=policy.concurrency)

    def _host(self, url: str) -> tuple[str, _Host]:
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc.lower()}"
        with self._hosts_lock:
            return key, self._hosts.setdefault(key, _Host())

    def _hop(self, url: str, host: _Host, *, allow_private: bool, headers: dict[str, str], reader=None,
             reader_args: tuple = ()):
        """One request, after the host's spacing, holding the host (one at a time) and a global slot;
        with a `reader`, the page is also read in the fetching child: (Fetched, what it read)."""
        with host.lock:
            wait = host.next_at - self._clock()
            if wait > 0:
                self._sleep(wait)
            try:
                with self._slots:
                    with self._count_lock:
                        self.requests += 1
                    options = {"limits": self._limits, "allow_private": allow_private, "timeout": self.policy.timeout,
                               "total_timeout": self.policy.total_timeout, "max_bytes": self.policy.max_bytes,
                               "headers": {"User-Agent": self.policy.user_agent, **headers}}
                    if reader is not None:
                        return sandbox.fetch_and_read(url, reader, *reader_args, **options)
                    return sandbox.fetch_untrusted(url, **options)
            except NotModified:
                with self._count_lock:
                    self.not_modified += 1
                raise
            except sandbox.SandboxError as exc:  # the child was killed: one line, a failure like any other
                raise FetchError(str(exc)) from exc
            finally:
                host.next_at = self._clock() + self._spacing(host)

    def _spacing(self, host: _Host) -> float:
        delay = host.robots.crawl_delay(ROBOTS_AGENT) if host.robots is not None else None
        return max(self.policy.host_spacing, float(delay or 0))

    def _robots(self, base: str, host: _Host, allow_private: bool) -> RobotFileParser | None:
        """robots.txt once per host per round: missing (4xx) allows all; unreachable (5xx, network)
        refuses this round, as RFC 9309 asks."""
        with host.robots_lock:
            return self._read_robots(base, host, allow_private)

    def _read_robots(self, base: str, host: _Host, allow_private: bool) -> RobotFileParser | None:
        if host.robots_read:
            if host.robots_error is not None:
                raise host.robots_error
            return host.robots
        host.robots_read = True
        parser = RobotFileParser()
        try:
            got = self._hop(base + "/robots.txt", host, allow_private=allow_private, headers={})
        except FetchError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                parser.allow_all = True
                host.robots = parser
                return parser
            if "不支持的内容类型" in str(exc):  # a portal answering robots.txt with an HTML page
                parser.allow_all = True
                host.robots = parser
                return parser
            host.robots_error = FetchError(f"robots.txt 无法读取，本轮不访问：{exc}", exc.status)
            raise host.robots_error from exc
        try:
            parser.parse(got.path.read_text(encoding="utf-8", errors="replace").splitlines())
        finally:
            got.path.unlink(missing_ok=True)
        host.robots = parser
        return parser

    def get(self, url: str, *, allow_private: bool = False, etag: str | None = None,
            last_modified: str | None = None) -> Fetched:
        """Fetch politely; raises NotModified (304), Disallowed (robots.txt) or FetchError."""
        return self._get(url, allow_private, etag, last_modified, None, ())

    def get_and_read(self, url: str, reader, *reader_args, allow_private: bool = False, etag: str | None = None,
                     last_modified: str | None = None) -> tuple[Fetched, object]:
        """`get`, and `reader(path, final_url, *reader_args)` on the page in the same sandbox child
        (one child per page, not two): (Fetched, what the reader returned). The reader's AddError
        comes back as itself; the file is kept for the caller to delete."""
        return self._get(url, allow_private, etag, last_modified, reader, reader_args)

    def _get(self, url, allow_private, etag, last_modified, reader, reader_args):
        base, host = self._host(url)
        robots = self._robots(base, host, allow_private)
        if robots is not None and not robots.can_fetch(ROBOTS_AGENT, url):
            raise Disallowed(f"robots.txt 不允许抓取：{url}")
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return self._hop(url, host, allow_private=allow_private, headers=headers, reader=reader,
                         reader_args=reader_args)

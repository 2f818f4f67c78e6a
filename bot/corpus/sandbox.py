"""Untrusted documents and pages are read in a child process with hard limits.

A file an editor sends, a page a link points at, and soon pages that source watching fetches on a
timer with nobody choosing them: any of them can be built to spin a parser forever (a PDF whose
/Contents refers to itself), to inflate to gigabytes (a 1 MB PDF stream), to drip one byte a second,
or to hit a library bug. Checks inside the parser catch the cases someone thought of; this module
bounds the rest. Each read runs in its own child process with an address-space limit, a CPU limit
and a wall-clock deadline after which the parent kills it, so whatever the input does, the parent
gets a result or one line, and its own memory does not grow (the child's is returned whole when it
exits).

Children are forked from a small forkserver rather than from the caller: the bot has threads (forking
it could copy a held lock) and a large address space (an address-space limit on a copy of it would
mean nothing). The forkserver preloads the readers, so a child starts in milliseconds.

A process that reads one file and exits (`planbrief add FILE`) would pay for that warm-up (every reader
library, jieba's dictionary, the PDF character maps: seconds) to save it once; it asks for a child of
its own instead (`alone=True`): a fork of itself where that is safe (one thread, a small process: the
command line), else a fresh interpreter (multiprocessing's spawn); either imports only what reading this
one file needs. Same child, same limits: the deadline and the CPU limit count from when the child reports
its limits set, so neither its start-up nor a loaded machine's import time is charged to the input.

The calls block the calling thread while the child works. The bot makes them from `EXECUTOR`, its own
small pool, never from the default executor that answers readers' searches, so no number of hostile
inputs delays `/topic`; `SLOTS` caps how many children run at once.

Entry points: `read_untrusted` (a file → a Draft), `fetch_untrusted` (a link → a downloaded file),
`fetch_and_prepare` (both, for source watching), `run` for any other reader, and `run_apart` for
work whose child reads in children of its own (a source check round), from the same forkserver.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import resource
import shutil
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from bot.corpus.fetch import Fetched, FetchError, NotModified, fetch
from bot.corpus.formats import FormatError
from bot.corpus.ingest import AddError, Draft, prepare_plan
from bot.corpus.limits import LimitError, _number

log = logging.getLogger(__name__)

# What the forkserver imports (and warms, by reading a sample plan) once, so each child starts ready.
PRELOAD = ["bot.corpus.sandbox", "pdfplumber", "pdfminer.pdftypes", "docx", "trafilatura", "lxml.html", "bs4",
           "charset_normalizer", "httpx", "httpcore", "bot.corpus.sandbox_preload"]  # the last one warms


class SandboxError(AddError):
    """The child was stopped (deadline, CPU, memory) or died: one line, in Chinese and in English.

    An AddError, so every caller that already answers a refused add answers this one too."""


@dataclass(frozen=True)
class SandboxLimits:
    memory_bytes: int = 1024 * 1024 * 1024  # address space of the child, libraries included
    seconds: float = 30.0  # wall clock, fetching and parsing together; then the child is killed
    cpu_seconds: float = 30.0
    workers: int = 2  # children at once; more inputs wait their turn
    background: bool = False  # SCHED_IDLE (or nice 19): runs only on CPU time nothing else wants

    @classmethod
    def from_env(cls, env: dict | None = None) -> SandboxLimits:
        env = os.environ if env is None else env
        seconds = _number(env, "PLANBRIEF_SANDBOX_SECONDS", cls.seconds)
        return cls(
            memory_bytes=int(_number(env, "PLANBRIEF_SANDBOX_MEMORY_MB", cls.memory_bytes / 2**20) * 2**20),
            seconds=seconds,
            cpu_seconds=_number(env, "PLANBRIEF_SANDBOX_CPU_SECONDS", seconds),
            workers=max(1, int(_number(env, "PLANBRIEF_SANDBOX_WORKERS", cls.workers))),
        )


# The bot's own pool for untrusted reads: separate from asyncio's default executor (searches).
EXECUTOR = ThreadPoolExecutor(max_workers=8, thread_name_prefix="untrusted")
_slots_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}
_context_lock = threading.Lock()


def _slot(workers: int) -> threading.BoundedSemaphore:
    with _slots_lock:
        return _slots.setdefault(workers, threading.BoundedSemaphore(workers))


def _context():
    with _context_lock:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        return ctx


# What a child alone imports before it reports ready, by the file's suffix: the readers a forkserver
# would have preloaded, but only this format's (a .txt waits for no PDF library). Imported before the
# deadline starts, as the forkserver's were. Its plan is unnamed (no pypinyin): the parent names it.
READERS = {".pdf": ("pdfplumber", "pdfminer.pdftypes"), ".docx": ("docx",), ".html": ("trafilatura", "lxml.html", "bs4"),
           ".htm": ("trafilatura", "lxml.html", "bs4"), ".txt": ("charset_normalizer",)}
READY = "ready"  # the child's first message, with the time (CLOCK_MONOTONIC, shared by all processes) its
# limits were set: the input's time starts then
START_SECONDS = 120.0  # a child that has not reported ready by then (a machine loaded past use) is stopped

_live: set = set()  # children running now, for stop_all
_live_lock = threading.Lock()


def stop_all() -> None:
    """Kill every child running now (the bot is stopping): their callers get the one-line refusal at
    once instead of waiting out the deadline."""
    with _live_lock:
        children = list(_live)
    for child in children:
        try:
            if child.is_alive():
                child.stopped_by_us = True
                child.kill()
        except (ValueError, OSError):  # closed or reaped meanwhile
            pass


def warm() -> None:
    """Start the forkserver now (the bot at start-up), so the first editor does not wait for it."""
    try:
        run(os.getpid, name="warm-up")
    except Exception as exc:  # noqa: BLE001 - the first real read will say what is wrong
        log.warning("sandbox warm-up failed: %s", exc)


_in_background = False  # set in a background child (a source round): its own children are background too


def _alone_method() -> str:
    """How a child of its own starts: a fork of this process where that is safe, else a fresh
    interpreter (spawn). A fresh one imports the readers again (0.25 s of a 2 s `add` at ×10,000, all of
    it on the add's critical path); a fork has them, since this process imported them to call us. Safe
    where the forkserver's reasons do not apply: this process has no other thread to have held a lock
    (the command line, before its publish), and it is small (its address space counts against the
    child's limit: the command line is ~40 MB here). Linux only, where fork is the platform's own
    default; macOS frameworks do not survive one."""
    if sys.platform.startswith("linux") and threading.active_count() == 1 \
            and "fork" in multiprocessing.get_all_start_methods():
        return "fork"
    return "spawn"


def run(func, *args, limits: SandboxLimits | None = None, name: str = "", alone: bool = False,
        preload: tuple[str, ...] = (), meanwhile=None, **kwargs):
    """`func(*args, **kwargs)` in a limited child: its result, or its refusal re-raised here.

    AddError, FetchError and the readers' own errors come back as themselves (their one line, both
    languages); anything else the child raises, and a child that is killed or dies, is a SandboxError.
    `func` must be importable (a module-level function), its arguments and result picklable.
    `alone`: a child of its own instead of a fork of the warmed forkserver (a process that reads once
    and exits; see the module's docstring): `_alone_method` says how it starts, and it imports
    `preload` before its deadline starts. `meanwhile()` runs here while the child works (the CLI loads its index writer's
    tokenizer): its errors are ignored, and the child's deadline is kept however long it takes.
    """
    limits = limits or SandboxLimits.from_env()
    if _in_background and not limits.background:
        limits = replace(limits, background=True)
    label = name or "input"
    with _slot(limits.workers):
        ctx = multiprocessing.get_context(_alone_method()) if alone else _context()
        receiver, sender = ctx.Pipe(duplex=False)
        child = ctx.Process(target=_child, args=(sender, limits, _settings(), func, args, kwargs, preload),
                            daemon=True)
        child.start()  # blocks while a forkserver starts
        with _live_lock:
            _live.add(child)
        sender.close()
        started = time.monotonic()
        if meanwhile is not None:
            with contextlib.suppress(Exception):
                meanwhile()
        message, timed_out, late = None, False, False
        try:
            ready = receiver.recv() if receiver.poll(max(0.0, START_SECONDS - (time.monotonic() - started))) else None
            if ready is None:
                timed_out = True
            elif not (isinstance(ready, tuple) and ready[0] == READY):
                message = None  # not our child's protocol: treated as a child that died
            else:
                left = limits.seconds - (time.monotonic() - ready[1])  # the input's time
                late = left <= 0
                if receiver.poll(max(0.0, left)):
                    message = receiver.recv()
                else:
                    timed_out = True
        except (EOFError, OSError):
            # died without a word: over the CPU or memory limit, or crashed. Found only after its time
            # was up (we were busy meanwhile), it had overrun its deadline, whichever limit struck first.
            message, timed_out = None, late
        finally:
            if message is None and child.is_alive():
                child.kill()
            child.join(5)
            if child.is_alive():
                child.kill()
                child.join()
            receiver.close()
            with _live_lock:
                _live.discard(child)
            child.close()
    if message is None and getattr(child, "stopped_by_us", False):
        raise SandboxError(f"读取已中止：{label}（机器人正在停止，请稍后重新发送）",
                           f"reading {label} was stopped: the bot is shutting down (send it again later)")
    if message is None:
        raise _stopped(label, limits, timed_out)
    return _unpack(message, label, limits)


def run_apart(func, *args, limits: SandboxLimits | None = None, name: str = "", **kwargs):
    """`run`, for work that itself reads untrusted input in sandbox children (a source check round):
    the child may have children, and gets them from this process's forkserver, like any read here.

    Why not a forkserver of its own: CPython records the server's address and "alive" pipe in each
    child it forks, but `ensure_running` trusts only a server the calling process started, so every
    child that makes children spawns and preloads a second server (python/cpython#86354) — seconds
    of CPU each round (tens on a loaded machine, niced), ~240 MB, and a round that outlived the
    editors' patience. The child adopts the running one instead (`_adopt_forkserver`); where the
    standard library differs from what it expects, the child starts its own as before."""
    from multiprocessing import forkserver

    _context()
    forkserver.ensure_running()  # started once per bot (sandbox.warm at start-up), reused every round
    server = forkserver._forkserver
    facts = (server._forkserver_address, getattr(server, "_forkserver_authkey", None))
    return run(_apart, facts, func, args, kwargs, limits=limits, name=name)


def _apart(facts: tuple, func, args, kwargs):
    # The sandbox starts its children as daemons, which multiprocessing forbids to have children of
    # their own; this one's children have deadlines of their own, and it is killed at its own.
    multiprocessing.current_process().daemon = False
    global _in_background
    _in_background = _background_now()  # this round's fetches and reads yield the CPU like the round
    own = _in_background and _background_forkserver()
    if not own:
        _adopt_forkserver(*facts)
    try:
        return func(*args, **kwargs)
    finally:
        if own:
            _stop_background_forkserver()


def _background_forkserver() -> bool:
    """In a background child, before it starts threads: a forkserver of its own, forked from itself
    (preloaded already, and SCHED_IDLE like it). Each fork copies the page tables of a ~250 MB
    server, ~7 ms of kernel time that the bot's forkserver (nice 10, not idle) spent on the core
    answering `/topic` for every page a round read. False leaves the bot's server to be adopted."""
    import gc
    import inspect
    import socket
    from multiprocessing import connection, forkserver

    server = forkserver._forkserver
    if (server._forkserver_pid is not None or getattr(server, "_forkserver_authkey", None) is not None
            or list(inspect.signature(forkserver.main).parameters)
            != ["listener_fd", "alive_r", "preload", "main_path", "sys_path"]):
        return False  # a standard library this was not written against
    listener = socket.socket(socket.AF_UNIX)
    address = connection.arbitrary_address("AF_UNIX")
    listener.bind(address)
    os.chmod(address, 0o600)
    listener.listen()
    alive_r, alive_w = os.pipe()
    gc.freeze()  # what this child imported is shared with the server's children, as in the bot's server
    pid = os.fork()
    if pid == 0:  # the server: until this child exits (its end of the pipe closes)
        code = 1
        try:
            os.close(alive_w)
            forkserver.main(listener.fileno(), alive_r, [])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
        finally:
            os._exit(code)
    listener.close()
    os.close(alive_r)
    server._forkserver_address, server._forkserver_alive_fd, server._forkserver_pid = address, alive_w, pid
    return True


def _stop_background_forkserver() -> None:
    """The round is over: its server exits once the last of its children has (they hold the pipe),
    and is reaped here, so what it and they cost is counted to this child and the bot's server."""
    from multiprocessing import forkserver

    server = forkserver._forkserver
    with contextlib.suppress(OSError):
        os.close(server._forkserver_alive_fd)
    with contextlib.suppress(OSError):
        os.unlink(server._forkserver_address)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(server._forkserver_pid, 0)


def _adopt_forkserver(address, authkey) -> bool:
    """In a child of the forkserver: ask that server (our parent's) for children, instead of spawning
    a new one. True when adopted; False leaves the standard behaviour (a server of its own)."""
    from multiprocessing import forkserver, resource_tracker

    server = forkserver._forkserver
    if (not address or server._forkserver_pid is not None or server._forkserver_alive_fd is None
            or getattr(server, "_inherited_fds", None) is None):
        return False  # not a forkserver child, or a standard library this was not written against
    server._forkserver_address = address
    if authkey is not None:  # Python versions whose server authenticates its clients (3.14+)
        server._forkserver_authkey = authkey
    # the server and the resource tracker are our parent's: only check that the tracker still runs
    server.ensure_running = resource_tracker.ensure_running
    return True


def _stopped(label: str, limits: SandboxLimits, timed_out: bool) -> SandboxError:
    if timed_out:
        return SandboxError(f"读取超时：{label} 超过 {limits.seconds:g} 秒仍未读完，已中止",
                            f"reading {label} took longer than {limits.seconds:g} s and was stopped")
    return SandboxError(f"读取中止：{label} 超出 CPU 或内存上限（{limits.cpu_seconds:g} 秒 / "
                        f"{limits.memory_bytes / 2**20:.0f} MB）",
                        f"reading {label} was stopped: over the CPU or memory limit ({limits.cpu_seconds:g} s / "
                        f"{limits.memory_bytes / 2**20:.0f} MB)")


def _unpack(message: tuple, label: str, limits: SandboxLimits):
    kind = message[0]
    if kind == "ok":
        return message[1]
    _, type_name, zh, en, *rest = message
    if type_name in ("FetchError", "NotModified"):  # the HTTP status survives the trip (304, 500…)
        raise (NotModified if type_name == "NotModified" else FetchError)(zh, rest[0] if rest else None)
    if type_name == "memory":
        raise SandboxError(f"读取中止：{label} 超出内存上限（{limits.memory_bytes / 2**20:.0f} MB）",
                           f"reading {label} was stopped: over the memory limit "
                           f"({limits.memory_bytes / 2**20:.0f} MB)")
    if type_name in ("AddError", "LimitError", "FormatError", "SandboxError"):
        raise AddError(zh, en)
    raise SandboxError(f"无法读取：{label}（{type_name}）", f"cannot read {label} ({type_name})")


def _settings() -> dict[str, str]:
    """The caller's settings as they are now: a child is forked from the forkserver, whose
    environment is the one it started with."""
    return {k: v for k, v in os.environ.items() if k.startswith(("PLANBRIEF_", "LANG", "LC_"))}


def _child(sender, limits: SandboxLimits, settings: dict[str, str], func, args, kwargs,
           preload: tuple[str, ...] = ()) -> None:
    """In the child: our own modules, limits, then the work; one message back, whatever happens."""
    import importlib

    for module in preload:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    for key in [k for k in os.environ if k.startswith(("PLANBRIEF_", "LANG", "LC_"))]:
        del os.environ[key]
    os.environ.update(settings)
    memory = int(limits.memory_bytes)
    used = resource.getrusage(resource.RUSAGE_SELF)  # a spawned child's imports; a fork's is nought
    cpu = max(1, int(used.ru_utime + used.ru_stime + limits.cpu_seconds + 0.999))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU at the soft limit ends it
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with contextlib.suppress(OSError):
        if os.nice(0) < 10:  # the forkserver is niced already (sandbox_preload)
            os.nice(10 - os.nice(0))  # a hostile input spinning the CPU yields it to the process answering readers
    if limits.background:
        _to_background()
    try:
        sender.send((READY, time.monotonic()))
        message = ("ok", func(*args, **kwargs))
    except MemoryError:
        message = ("err", "memory", "", "")
    except (AddError, LimitError, FormatError) as exc:
        message = ("err", type(exc).__name__, str(exc), getattr(exc, "en", None) or str(exc))
    except FetchError as exc:
        kind = "NotModified" if isinstance(exc, NotModified) else "FetchError"
        message = ("err", kind, str(exc), str(exc), exc.status)
    except BaseException as exc:  # noqa: BLE001 - the parent turns it into one line
        message = ("err", type(exc).__name__, str(exc)[:200], str(exc)[:200])
    try:
        sender.send(message)
    except MemoryError:
        sender.send(("err", "memory", "", ""))
    finally:
        sender.close()
    # The answer is sent: exit now. A spawned interpreter's orderly shutdown (finalisers, freeing every
    # module) would cost the waiting parent most of a second; a fork of the forkserver exits so anyway.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


def _to_background() -> None:
    """Work nobody waits for (a source round and its reads) runs on idle CPU only. Niced 10, its
    children still took a slice of the core answering `/topic` whenever several were runnable (p99
    2-3x idle on 2 cores); a SCHED_IDLE task never preempts a normal one and gets ~0.3% of a core
    a normal task wants. Linux allows it unprivileged; elsewhere nice 19 is the nearest."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        with contextlib.suppress(OSError):
            os.nice(19 - os.nice(0))


def _background_now() -> bool:
    try:
        return os.sched_getscheduler(0) == os.SCHED_IDLE or os.nice(0) >= 19
    except (AttributeError, OSError):
        return False


# ------------------------------------------------------------------------------------- entry points


def read_untrusted(file: Path, *, limits: SandboxLimits | None = None, alone: bool = False, meanwhile=None,
                   **metadata) -> Draft:
    """`ingest.prepare_plan` on `file` in a limited child: the Draft, or an AddError's one line.
    `alone`: in a child of its own, for a process that reads only this file (`run`); `meanwhile`
    runs here while it reads (see `run`)."""
    file = Path(file)
    name = _short(metadata.get("original_name") or file.name)  # what the sender calls it, not our temp name
    try:
        if alone:
            return run(prepare_plan, file, limits=limits, name=name, alone=True, named=False,
                       preload=READERS.get(file.suffix.lower(), ()), meanwhile=meanwhile, **metadata)
        return run(prepare_plan, file, limits=limits, name=name, meanwhile=meanwhile, **metadata)
    except AddError as exc:
        if name == file.name:
            raise
        # the readers name the file they were given: say the sender's name instead of our temp name
        raise type(exc)(str(exc).replace(file.name, name), exc.en.replace(file.name, name)) from exc


def fetch_untrusted(url: str, *, limits: SandboxLimits | None = None, alone: bool = False,
                    **fetch_kwargs) -> Fetched:
    """`fetch.fetch(url, …)` in a limited child: the downloaded file (the caller deletes it), or a
    FetchError / SandboxError line. The child downloads into a folder of its own, so a child killed
    mid-download leaves nothing behind. `alone` as for `run`."""
    folder = Path(tempfile.mkdtemp(prefix="planbrief-sandbox-"))
    try:
        fetched = run(fetch, url, limits=limits, name=_short(url), directory=folder, alone=alone, **fetch_kwargs)
        return _kept(fetched)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _fetch_and_read(url: str, folder: Path, fetch_kwargs: dict, reader, reader_args: tuple):
    fetched = fetch(url, directory=folder, **fetch_kwargs)
    return fetched, reader(fetched.path, fetched.url, *reader_args)


def fetch_and_read(url: str, reader, *reader_args, limits: SandboxLimits | None = None,
                   **fetch_kwargs) -> tuple[Fetched, object]:
    """`fetch_untrusted`, then `reader(path, final_url, *reader_args)` in the same child: a source
    round's list page costs one child instead of two (a child is ~25 ms of CPU to fork, start and
    reap from the preloaded forkserver). The file is kept (the caller deletes it)."""
    folder = Path(tempfile.mkdtemp(prefix="planbrief-sandbox-"))
    try:
        fetched, result = run(_fetch_and_read, url, folder, fetch_kwargs, reader, reader_args, limits=limits,
                              name=_short(url))
        return _kept(fetched), result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _kept(fetched: Fetched) -> Fetched:
    """The child's file moved out of its folder (which the caller removes) to a temporary file."""
    fd, name = tempfile.mkstemp(prefix="planbrief-fetch-", suffix=fetched.path.suffix)
    os.close(fd)
    shutil.move(fetched.path, name)
    return replace(fetched, path=Path(name))


def _fetch_and_prepare(url: str, folder: Path, fetch_kwargs: dict, metadata: dict) -> tuple[Fetched, Draft]:
    fetched = fetch(url, directory=folder, **fetch_kwargs)
    metadata = {"source_site": fetched.site, "original_name": fetched.url, **metadata}
    return fetched, prepare_plan(fetched.path, **metadata)


def fetch_and_prepare(url: str, *, limits: SandboxLimits | None = None, fetch_kwargs: dict | None = None,
                      **metadata) -> tuple[Fetched, Draft]:
    """Download and read in one child, one deadline for both (source watching). The downloaded file
    is kept (the caller deletes it) so a draft can be re-read with corrections."""
    folder = Path(tempfile.mkdtemp(prefix="planbrief-sandbox-"))
    try:
        fetched, draft = run(_fetch_and_prepare, url, folder, fetch_kwargs or {}, metadata, limits=limits,
                             name=_short(url))
        return _kept(fetched), draft
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _short(url: str) -> str:
    return url if len(url) <= 80 else url[:79] + "…"

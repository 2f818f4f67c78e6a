"""Words' readings (pypinyin), computed here or, for a one-shot command, by a helper process.

Loading pypinyin (its JSON dictionaries, and training its segmenter on every phrase) is ~0.35 s of
CPU. `planbrief add` needs only a few readings (the new plan's id, the words the index has not seen),
late in its run, and on two cores the rest of the add is CPU-bound: loading pypinyin in the command
itself put that 0.35 s on its critical path, even while the sandboxed read ran beside it. So the
command starts a helper (`start_helper`): a bare interpreter, niced, that loads pypinyin on whatever
CPU time the add leaves idle and answers when asked. Whatever goes wrong with it (it cannot start,
dies, or takes too long), the readings are computed here, as before: the helper changes when the
work is done, never the answer.

Shared by the corpus (plan ids) and the index (the pinyin table); it imports no room.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import marshal
import os
import struct
import sys
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess

log = logging.getLogger(__name__)

HELPER_WAIT_SECONDS = 30.0  # for one answer, the load included; then the readings are computed here
_LENGTH = struct.Struct("<I")

# What the helper runs: nothing of ours is imported (an uninstalled checkout works too), only pypinyin.
# Each request is a length-prefixed marshal list of words; each answer the list of their readings.
_SERVE = """
import marshal, os, struct, sys
try:
    os.nice(19)
except (AttributeError, OSError):
    pass
from pypinyin import Style, lazy_pinyin
lazy_pinyin("预热")
L = struct.Struct("<I")
r, w = sys.stdin.buffer, sys.stdout.buffer
while True:
    head = r.read(4)
    if len(head) < 4:
        break
    words = marshal.loads(r.read(L.unpack(head)[0]))
    out = marshal.dumps(["".join(lazy_pinyin(x, style=Style.NORMAL)) for x in words])
    w.write(L.pack(len(out)) + out)
    w.flush()
"""


def readings(words: list[str]) -> list[str]:
    """Each word's toneless reading as pypinyin's phrase-aware choice gives it, syllables joined
    ("".join(lazy_pinyin(word))): from the helper when one runs, else computed here."""
    if not words:
        return []
    helper = _helper
    if helper is not None:
        found = helper.ask(words)
        if found is not None:
            return found
        _drop(helper)
    return _local(words)


def warm() -> None:
    """Have readings ready before they are asked for: nothing to do while a helper loads them."""
    if _helper is None:
        _local(["预热"])


def _local(words: list[str]) -> list[str]:
    from pypinyin import Style, lazy_pinyin

    return ["".join(lazy_pinyin(w, style=Style.NORMAL)) for w in words]


class _Helper:
    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self._lock = threading.Lock()

    def ask(self, words: list[str]) -> list[str] | None:
        """The readings, or None when the helper cannot give them (then it is not asked again)."""
        request = marshal.dumps(list(words))
        with self._lock:
            try:
                self.process.stdin.write(_LENGTH.pack(len(request)) + request)
                self.process.stdin.flush()
                head = self._read(_LENGTH.size, time.monotonic() + HELPER_WAIT_SECONDS)
                body = self._read(_LENGTH.unpack(head)[0], time.monotonic() + HELPER_WAIT_SECONDS)
                found = marshal.loads(body)
            except (OSError, ValueError, EOFError, TypeError, struct.error) as exc:
                log.debug("pinyin helper gave no answer: %s", exc)
                return None
        if not (isinstance(found, list) and len(found) == len(words) and all(isinstance(f, str) for f in found)):
            return None
        return found

    def _read(self, size: int, deadline: float) -> bytes:
        import select

        fd, out = self.process.stdout.fileno(), bytearray()
        while len(out) < size:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise OSError("pinyin helper took too long")
            chunk = os.read(fd, size - len(out))
            if not chunk:
                raise EOFError("pinyin helper ended")
            out += chunk
        return bytes(out)

    def stop(self) -> None:
        import subprocess

        with contextlib.suppress(OSError, ValueError):
            self.process.kill()
        with contextlib.suppress(OSError, ValueError, subprocess.TimeoutExpired):
            self.process.wait(5)
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError, ValueError):
                stream.close()


_helper: _Helper | None = None
_helper_lock = threading.Lock()


def start_helper() -> bool:
    """Start the helper unless one runs or pypinyin is loaded here already; True when one runs. For
    a process about to need a few readings and then exit; stopped at exit."""
    import subprocess  # here: a search never starts one, and need not import it (10-30 ms)

    global _helper
    with _helper_lock:
        if _helper is not None:
            return True
        if "pypinyin" in sys.modules or os.name != "posix" or not sys.executable:
            return False
        try:
            process = subprocess.Popen([sys.executable, "-I", "-c", _SERVE], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True)
        except OSError as exc:
            log.debug("pinyin helper not started: %s", exc)
            return False
        _helper = _Helper(process)
        atexit.register(stop_helper)
        return True


def stop_helper() -> None:
    global _helper
    with _helper_lock:
        helper, _helper = _helper, None
    if helper is not None:
        helper.stop()


def _drop(helper: _Helper) -> None:
    global _helper
    with _helper_lock:
        if _helper is helper:
            _helper = None
    helper.stop()

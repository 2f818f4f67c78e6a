"""Worker processes that parse a first build's plans, so every core reads plans (bot.corpus.loader).

Each worker is a fresh interpreter (`python -m bot.corpus.build_workers`) that takes chunks of jobs on
stdin and answers each with its parsed plans, ready for the store, on stdout (length-prefixed pickles).
Why not multiprocessing: its spawn re-runs the caller's main script in every child (a script without a
`__main__` guard would start a build in each), and a fork would copy a running bot's threads mid-lock.
A chunk goes to the workers in turn and the answers are read in the same order, with a few chunks per
worker in flight, so the parsed plans never pile up in memory. A failure in a worker (a file gone, a
parser error) is raised in the caller as it was raised there; a worker that dies is a CorpusError.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import struct
import subprocess
import sys
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

_SIZE = struct.Struct("!Q")
AHEAD = 3  # chunks in flight per worker


def _send(stream: BinaryIO, value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_SIZE.pack(len(data)) + data)
    stream.flush()


def _receive(stream: BinaryIO) -> Any:
    head = stream.read(_SIZE.size)
    if len(head) < _SIZE.size:
        raise EOFError
    size = _SIZE.unpack(head)[0]
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


def run_chunks(chunks: Iterator[tuple], workers: int) -> Iterator[list]:
    """`loader.parse_files(jobs, derive)` for each chunk (jobs, derive), in order, on `workers` worker
    processes."""
    from bot.corpus.loader import CorpusError

    root = str(Path(__file__).resolve().parents[2])  # where `bot` is imported from, installed or not
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    procs = [subprocess.Popen([sys.executable, "-m", "bot.corpus.build_workers"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, env=env) for _ in range(workers)]
    try:
        flight: deque[subprocess.Popen] = deque()
        turn = 0

        def give(chunk: tuple) -> None:
            nonlocal turn
            proc = procs[turn % workers]
            turn += 1
            _send(proc.stdin, chunk)
            flight.append(proc)

        for chunk in chunks:
            give(chunk)
            if len(flight) >= AHEAD * workers:
                break
        while flight:
            proc = flight.popleft()
            try:
                ok, value = _receive(proc.stdout)
            except (EOFError, OSError, pickle.UnpicklingError) as exc:
                raise CorpusError(f"解析进程意外退出（退出码 {proc.poll()}）: {exc!r}") from exc
            if not ok:
                raise value
            chunk = next(chunks, None)
            if chunk is not None:
                give(chunk)
            yield value
    finally:
        for proc in procs:
            for stream in (proc.stdin, proc.stdout):
                with contextlib.suppress(OSError):
                    stream.close()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main() -> None:
    """A worker: chunks in, (ok, parsed plans or the exception) out, until its input closes."""
    from bot.corpus.loader import parse_files

    source, sink = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # anything a library prints must not corrupt the answers
    while True:
        try:
            chunk = _receive(source)
        except EOFError:
            return
        try:
            answer = (True, parse_files(*chunk))
        except Exception as exc:  # sent back whole: the caller raises it as a load would have
            answer = (False, exc)
        try:
            _send(sink, answer)
        except (pickle.PicklingError, TypeError, AttributeError):  # an exception that cannot travel
            from bot.corpus.loader import CorpusError

            _send(sink, (False, CorpusError(f"{type(answer[1]).__name__}: {answer[1]}")))


if __name__ == "__main__":
    main()

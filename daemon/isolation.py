"""Hostile input contained: limits checked on the raw bytes, the parse run in a worker process.

``IsolatedParser`` stands where ``mail_parsers.message.parse_message`` stands (``ingest``
takes it as ``parse``). Before anything is parsed it refuses a message that is too large,
nests MIME too deep or has too many parts (a linear scan of the boundary lines, stopping at
the limit). The parse itself runs in a persistent worker process, reused from message to
message: raw bytes go in, the frozen ``ParsedMessage`` comes back pickled.
``IsolatedParser.begin`` hands a message over and returns at once, so that the caller
works on the message before it while the worker parses (a batch keeps one message
ahead, ``daemon/pipeline.py``). A parse that outlives the timeout has its worker killed
and replaced; a worker that dies (a crash in C code, memory exhausted under its
address-space limit, an exit) is replaced. Each of these
raises :class:`~workflow.errors.RejectedInputError` with the reason, so intake quarantines
the message and the service carries on with the next one.

What the worker protects against is a fault, not a compromise: it runs as the same user,
and its answer is unpickled by the daemon. A parser exploited to run code is out of scope.

Every message goes through a worker, whatever its size: a few kilobytes are enough for a
regular expression to backtrack for hours or for a bug in C code to crash, so no size is
small enough to trust in-process.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import math
import os
import queue
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Final

from mail_parsers.model import ParsedMessage, ParseOptions
from workflow.errors import RejectedInputError

log = logging.getLogger("liaison.isolation")

MiB: Final = 1024 * 1024
GiB: Final = 1024 * MiB
DEFAULT_TARGET: Final = "mail_parsers.message:parse_message"

# Both searched without re.I or re.M, which would cost a try at every position: the
# parameter name in a lower-cased copy, dash lines by their dashes, line start checked after.
_BOUNDARY = re.compile(rb'boundary\s*=\s*(?:"([^"\r\n]+)"|([^\s;"]+))')
_DASHES = re.compile(rb"--([^\r\n]*)")


class ParserUnavailableError(RuntimeError):
    """No worker could parse the message for a reason of ours, not the message's (the
    parser is closed, or a worker could not be started). Transient: the message is
    retried, never quarantined for it."""


# --- the pre-check on the raw bytes ------------------------------------------------------


def precheck(raw: bytes, *, max_bytes: int, max_depth: int, max_parts: int) -> str | None:
    """Why ``raw`` must not be parsed at all, or None.

    Depth and part count are read from the boundary lines alone: each ``--boundary`` line
    of a declared boundary opens a part; a boundary not yet open nests one level deeper;
    a delimiter or close of an outer boundary ends everything opened inside it. Lines end
    at CR, LF or CRLF, as for the ``email`` package. The scan is linear and stops as soon
    as a limit is passed. Embedded messages without their own multipart are not counted;
    the parser bounds those itself.
    """
    size = len(raw)
    if size > max_bytes:
        return f"too large: {size} bytes > {max_bytes}"
    boundaries: set[bytes] = set()
    for declared in _BOUNDARY.finditer(raw.lower()):  # same offsets: ASCII case only
        value = 1 if declared.group(1) is not None else 2
        boundaries.add(raw[declared.start(value) : declared.end(value)].strip())
        # Every multipart holds at least one part: more boundaries than parts allowed is
        # already too many (and bounds what this scan holds in memory).
        if len(boundaries) > max_parts + 1:
            return f"too many parts: more than {max_parts} multipart boundaries"
    boundaries.discard(b"")
    if not boundaries:
        return None
    open_stack: list[bytes] = []
    parts = 0
    for match in _DASHES.finditer(raw):
        start = match.start()
        if start and raw[start - 1] not in b"\r\n":
            continue  # not at the start of a line
        token = match.group(1).rstrip()
        if token in boundaries:
            parts += 1
            if parts > max_parts:
                return f"too many parts: more than {max_parts} MIME parts"
            if token in open_stack:
                del open_stack[open_stack.index(token) + 1 :]
            else:
                open_stack.append(token)
                # The message itself is level 1; its first multipart's parts are level 2.
                if len(open_stack) + 1 > max_depth:
                    return f"too deep: more than {max_depth} nested MIME levels"
        elif token.endswith(b"--") and token[:-2] in open_stack:
            del open_stack[open_stack.index(token[:-2]) :]
    return None


# --- the worker process --------------------------------------------------------------------


_BOOTSTRAP = """\
import sys
from multiprocessing.connection import Connection
conn = Connection(int(sys.argv[1]))
sys.path[:] = conn.recv()
from daemon.isolation import _serve
_serve(conn, *conn.recv())
"""


def _resolve(target: str) -> Callable[[bytes, ParseOptions], ParsedMessage]:
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"target must be 'module:function', not {target!r}")
    function = getattr(importlib.import_module(module_name), attr)
    if not callable(function):
        raise TypeError(f"{target} is not callable")
    return function  # type: ignore[no-any-return]


def _limit_resources(memory_limit: int | None, recursion_limit: int) -> None:
    sys.setrecursionlimit(recursion_limit)
    if sys.platform == "win32":
        return
    import resource

    if memory_limit is not None:
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard == resource.RLIM_INFINITY or hard > memory_limit:
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash leaves no core dump behind


def _cpu_allowance(seconds: int) -> Callable[[], None]:
    """What the worker calls before each parse: allow ``seconds`` more CPU time, beyond
    which the kernel ends the worker (SIGXCPU). The daemon cuts a parse off at its
    wall-clock timeout long before; this ends a runaway parse whose daemon has died."""
    if sys.platform == "win32":
        return lambda: None
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)

    def allow() -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        limit = math.ceil(usage.ru_utime + usage.ru_stime) + seconds
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (limit, hard))

    return allow


def _serve(
    conn: Connection,
    target: str,
    options: ParseOptions,
    memory_limit: int | None,
    recursion_limit: int,
    cpu_seconds: int,
) -> None:
    """The worker's loop: ``(options or None, raw)`` in, ``(status, payload)`` out.

    Status ``ok`` carries the ParsedMessage, ``error`` the text of an exception the parse
    raised, ``crashed`` the text of a MemoryError (after which the worker exits). EOF or
    ``None`` ends the loop.
    """
    # Stopping is the daemon's business: systemd's SIGTERM to the whole control group must
    # not kill a parse half-way and get an innocent message quarantined as a crash. The
    # worker ends when the daemon closes its end of the socket, or kills it.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        parse = _resolve(target)
        _limit_resources(memory_limit, recursion_limit)
        allow_cpu = _cpu_allowance(cpu_seconds)
    except Exception as exc:  # noqa: BLE001 - reported to the daemon, which refuses to start
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        new_options, raw = request
        del request
        if new_options is not None:
            options = new_options
        try:
            allow_cpu()
            conn.send(("ok", parse(raw, options)))
        except MemoryError:
            _die(conn, "MemoryError")
        except Exception as exc:  # noqa: BLE001 - the daemon decides what a failure means
            conn.send(("error", f"{type(exc).__name__}: {exc}"[:1000]))
        del raw


def _die(conn: Connection, what: str) -> None:
    try:
        conn.send(("crashed", what))
    finally:
        os._exit(70)


class _Worker:
    """One worker process and the daemon's end of the socket to it.

    Started with ``subprocess`` rather than ``multiprocessing``: the worker runs a short
    bootstrap, never the daemon's main module (which multiprocessing would import again),
    and of the daemon's file descriptors it inherits only the socket and standard output
    and error. It runs in a session of its own, so a Ctrl-C at the terminal reaches the
    daemon alone, which then closes the workers.
    """

    def __init__(
        self,
        *,
        target: str,
        options: ParseOptions,
        memory_limit: int | None,
        recursion_limit: int,
        cpu_seconds: int,
        startup_timeout: float,
    ) -> None:
        ours, theirs = socket.socketpair()
        self.options = options
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _BOOTSTRAP, str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        self.pid = self.process.pid
        # One poll object per worker: cheaper than Connection.poll, which builds a
        # selector on every call.
        self._poller = select.poll()
        self._poller.register(self.conn.fileno(), select.POLLIN)
        try:
            path = [entry or os.getcwd() for entry in sys.path]
            self.conn.send(path)
            self.conn.send((target, options, memory_limit, recursion_limit, cpu_seconds))
            if self.answered(startup_timeout):
                ready = self.conn.recv()
            else:
                ready = ("error", f"no answer within {startup_timeout:g} s")
        except (EOFError, OSError):
            ready = ("error", f"exited at start ({self.exit_text()})")
        if ready[0] != "ready":
            self.kill()
            raise ParserUnavailableError(f"parser worker for {target} did not start: {ready[1]}")

    def send(self, raw: bytes, options: ParseOptions) -> None:
        """Hand over one message; the options travel along only when they changed."""
        changed = options is not self.options and options != self.options
        self.conn.send((options if changed else None, raw))
        self.options = options

    def answered(self, timeout: float) -> bool:
        """Whether the worker answered (or hung up) within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            if self._poller.poll(max(0, math.ceil((deadline - time.monotonic()) * 1000))):
                return True
            if time.monotonic() >= deadline:
                return False

    def exit_text(self) -> str:
        try:
            code = self.process.wait(1)
        except subprocess.TimeoutExpired:
            return "still running"
        if code < 0:
            try:
                return f"killed by signal {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}"

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.conn.close()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(2)
        self.kill()


# --- the parser the daemon uses -------------------------------------------------------------


class PendingParse:
    """A parse begun with :meth:`IsolatedParser.begin`, answered by :meth:`result`."""

    def __init__(
        self,
        parser: IsolatedParser,
        slot: list[_Worker | None] | None,
        worker: _Worker | None,
        error: Exception | None,
    ) -> None:
        self._parser = parser
        self._slot = slot
        self._worker = worker
        self._error = error

    def result(self) -> ParsedMessage:
        """The parsed message; :class:`RejectedInputError` when it is refused,
        :class:`ParserUnavailableError` when no worker could take it."""
        slot, worker, self._slot, self._worker = self._slot, self._worker, None, None
        if slot is None or worker is None:
            if self._error is None:
                raise RuntimeError("the result of this parse was taken already")
            error, self._error = self._error, None
            raise error
        try:
            return self._parser._answer(slot, worker)
        finally:
            self._parser._release(slot)

    def discard(self) -> None:
        """Wait for the answer and drop it (the message did not need parsing after all),
        so that the worker is free for the next message."""
        if self._slot is None and self._error is None:
            return  # answered already
        with contextlib.suppress(RejectedInputError, ParserUnavailableError):
            self.result()


class IsolatedParser:
    """``parse_message`` behind limits, in ``workers`` persistent worker processes.

    Call it like ``parse_message``: ``parser(raw, options) -> ParsedMessage``. It raises
    :class:`RejectedInputError` for a message that must be quarantined, and
    :class:`ParserUnavailableError` (transient) when it is closed or cannot start a
    worker. Safe to call from several threads; each call holds one worker, so up to
    ``workers`` messages are parsed at once and further callers wait for a free worker.
    ``options`` are installed in the workers when they start; a call with other options
    sends them along.
    """

    def __init__(
        self,
        options: ParseOptions,
        *,
        max_bytes: int = 25 * MiB,
        max_depth: int = 20,
        max_parts: int = 500,
        timeout: float = 10.0,
        workers: int = 1,
        memory_limit: int | None = 1 * GiB,
        recursion_limit: int = 1000,
        target: str = DEFAULT_TARGET,
        startup_timeout: float = 60.0,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.options = options
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self.max_parts = max_parts
        self.timeout = timeout
        self.target = target
        self._memory_limit = memory_limit
        self._recursion_limit = recursion_limit
        self._startup_timeout = startup_timeout
        self._closed = False
        self._lock = threading.Lock()
        #: Each slot holds a live worker or None (started again when next used).
        self._idle: queue.LifoQueue[list[_Worker | None]] = queue.LifoQueue()
        self._slots: list[list[_Worker | None]] = []
        try:
            for _ in range(workers):
                slot: list[_Worker | None] = [self._start_worker()]
                self._slots.append(slot)
                self._idle.put(slot)
        except BaseException:
            self.close()
            raise

    # -- use ---------------------------------------------------------------------------

    def __call__(self, raw: bytes, options: ParseOptions | None = None) -> ParsedMessage:
        return self.begin(raw, options).result()

    def begin(self, raw: bytes, options: ParseOptions | None = None) -> PendingParse:
        """Hand ``raw`` to a worker and return at once; :meth:`PendingParse.result` waits
        for the answer. Meanwhile the caller works on something else (the message before
        it), and the worker parses on another core.

        The worker stays reserved for this parse until ``result()`` or ``discard()`` is
        called, which must happen exactly once. Nothing is raised here: a refusal, or a
        parser that cannot take the message, is raised by ``result()``. The timeout
        counts from the call to ``result()``.
        """
        raw = bytes(raw)
        options = self.options if options is None else options
        refusal = precheck(
            raw, max_bytes=self.max_bytes, max_depth=self.max_depth, max_parts=self.max_parts
        )
        if refusal is not None:
            return PendingParse(self, None, None, RejectedInputError(refusal))
        slot = self._idle.get()
        try:
            if self._closed:
                raise ParserUnavailableError("the parser is closed")
            worker = self._send(slot, raw, options)
        except ParserUnavailableError as exc:
            self._release(slot)
            return PendingParse(self, None, None, exc)
        except BaseException:
            self._release(slot)
            raise
        return PendingParse(self, slot, worker, None)

    def _release(self, slot: list[_Worker | None]) -> None:
        if self._closed and slot[0] is not None:
            slot[0].stop()
            slot[0] = None
        self._idle.put(slot)

    def _send(self, slot: list[_Worker | None], raw: bytes, options: ParseOptions) -> _Worker:
        """Hand ``raw`` to the slot's worker (started anew if need be); the worker."""
        worker = self._ready_worker(slot)
        try:
            worker.send(raw, options)
        except OSError:
            # Gone before it saw this message (killed from outside): not the message's
            # fault. A fresh worker gets it; if that one cannot take it either, retry later.
            slot[0] = None
            worker.kill()
            worker = self._ready_worker(slot)
            try:
                worker.send(raw, options)
            except OSError as exc:
                slot[0] = None
                worker.kill()
                raise ParserUnavailableError(f"parser worker unreachable: {exc}") from exc
        return worker

    def _answer(self, slot: list[_Worker | None], worker: _Worker) -> ParsedMessage:
        """The worker's answer to the message it was handed, within the timeout."""
        try:
            if not worker.answered(self.timeout):
                slot[0] = None
                worker.kill()
                log.warning(
                    "parse timed out after %g s; worker %s killed", self.timeout, worker.pid
                )
                raise RejectedInputError(f"parse timed out after {self.timeout:g} s")
            status, payload = worker.conn.recv()
        except (EOFError, OSError) as exc:
            slot[0] = None
            what = worker.exit_text()
            worker.kill()
            if self._closed:  # killed by close(): the message is not to blame
                raise ParserUnavailableError("the parser was closed during the parse") from exc
            log.warning("parser worker %s crashed: %s", worker.pid, what)
            raise RejectedInputError(f"parser crashed: {what}") from exc
        if status == "ok":
            if not isinstance(payload, ParsedMessage):
                raise TypeError(f"{self.target} returned {type(payload).__name__}")
            return payload
        if status == "crashed":
            slot[0] = None
            worker.kill()
            log.warning("parser worker %s crashed: %s", worker.pid, payload)
            raise RejectedInputError(f"parser crashed: {payload}")
        raise RejectedInputError(f"parser failed: {payload}")

    def _ready_worker(self, slot: list[_Worker | None]) -> _Worker:
        """The slot's worker, started anew if there is none or it has died since."""
        worker = slot[0]
        if worker is not None and worker.process.poll() is not None:
            log.warning("parser worker %s died while idle (%s)", worker.pid, worker.exit_text())
            worker.kill()
            worker = slot[0] = None
        if worker is None:
            worker = slot[0] = self._start_worker()
        return worker

    def _start_worker(self) -> _Worker:
        if self._closed:
            raise ParserUnavailableError("the parser is closed")
        try:
            return _Worker(
                target=self.target,
                options=self.options,
                memory_limit=self._memory_limit,
                recursion_limit=self._recursion_limit,
                # Above the timeout: the daemon's kill comes first while it is alive.
                cpu_seconds=math.ceil(self.timeout) + 5,
                startup_timeout=self._startup_timeout,
            )
        except ParserUnavailableError:
            raise
        except OSError as exc:  # fork failed, no file descriptors left ...
            raise ParserUnavailableError(f"could not start a parser worker: {exc}") from exc

    @property
    def pids(self) -> tuple[int, ...]:
        """Process ids of the live workers (for status and for tests)."""
        return tuple(s[0].pid for s in self._slots if s[0] is not None)

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the workers. A parse in progress is cut off and its caller gets
        ParserUnavailableError (transient: the message stays at its source and is read
        again after the restart), as do callers waiting for a worker and later calls."""
        with self._lock:
            self._closed = True
        drained: list[list[_Worker | None]] = []
        while True:
            try:
                slot = self._idle.get_nowait()
            except queue.Empty:
                break
            if slot[0] is not None:
                slot[0].stop()
                slot[0] = None
            drained.append(slot)
        for slot in self._slots:
            busy = slot[0]
            if busy is not None and all(slot is not d for d in drained):
                # Only the signal: the caller's thread owns the pipe and cleans up.
                with contextlib.suppress(OSError):
                    busy.process.kill()
        for slot in drained:  # back, so that callers waiting for a slot wake up and refuse
            self._idle.put(slot)

    def __enter__(self) -> IsolatedParser:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

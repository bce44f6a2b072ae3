"""LineBuffer (threads) and LineProcBuffer / LineProcMirror (processes).

The sync-stream 1.2.2 API over syncstream's C++ engine. See docs/python.md
for what is kept and what differs.
"""

import io
import multiprocessing
import os
import sys
import threading
import warnings
import weakref

from typing import Optional, Tuple, Union

from . import _syncstream
from .base import GroupedMessage, _items

__all__ = ["LineBuffer", "LineProcBuffer", "LineProcMirror"]


def _check_maxlen(maxlen) -> int:
    if isinstance(maxlen, bool) or not isinstance(maxlen, int) or maxlen < 1:
        raise TypeError(
            'syncstream: The argument "maxlen" should be a positive integer.')
    return maxlen


class _Redirecting:
    """`with obj:` sends sys.stdout and sys.stderr to obj (as sync-stream's
    buffers and mirrors do) and puts them back on exit. Nests."""

    def _redirect(self) -> None:
        saved = self.__dict__.setdefault("_saved_streams", [])
        saved.append((sys.stdout, sys.stderr))
        sys.stdout = self
        sys.stderr = self

    def _restore(self) -> None:
        sys.stdout, sys.stderr = self._saved_streams.pop()

    # The parts of io.TextIOBase that print(), logging and redirect_stdout
    # look at.
    encoding = "utf-8"
    errors = "strict"
    newlines = None

    @property
    def closed(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise io.UnsupportedOperation(
            "syncstream: a {0} has no file descriptor".format(
                type(self).__name__))

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)


class LineBuffer(_Redirecting):
    """The last `maxlen` lines written by the threads of this process.

    Each thread has its own partial line, so lines of different threads are
    never glued together. `with buf:` redirects sys.stdout and sys.stderr to
    the buffer. Every method is thread-safe.
    """

    def __init__(self, maxlen: int = 20) -> None:
        self._impl = _syncstream.LineBuffer(_check_maxlen(maxlen))
        # print() looks `write` up on the object: finding the engine's method
        # itself saves a Python call per write.
        self.write = self._impl.bare_write()

    @property
    def maxlen(self) -> int:
        return self._impl.maxlen

    def write(self, data: str) -> int:  # replaced per instance in __init__
        return self._impl.write(data)

    def flush(self) -> None:
        """Does nothing: a partial line stays partial (print(flush=True)
        must not end lines). Use new_line() to end one."""

    def new_line(self) -> None:
        """Ends the calling thread's partial line, if it has one."""
        self._impl.end_line()

    def read(self, size: Optional[int] = None) -> Tuple[str, ...]:
        """The last `size` lines (all held if None), oldest first. Partial
        lines (of every thread) come last, as sync-stream's last line does.
        """
        return _items(self._impl.read(size))

    def __len__(self) -> int:
        return len(self._impl)

    def clear(self) -> None:
        """Forgets every line held. Partial lines stay pending."""
        self._impl.clear()

    def close(self) -> None:
        """Stores every thread's partial line as a line. The buffer stays
        usable."""
        self._impl.close()

    def __enter__(self) -> "LineBuffer":
        self._redirect()
        return self

    def __exit__(self, exc_type, exc_value, exc_traceback) -> None:
        self._restore()
        return None


def _attach(token: str) -> "LineProcMirror":
    """Unpickles a mirror: attaches this process to it by its token."""
    mirror = LineProcMirror(_syncstream.LineProcMirror.attach(token))
    mirror._defer_end = "PoolWorker" in multiprocessing.current_process().name
    return mirror


# In a multiprocessing.Pool worker, a mirror's stream is ended (end-of-stream
# or the error record) when the task lets the mirror go, which the worker
# does right after it has put the task's result on the pool's result queue,
# and not when the task calls send_eof() or leaves `with mirror:`. Otherwise
# the parent's wait() can return, and `with Pool(...)` call terminate(),
# while the worker is still putting its result: terminate() SIGTERMs it
# holding the result queue's lock, and the parent then hangs for ever in
# Pool's own shutdown (the task handler waits for that lock). sync-stream's
# examples leave the Pool that way right after wait(). The lines are sent at
# once; only the end waits. A task that keeps its mirror beyond its own end
# has the stream ended after _DEFERRED_END_LIMIT seconds instead.
_DEFERRED_END_LIMIT = 1.0


class _DeferredEnd:
    """Ends one mirror's stream once, from whichever comes first: the
    release of the Python mirror object or the timer."""

    def __init__(self, impl, kind: str, message: str, trace) -> None:
        self._impl = impl
        self._what = (kind, message, list(trace))
        self._lock = threading.Lock()
        self._done = False
        self._timer = threading.Timer(_DEFERRED_END_LIMIT, self)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def __call__(self) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
        if threading.current_thread() is not self._timer:
            self._timer.cancel()
        kind, message, trace = self._what
        if kind == "eof":
            self._impl.send_eof()
        else:
            self._impl.send_error(message, trace)


class LineProcMirror(_Redirecting):
    """The writing end of a LineProcBuffer, used in a child process.

    Made by `LineProcBuffer.mirror`; passed to the child as an argument
    (multiprocessing pickles it by its token under every start method, or
    the child inherits it under fork). `with mirror:` redirects sys.stdout
    and sys.stderr to it, then ends the stream: end-of-stream on a normal
    exit, an error record with the traceback if an exception leaves the
    block (the exception still propagates).
    """

    def __init__(self, impl, _owner=None) -> None:
        self._impl = impl
        self.write = impl.bare_write()
        self._defer_end = False  # set for mirrors unpickled in Pool workers
        self._deferred = None
        self._owner = _owner
        self._owner_pid = os.getpid() if _owner is not None else None
        self._pickled = 0

    @property
    def name(self) -> str:
        return self._impl.name

    @property
    def token(self) -> str:
        return self._impl.token

    def write(self, data: str) -> int:  # replaced per instance in __init__
        """Writes text; raises StopIteration once the buffer stopped its
        mirrors (the partial line written before is still delivered)."""
        return self._impl.write(data)

    def flush(self) -> None:
        """Sends the lines batched so far now (a partial line stays
        partial)."""
        self._impl.sync()

    def new_line(self) -> None:
        """Ends the calling thread's partial line, if it has one."""
        self._impl.end_line()

    def send_eof(self) -> None:
        """Ends this mirror's stream: the buffer stops waiting for it."""
        self._end("eof", "", [])

    def send_error(self, obj_err: BaseException) -> None:
        """Sends `obj_err` with its traceback as an error record, which also
        ends this mirror's stream."""
        message, trace = GroupedMessage(obj_err, type="error").split()
        self._end("error", message, trace)

    def _end(self, kind: str, message: str, trace) -> None:
        if not self._defer_end:
            if kind == "eof":
                self._impl.send_eof()
            else:
                self._impl.send_error(message, trace)
            return
        if self._deferred is not None:
            return  # already ending
        self._impl.sync()  # the lines go now
        self._deferred = _DeferredEnd(self._impl, kind, message, trace)
        weakref.finalize(self, self._deferred)
        self._deferred.start()

    def send_warning(self, obj_warn: Warning) -> None:
        """Sends a warning record (a Warning, or a warnings.WarningMessage);
        the stream stays open."""
        message, trace = GroupedMessage(obj_warn, type="warning").split()
        self._impl.send_warning(message, trace)

    @property
    def closed_stream(self) -> bool:
        """Whether this process ended the stream (end-of-stream or error)."""
        return self._impl.closed

    def __enter__(self) -> "LineProcMirror":
        self._impl.open()
        self._redirect()
        return self

    def __exit__(self, exc_type, exc_value, exc_traceback) -> None:
        self._restore()
        if exc_value is not None:
            self.send_error(exc_value)
        else:
            self.send_eof()
        return None

    def __reduce__(self):
        # A mirror is one child's: handing the same mirror object to a second
        # process (`(pbuf.mirror,) * 4` under a Pool) would have two children
        # share one stream, and the first to close it would end the buffer's
        # wait for both. Each further pickling in the parent therefore
        # registers one more mirror, and says so.
        owner = self._owner
        if owner is not None and self._owner_pid == os.getpid():
            self._pickled += 1
            if self._pickled > 1:
                extra = owner._extra_mirror(self)
                return (_attach, (extra.token,))
        return (_attach, (self._impl.token,))


class LineProcBuffer:
    """The last `maxlen` records written by child processes through mirrors.

    Each access to `mirror` registers one more mirror, as in sync-stream.
    Records are lines (str) and errors / warnings (GroupedMessage); a child
    that dies without closing its mirror is reported by an error record.
    """

    def __init__(self, maxlen: int = 20) -> None:
        self._impl = _syncstream.LineProcBuffer(_check_maxlen(maxlen))
        self._lock = threading.Lock()
        self._made = 0
        self._earlier: tuple = ()  # records from before reset_states()
        self._extras = []

    @property
    def maxlen(self) -> int:
        return self._impl.maxlen

    @property
    def mirror(self) -> LineProcMirror:
        """A new mirror (registered now: wait() waits for it)."""
        with self._lock:
            self._made += 1
            name = "mirror-{0}".format(self._made)
        return LineProcMirror(self._impl.new_mirror(name), _owner=self)

    def _extra_mirror(self, duplicate: LineProcMirror) -> LineProcMirror:
        extra = self.mirror
        self._extras.append(extra)
        warnings.warn(
            "syncstream: mirror '{0}' was handed to more than one process; "
            "registered '{1}' for this one (take pbuf.mirror once per "
            "process)".format(duplicate.name, extra.name),
            RuntimeWarning, stacklevel=3)
        return extra

    @property
    def n_mirrors(self) -> int:
        """Mirrors still open (not closed, died or force-stopped)."""
        return sum(1 for _, state, _ in self._impl.mirrors()
                   if state == "open")

    def mirror_states(self):
        """(name, state, pid) of every mirror since creation or
        reset_states(); state is "open", "closed", "died" or
        "force-stopped"."""
        return self._impl.mirrors()

    def wait(self, timeout: Optional[float] = None) -> None:
        """Waits until every mirror is closed (end-of-stream or error), its
        process died (reported as an error record) or force_stop() ran.
        With a timeout, TimeoutError naming the mirrors still open. Ctrl-C
        interrupts it."""
        self._impl.wait(timeout)

    def read(self, size: Optional[int] = None) -> Tuple[
            Union[str, GroupedMessage], ...]:
        """The last `size` records (all held if None), oldest first."""
        maxlen = self._impl.maxlen
        n = maxlen if size is None else min(size, maxlen)
        if n <= 0:
            return ()
        current = _items(self._impl.read(n))
        if self._earlier and len(current) < n:
            return self._earlier[len(self._earlier) - (n - len(current)):] + \
                current
        return current

    def __len__(self) -> int:
        return min(self._impl.maxlen, len(self._earlier) + len(self._impl))

    def clear(self) -> None:
        """Forgets every record held; mirrors are unaffected."""
        self._earlier = ()
        self._impl.clear()

    def stop_all_mirrors(self) -> None:
        """Asks every mirror to stop: its next write raises StopIteration
        (inside `with mirror:` that ends its stream with an error record).
        """
        self._impl.stop_all_mirrors()

    def force_stop(self) -> None:
        """stop_all_mirrors(), and wait() returns at once."""
        self._impl.force_stop()

    def reset_states(self) -> None:
        """Makes the buffer ready for another round of mirrors: forgets the
        mirrors (and the stop) and keeps the records."""
        with self._lock:
            self._earlier = self.read()
            self._extras = []
            self._impl.reset()

    def write(self, data: str):
        raise NotImplementedError(
            "syncstream: Should not use this method, use "
            "`self.mirror.write()` for instead.")

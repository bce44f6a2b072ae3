"""LineFileBuffer: processes on hosts that share only a directory.

sync-stream's LineFileBuffer API over syncstream's file kind. The disk format
is this project's (a directory of immutable, checksummed segments and a lock
file: docs/formats/), not sync-stream's log files.
"""

import os
import socket

from typing import Optional, Tuple, Union

from . import _syncstream
from .base import GroupedMessage, _items
from .mproc import _Redirecting, _check_maxlen

__all__ = ["LineFileBuffer"]


class LineFileBuffer(_Redirecting):
    """The last `maxlen` lines written by every process that opens the same
    `file_path` (a directory, created if needed), read by any of them.

    Each process opens its own instance. Lines are committed to disk in
    batches (at the latest `flush_interval` seconds after they were written,
    and before every read); `timeout` bounds the wait for the directory's
    lock (seconds, None: 30). `tmp_id` names this writer in its records
    (default: host and pid). `with fbuf:` redirects sys.stdout and
    sys.stderr.
    """

    def __init__(self, file_path: str, maxlen: int = 20,
                 tmp_id: Optional[str] = None,
                 timeout: Optional[float] = None,
                 flush_interval: float = 0.02) -> None:
        name = tmp_id or "{0}.{1}".format(socket.gethostname(), os.getpid())
        self._impl = _syncstream.LineFileBuffer(
            os.fspath(file_path), _check_maxlen(maxlen), str(name),
            30.0 if timeout is None else float(timeout), float(flush_interval))
        self.write = self._impl.bare_write()

    @property
    def maxlen(self) -> int:
        return self._impl.maxlen

    @property
    def file_path(self) -> str:
        return self._impl.path

    def write(self, data: str) -> int:  # replaced per instance in __init__
        return self._impl.write(data)

    def flush(self) -> None:
        """Commits the complete lines written so far to the disk (a partial
        line stays partial)."""
        self._impl.commit()

    def new_line(self) -> None:
        """Ends the calling thread's partial line, if it has one."""
        self._impl.end_line()

    def send_eof(self) -> None:
        self._impl.send_eof()

    def send_error(self, obj_err: BaseException) -> None:
        message, trace = GroupedMessage(obj_err, type="error").split()
        self._impl.send_error(message, trace)

    def send_warning(self, obj_warn: Warning) -> None:
        message, trace = GroupedMessage(obj_warn, type="warning").split()
        self._impl.send_warning(message, trace)

    def read(self, size: Optional[int] = None) -> Tuple[
            Union[str, GroupedMessage], ...]:
        """The last `size` records of every process (all held if None),
        oldest first; this process's partial lines come last."""
        return _items(self._impl.read(size))

    def __len__(self) -> int:
        return len(self._impl.read(None))

    def clear(self) -> None:
        """Makes every record committed so far invisible to every process."""
        self._impl.clear()

    def __enter__(self) -> "LineFileBuffer":
        self._redirect()
        return self

    def __exit__(self, exc_type, exc_value, exc_traceback) -> None:
        self._restore()
        if exc_value is not None:
            self.send_error(exc_value)
        return None

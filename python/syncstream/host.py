"""LineHostBuffer, LineHostMirror and LineHostReader: hosts on a network.

sync-stream's host API over syncstream's host kind. The collector is not a
Flask service: it listens itself on a TCP or Unix address, and mirrors and
readers speak this project's framed protocol with an optional shared key
(HMAC challenge), not sync-stream's HTTP/JSON.
"""

import os
import socket

from typing import Optional, Tuple, Union

from . import _syncstream
from .base import GroupedMessage, _items
from .mproc import _Redirecting, _check_maxlen

__all__ = ["LineHostBuffer", "LineHostMirror", "LineHostReader"]


def _key_bytes(key) -> bytes:
    """The shared key's bytes (b"" for none): bytes as given, a str as
    UTF-8."""
    if key is None:
        return b""
    if isinstance(key, (bytes, bytearray)):
        return bytes(key)
    return str(key).encode("utf-8")


class LineHostBuffer:
    """The collector: the last `maxlen` records sent by LineHostMirrors.

    Listens at once on `address` ("tcp:HOST:PORT", port 0 for any free one,
    or "unix:/path"); `address` afterwards is the bound one, for mirrors and
    readers. A `key` (at least 16 bytes) is required unless the address is
    loopback or a Unix socket. Use as a context manager, or call close().
    """

    def __init__(self, address: str = "tcp:127.0.0.1:0", maxlen: int = 20,
                 key=None) -> None:
        self._impl = _syncstream.LineHostBuffer(
            address, _check_maxlen(maxlen), _key_bytes(key))

    @property
    def address(self) -> str:
        return self._impl.address

    @property
    def maxlen(self) -> int:
        return self._impl.maxlen

    def serve(self, api=None) -> bool:
        """Kept for sync-stream code: the collector already serves."""
        return True

    def read(self, size: Optional[int] = None) -> Tuple[
            Union[str, GroupedMessage], ...]:
        return _items(self._impl.read(size))

    def __len__(self) -> int:
        return len(self._impl)

    def clear(self) -> None:
        self._impl.clear()

    def stop_all_mirrors(self) -> None:
        """Refuses further lines: every mirror's next write raises
        StopIteration."""
        self._impl.stop_all_mirrors()

    def reset_states(self) -> None:
        """Accepts lines again and clears the records."""
        self._impl.reset_states()

    @property
    def stopped(self) -> bool:
        return self._impl.stopped

    def write(self, data: str):
        raise NotImplementedError(
            "syncstream: Should not use this method, use "
            "`LineHostMirror(address).write()` for instead.")

    def close(self) -> None:
        """Stops listening and closes every connection; records stay
        readable."""
        self._impl.shutdown()

    def __enter__(self) -> "LineHostBuffer":
        return self

    def __exit__(self, exc_type, exc_value, exc_traceback) -> None:
        self.close()
        return None


class LineHostMirror(_Redirecting):
    """Sends this process's lines to the LineHostBuffer at `address`.

    Lines are assembled here (never glued to another client's) and sent in
    acknowledged batches that survive a reconnection. `timeout` (seconds)
    bounds connecting, a write waiting for a full send queue, flush() and
    close() (None: 30 s for flush/close). `aggressive` is accepted for
    sync-stream code and ignored. `with mirror:` redirects sys.stdout and
    sys.stderr, then sends end-of-stream, or the error record of an
    exception leaving the block, and waits until the collector holds it all.
    """

    def __init__(self, address: str, aggressive: bool = False,
                 timeout: Optional[float] = None, key=None,
                 name: Optional[str] = None) -> None:
        if not isinstance(address, str) or address == "":
            raise TypeError('The argument "address" should be a non-empty str.')
        self.address = address
        self.aggressive = aggressive
        name = name or "{0}.{1}".format(socket.gethostname(), os.getpid())
        self._impl = _syncstream.LineHostMirror(
            address, _key_bytes(key), name,
            None if timeout is None else float(timeout))
        self.write = self._impl.bare_write()

    def write(self, data: str) -> int:  # replaced per instance in __init__
        return self._impl.write(data)

    def flush(self) -> None:
        """Waits until every complete line written so far is stored by the
        collector."""
        self._impl.sync()

    def new_line(self) -> None:
        self._impl.end_line()

    def send_eof(self) -> None:
        self._impl.send_eof()
        self._impl.sync()

    def send_error(self, obj_err: BaseException) -> None:
        message, trace = GroupedMessage(obj_err, type="error").split()
        self._impl.send_error(message, trace)
        self._impl.sync()

    def send_warning(self, obj_warn: Warning) -> None:
        message, trace = GroupedMessage(obj_warn, type="warning").split()
        self._impl.send_warning(message, trace)

    def close(self) -> None:
        """Sends every partial line, waits for the acknowledgements and
        disconnects. Idempotent."""
        self._impl.close()

    def __enter__(self) -> "LineHostMirror":
        self._redirect()
        return self

    def __exit__(self, exc_type, exc_value, exc_traceback) -> None:
        self._restore()
        if exc_value is not None:
            self.send_error(exc_value)
        else:
            self.send_eof()
        return None


class LineHostReader:
    """Reads and controls a LineHostBuffer from any process or host."""

    def __init__(self, address: str, timeout: Optional[float] = None,
                 key=None) -> None:
        self.address = address
        self._impl = _syncstream.LineHostReader(
            address, _key_bytes(key),
            None if timeout is None else float(timeout))

    def read(self, size: Optional[int] = None) -> Tuple[
            Union[str, GroupedMessage], ...]:
        return _items(self._impl.read(size))

    def __len__(self) -> int:
        return len(self.read())

    @property
    def maxlen(self) -> int:
        return self._impl.info()[1]

    @property
    def stopped(self) -> bool:
        return self._impl.info()[2]

    def clear(self) -> None:
        self._impl.clear()

    def stop_all_mirrors(self) -> None:
        self._impl.stop_all_mirrors()

    def reset_states(self) -> None:
        self._impl.reset_states()

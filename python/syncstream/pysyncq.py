"""PySyncQ: pysyncq's API on syncstream's shared-memory queue (SyncQueue).

A named broadcast queue in shared memory: every process that open()s it
reads every message appended after it opened, once, in order. See
docs/python.md ("Queue: PySyncQ").
"""

import multiprocessing
import os

from typing import Optional, Tuple, Union

from . import _syncstream

__all__ = ["PySyncQ"]

_Body = Union[str, bytes]


def _as_bytes(value) -> bytes:
    """str and bytes as they are (str as UTF-8); anything else as str()."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    return str(value).encode("utf-8")


class _ScreenSet(set):
    """A set whose changes screen (or unscreen) the queue participant."""

    def __init__(self, apply) -> None:
        super().__init__()
        self._apply = apply  # apply(name: bytes, on: bool), or None

    def _set(self, item, on: bool) -> None:
        if self._apply is not None:
            self._apply(_as_bytes(item), on)

    def add(self, item) -> None:
        super().add(item)
        self._set(item, True)

    def update(self, *others) -> None:
        for other in others:
            for item in other:
                self.add(item)

    def discard(self, item) -> None:
        if item in self:
            super().discard(item)
            self._set(item, False)

    def remove(self, item) -> None:
        if item not in self:
            raise KeyError(item)
        self.discard(item)

    def pop(self):
        item = next(iter(self))
        self.discard(item)
        return item

    def clear(self) -> None:
        for item in list(self):
            self.discard(item)

    def __ior__(self, other):
        self.update(other)
        return self

    def __isub__(self, other):
        for item in list(other):
            self.discard(item)
        return self


class PySyncQ:
    """pysyncq's queue: PySyncQ(name, size, start) in the parent, then
    open(sender) in every process that uses it.

    The queue is created (or opened) by name at once; it reaches children as
    an argument under fork and spawn (pickled by name), and an unrelated
    process attaches with PySyncQ(name) and open(). The last participant to
    close() it unlinks it.
    """

    def __init__(self, name: str = "pysyncq", size: int = 1 << 20,
                 start: Optional[str] = None) -> None:
        self.name = name
        self.size = size
        # Kept for pysyncq code; the queue works the same under every start
        # method.
        self.start = start or multiprocessing.get_start_method(
            allow_none=True) or "fork"
        self._pid = os.getpid()
        self._queue = _syncstream.SyncQueue(name, size)
        self.sender: Optional[str] = None
        self.scrnsend = _ScreenSet(None)
        self.scrntype = _ScreenSet(None)

    def __reduce__(self):
        return (_reopen, (self.name, self.size, self.start))

    def _handle(self):
        if self._pid != os.getpid():
            # A forked child: attach its own participant, not the parent's.
            self._pid = os.getpid()
            self._queue = _syncstream.SyncQueue(self.name, self.size)
            self.scrnsend = _ScreenSet(None)
            self.scrntype = _ScreenSet(None)
        return self._queue

    def open(self, sender: str, filtself: bool = True) -> None:
        """Registers this process as `sender`: from now on it reads every
        message appended by the others (and its own unless `filtself`)."""
        queue = self._handle()
        queue.attach(sender, filtself)
        self.sender = sender
        senders, types = set(self.scrnsend), set(self.scrntype)
        self.scrnsend = _ScreenSet(
            lambda s, on: queue.screen_sender(s, on))
        self.scrntype = _ScreenSet(lambda t, on: queue.screen_type(t, on))
        if filtself:
            set.add(self.scrnsend, sender)
        for s in senders:
            self.scrnsend.add(s)
        for t in types:
            self.scrntype.add(t)

    def append(self, mtype: _Body = "", msg: _Body = "", block: bool = False,
               timer: Optional[float] = 0.5) -> None:
        """Appends a message. A full queue raises MemoryError at once, or
        with `block` after `timer` seconds (None: waits for space for
        ever; Ctrl-C interrupts)."""
        self._handle().append(_as_bytes(mtype), _as_bytes(msg), bool(block),
                              None if timer is None else float(timer))

    def pop(self, block: bool = False, timer: Optional[float] = 0.5,
            decode: bool = True) -> Optional[Tuple[_Body, _Body, _Body]]:
        """The next unscreened message as (sender, mtype, mbody), or None
        when there is none (with `block`: none within `timer` seconds; None:
        waits for ever, Ctrl-C interrupts)."""
        timeout = 0.0 if not block else (None if timer is None
                                         else float(timer))
        message = self._handle().pop(timeout)
        if message is None or not decode:
            return message
        return tuple(part.decode("utf-8", "replace") for part in message)

    def __call__(self, block: bool = False, timer: Optional[float] = 0.5,
                 decode: bool = True):
        """Iterates: pops until no message comes (each pop waits as
        pop(block, timer) does)."""
        while True:
            message = self.pop(block=block, timer=timer, decode=decode)
            if message is None:
                return
            yield message

    def __iter__(self):
        return self()

    def close(self) -> None:
        """Releases this process's participant; the last one unlinks the
        queue."""
        if self._pid == os.getpid():
            self._queue.close()


def _reopen(name: str, size: int, start: str) -> PySyncQ:
    return PySyncQ(name, size, start)

"""GroupedMessage: an error or warning record, printable as its traceback."""

import traceback
import warnings

from typing import Iterable, List, Optional, Tuple

__all__ = ["GroupedMessage"]


def _exception_lines(error: BaseException) -> List[str]:
    """Python's own traceback text of `error`, one entry per line."""
    text = "".join(
        traceback.format_exception(type(error), error, error.__traceback__)
    )
    return text.rstrip("\n").split("\n")


def _warning_lines(warning) -> List[str]:
    """The lines of a Warning, or of a warnings.WarningMessage (as
    `warnings.catch_warnings(record=True)` collects them)."""
    if isinstance(warning, warnings.WarningMessage):
        head = '  File "{0}", line {1}'.format(warning.filename, warning.lineno)
        message = warning.message
        if isinstance(message, Warning):
            text = "{0}: {1}".format(type(message).__name__, message)
        else:
            text = "{0}: {1}".format(warning.category.__name__, message)
        return [head, text]
    if isinstance(warning, BaseException):
        return _exception_lines(warning)
    return [str(warning)]


class GroupedMessage:
    """An error or a warning sent through a mirror (sync-stream's
    GroupedMessage).

    `type` is "error" or "warning"; `data` the lines of Python's traceback
    text (the last one "ExceptionType: message"); `sender` the mirror's name
    (None for a message made here). `str()` gives the traceback as Python
    prints it. Errors this package reports itself (a child that died without
    closing its mirror) have the one line that says so.
    """

    __slots__ = ("type", "data", "sender")

    def __init__(self, data=None, type: Optional[str] = None,
                 sender: Optional[str] = None) -> None:
        if isinstance(data, Warning) or isinstance(
                data, warnings.WarningMessage):
            lines = _warning_lines(data)
            type = type or "warning"
        elif isinstance(data, BaseException):
            lines = _exception_lines(data)
            type = type or "error"
        elif data is None:
            lines = []
        elif isinstance(data, str):
            lines = data.split("\n")
        else:
            lines = [str(line) for line in data]
        self.type: str = type or "error"
        self.data: List[str] = lines
        self.sender: Optional[str] = sender

    def split(self) -> Tuple[str, List[str]]:
        """(message, trace): the last line and the lines before it."""
        if not self.data:
            return "", []
        return self.data[-1], list(self.data[:-1])

    def serialize(self) -> dict:
        return {"type": self.type, "data": list(self.data)}

    @classmethod
    def deserialize(cls, value: dict) -> "GroupedMessage":
        return cls(value.get("data", ()), type=value.get("type"))

    def __str__(self) -> str:
        return "\n".join(self.data)

    def __repr__(self) -> str:
        return "GroupedMessage(type={0!r}, sender={1!r}, data={2!r})".format(
            self.type, self.sender, self.data)

    def __eq__(self, other) -> bool:
        if not isinstance(other, GroupedMessage):
            return NotImplemented
        return self.type == other.type and self.data == other.data

    def __reduce__(self):
        return (GroupedMessage, (self.data, self.type, self.sender))


def _from_record(item):
    """A record from the engine as sync-stream shows it: a str for a line,
    a GroupedMessage for an error or a warning."""
    if isinstance(item, str):
        return item
    kind, sender, _type_tag, text, trace = item
    return GroupedMessage(list(trace) + [text], type=kind, sender=sender)


def _items(records: Iterable) -> tuple:
    records = tuple(records)
    if all(isinstance(r, str) for r in records):
        return records
    return tuple(_from_record(r) for r in records)

"""syncstream: lines from threads and processes gathered into one ordered
stream, never interleaved (sync-stream's API on a C++ engine).

    import syncstream
    buf = syncstream.LineBuffer(10)
    with buf:
        print("hello")
    buf.read()   # ('hello',)

See docs/python.md in the syncstream repository.
"""

from .version import __version__
from .base import GroupedMessage
from .mproc import LineBuffer, LineProcBuffer, LineProcMirror
from .file import LineFileBuffer
from .host import LineHostBuffer, LineHostMirror, LineHostReader
from .pysyncq import PySyncQ

__all__ = [
    "__version__",
    "GroupedMessage",
    "LineBuffer",
    "LineFileBuffer",
    "LineHostBuffer",
    "LineHostMirror",
    "LineHostReader",
    "LineProcBuffer",
    "LineProcMirror",
    "PySyncQ",
]

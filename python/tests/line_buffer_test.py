"""LineBuffer: sync-stream 1.2.2's documented behaviour on the C++ engine."""

import io
import logging
import re
import sys
import threading
import unittest

import syncstream


def print_lines(count: int, tag: str) -> None:
    for i in range(count):
        print("Thd:", tag, "Line:", "buffer", "new", i)


def in_threads(target, args_of) -> None:
    threads = [threading.Thread(target=target, args=a) for a in args_of]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


class LineBufferTest(unittest.TestCase):

    def test_read_counts_the_partial_last_line(self):
        # sync-stream's test_mproc_read_buffer.
        tbuf = syncstream.LineBuffer(3)
        tbuf.write("line1\n")
        tbuf.write("line2\nline3")
        self.assertEqual(len(tbuf), 3)
        self.assertEqual(tbuf.read(), ("line1", "line2", "line3"))
        self.assertEqual(tbuf.read(1), ("line3",))
        self.assertEqual(tbuf.read(2), ("line2", "line3"))
        self.assertEqual(tbuf.read(3), ("line1", "line2", "line3"))
        self.assertEqual(tbuf.read(0), ())
        # A fourth line evicts the first; the partial one completes.
        tbuf.write(" done\n")
        self.assertEqual(tbuf.read(), ("line1", "line2", "line3 done"))
        tbuf.write("line4\n")
        self.assertEqual(tbuf.read(), ("line2", "line3 done", "line4"))

    def test_a_partial_line_pushes_out_the_oldest_within_maxlen(self):
        tbuf = syncstream.LineBuffer(2)
        tbuf.write("a\nb\nc")
        self.assertEqual(tbuf.read(), ("b", "c"))
        self.assertEqual(len(tbuf), 2)

    def test_prints_in_a_with_block(self):
        # sync-stream's test_mproc_buffer, its text shortened.
        tbuf = syncstream.LineBuffer(10)
        stdout, stderr = sys.stdout, sys.stderr
        with tbuf:
            self.assertIs(sys.stdout, tbuf)
            self.assertIs(sys.stderr, tbuf)
            print("Hello!")
            print("Multiple", "sep", "example")
            print("An example of \n splitted message.\n")
            print("An extra message.")
            print("层次结构的顶部是抽象基类 IOBase 。\n抽象基类 RawIOBase 。"
                  "\n参数名不是规范的一部分。")
            print("Multiple", "sep", "example", end="")
        self.assertIs(sys.stdout, stdout)
        self.assertIs(sys.stderr, stderr)
        self.assertEqual(tbuf.read(4), (
            "层次结构的顶部是抽象基类 IOBase 。", "抽象基类 RawIOBase 。",
            "参数名不是规范的一部分。", "Multiple sep example"))
        self.assertEqual(tbuf.read(), (
            "Hello!", "Multiple sep example", "An example of ",
            " splitted message.", "", "An extra message.",
            "层次结构的顶部是抽象基类 IOBase 。", "抽象基类 RawIOBase 。",
            "参数名不是规范的一部分。", "Multiple sep example"))

    def test_several_prints_make_one_line_and_flush_does_not_end_it(self):
        tbuf = syncstream.LineBuffer(5)
        with tbuf:
            print("a", end="", flush=True)
            print("b", end="")
            sys.stdout.flush()
            print("c")
        self.assertEqual(tbuf.read(), ("abc",))
        tbuf.write("x")
        tbuf.new_line()
        tbuf.new_line()  # nothing pending: no empty line
        self.assertEqual(tbuf.read(), ("abc", "x"))

    def test_close_stores_partial_lines_and_clear_forgets_lines(self):
        tbuf = syncstream.LineBuffer(5)
        tbuf.write("one\ntwo")
        tbuf.close()
        tbuf.write("three\n")
        self.assertEqual(tbuf.read(), ("one", "two", "three"))
        tbuf.clear()
        self.assertEqual(tbuf.read(), ())
        self.assertEqual(len(tbuf), 0)

    def test_four_threads_ten_lines_into_ten(self):
        # sync-stream's test_mproc_thread.
        tbuf = syncstream.LineBuffer(10)
        with tbuf:
            in_threads(print_lines, [(10, str(t)) for t in range(4)])
        messages = tbuf.read()
        self.assertEqual(len(messages), 10)
        for m in messages:
            self.assertRegex(m, r"^Thd: \d Line: buffer new \d$")

    def test_clear_between_rounds(self):
        # sync-stream's test_mproc_thread_clear.
        tbuf = syncstream.LineBuffer(20)

        def write_4_threads():
            with tbuf:
                in_threads(print_lines, [(2, str(t)) for t in range(4)])

        write_4_threads()
        write_4_threads()
        self.assertEqual(len(tbuf.read()), 16)
        tbuf.clear()
        self.assertEqual(len(tbuf.read()), 0)
        write_4_threads()
        tbuf.clear()
        write_4_threads()
        self.assertEqual(len(tbuf.read()), 8)

    def test_threads_partial_lines_are_never_glued(self):
        tbuf = syncstream.LineBuffer(10)
        barrier = threading.Barrier(2)

        def half(tag):
            tbuf.write(tag + "-first-half ")
            barrier.wait()  # both halves are pending now
            tbuf.write(tag + "-second-half\n")

        in_threads(half, [("A",), ("B",)])
        self.assertCountEqual(tbuf.read(), (
            "A-first-half A-second-half", "B-first-half B-second-half"))

    def test_eight_threads_of_print_never_glue_lines(self):
        per_thread = 10000
        tbuf = syncstream.LineBuffer(8 * per_thread)

        def worker(t):
            for i in range(per_thread):
                print("thread", t, "line", i, "payload", "x" * (i % 7))

        with tbuf:
            in_threads(worker, [(t,) for t in range(8)])
        lines = tbuf.read()
        self.assertEqual(len(lines), 8 * per_thread)
        pattern = re.compile(r"^thread (\d) line (\d+) payload (x*)$")
        seen = [[] for _ in range(8)]
        for line in lines:
            m = pattern.match(line)
            self.assertIsNotNone(m, "malformed line: %r" % line)
            t, i = int(m.group(1)), int(m.group(2))
            self.assertEqual(len(m.group(3)), i % 7)
            seen[t].append(i)
        for t in range(8):  # each thread's lines whole and in order
            self.assertEqual(seen[t], list(range(per_thread)))

    def test_logging_handler_writes_lines(self):
        # sync-stream's test_mproc_with_logging, without pytest's capsys.
        tbuf = syncstream.LineBuffer(10)
        log = logging.getLogger("line_buffer_test")
        log.setLevel(logging.DEBUG)
        handler = logging.StreamHandler(tbuf)
        handler.setFormatter(logging.Formatter("%(levelname)s - %(message)s"))
        log.addHandler(handler)
        try:
            for i in range(1, 4):
                log.debug("Test item %d.", i)
        finally:
            log.removeHandler(handler)
        self.assertEqual(tbuf.read(), (
            "DEBUG - Test item 1.", "DEBUG - Test item 2.",
            "DEBUG - Test item 3."))

    def test_file_like_surface(self):
        tbuf = syncstream.LineBuffer(4)
        self.assertEqual(tbuf.maxlen, 4)
        self.assertTrue(tbuf.writable())
        self.assertFalse(tbuf.isatty())
        self.assertFalse(tbuf.closed)
        self.assertEqual(tbuf.write("héllo\n"), 6)  # characters, as TextIO
        tbuf.writelines(["a\n", "b\n"])
        self.assertEqual(tbuf.read(), ("héllo", "a", "b"))
        with self.assertRaises(io.UnsupportedOperation):
            tbuf.fileno()
        with self.assertRaises(TypeError):
            tbuf.write(b"bytes\n")

    def test_nested_redirects_restore_in_order(self):
        outer, inner = syncstream.LineBuffer(3), syncstream.LineBuffer(3)
        with outer:
            print("to outer")
            with inner:
                print("to inner")
            print("outer again")
        self.assertEqual(outer.read(), ("to outer", "outer again"))
        self.assertEqual(inner.read(), ("to inner",))

    def test_maxlen_must_be_a_positive_integer(self):
        for bad in (0, -1, 2.5, "3", True):
            with self.assertRaises(TypeError):
                syncstream.LineBuffer(bad)


if __name__ == "__main__":
    unittest.main()

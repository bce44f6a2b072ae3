"""LineFileBuffer: processes sharing one directory, from Python."""

import multiprocessing
import os
import re
import tempfile
import unittest

import syncstream
from syncstream import GroupedMessage

WAIT = 60.0


def writer(path, tag, count):
    fbuf = syncstream.LineFileBuffer(path, maxlen=1000, tmp_id=tag)
    with fbuf:
        for i in range(count):
            print(tag, "line", i)
    fbuf.flush()


def failing_writer(path):
    fbuf = syncstream.LineFileBuffer(path, maxlen=1000, tmp_id="failing")
    try:
        raise KeyError("missing")
    except KeyError as err:
        fbuf.send_error(err)
    fbuf.flush()


class LineFileBufferTest(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        self.path = os.path.join(self.dir, "run.log")

    def test_processes_share_one_directory(self):
        for method in ("fork", "spawn"):
            with self.subTest(method=method):
                path = self.path + "." + method
                ctx = multiprocessing.get_context(method)
                procs = [ctx.Process(target=writer, args=(path, tag, 200))
                         for tag in ("alpha", "beta", "gamma")]
                for p in procs:
                    p.start()
                for p in procs:
                    p.join(WAIT)
                    self.assertEqual(p.exitcode, 0)
                reader = syncstream.LineFileBuffer(path, maxlen=1000)
                lines = reader.read()
                self.assertEqual(len(lines), 600)
                self.assertEqual(len(reader), 600)
                seen = {"alpha": [], "beta": [], "gamma": []}
                for line in lines:
                    m = re.match(r"^(alpha|beta|gamma) line (\d+)$", line)
                    self.assertIsNotNone(m, line)
                    seen[m.group(1)].append(int(m.group(2)))
                for tag in seen:
                    self.assertEqual(seen[tag], list(range(200)))
                self.assertEqual(reader.read(2)[-1][-3:], "199")

    def test_read_partial_line_eviction_and_clear(self):
        a = syncstream.LineFileBuffer(self.path, maxlen=3)
        b = syncstream.LineFileBuffer(self.path, maxlen=3)
        a.write("one\ntwo\nthree\nfour\nfive")
        self.assertEqual(a.read(), ("three", "four", "five"))
        self.assertEqual(a.read(1), ("five",))
        self.assertEqual(b.read(), ("two", "three", "four"))  # committed
        a.new_line()
        a.flush()  # commits: visible to every instance now
        self.assertEqual(b.read(), ("three", "four", "five"))
        b.clear()
        self.assertEqual(a.read(), ())
        self.assertEqual(a.maxlen, 3)

    def test_error_records_carry_the_traceback(self):
        ctx = multiprocessing.get_context("spawn")
        p = ctx.Process(target=failing_writer, args=(self.path,))
        p.start()
        p.join(WAIT)
        messages = syncstream.LineFileBuffer(self.path, maxlen=10).read()
        self.assertEqual(len(messages), 1)
        self.assertIsInstance(messages[0], GroupedMessage)
        self.assertEqual(messages[0].type, "error")
        self.assertEqual(messages[0].data[-1], "KeyError: 'missing'")
        self.assertIn("in failing_writer", str(messages[0]))


if __name__ == "__main__":
    unittest.main()

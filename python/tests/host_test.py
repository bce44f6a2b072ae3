"""LineHostBuffer / LineHostMirror / LineHostReader from Python, across
processes on the loopback network."""

import multiprocessing
import re
import unittest

import syncstream
from syncstream import GroupedMessage

WAIT = 60.0
KEY = b"a shared key of 32 bytes, really"


def sender(address, tag, count, key=None):
    with syncstream.LineHostMirror(address, timeout=WAIT, key=key,
                                   name=tag) as mirror:
        for i in range(count):
            print(tag, "line", i)
    mirror.close()


def failing_sender(address):
    with syncstream.LineHostMirror(address, timeout=WAIT, name="bad"):
        raise OSError("disk on fire")


class HostTest(unittest.TestCase):

    def test_mirrors_in_processes_reach_the_buffer_and_the_reader(self):
        for method in ("fork", "spawn"):
            with self.subTest(method=method):
                with syncstream.LineHostBuffer(maxlen=1000) as hbuf:
                    ctx = multiprocessing.get_context(method)
                    procs = [ctx.Process(target=sender,
                                         args=(hbuf.address, tag, 100))
                             for tag in ("alpha", "beta", "gamma")]
                    for p in procs:
                        p.start()
                    for p in procs:
                        p.join(WAIT)
                        self.assertEqual(p.exitcode, 0)
                    lines = hbuf.read()
                    self.assertEqual(len(lines), 300)
                    self.assertEqual(len(hbuf), 300)
                    seen = {"alpha": [], "beta": [], "gamma": []}
                    for line in lines:
                        m = re.match(r"^(alpha|beta|gamma) line (\d+)$", line)
                        self.assertIsNotNone(m, line)
                        seen[m.group(1)].append(int(m.group(2)))
                    for tag in seen:
                        self.assertEqual(seen[tag], list(range(100)))
                    reader = syncstream.LineHostReader(hbuf.address,
                                                       timeout=WAIT)
                    self.assertEqual(reader.read(), lines)
                    self.assertEqual(reader.read(5), lines[-5:])
                    self.assertEqual(reader.maxlen, 1000)
                    reader.clear()
                    self.assertEqual(hbuf.read(), ())

    def test_error_record_and_stop(self):
        with syncstream.LineHostBuffer(maxlen=10) as hbuf:
            p = multiprocessing.get_context("spawn").Process(
                target=failing_sender, args=(hbuf.address,))
            p.start()
            p.join(WAIT)
            messages = hbuf.read()
            self.assertEqual(len(messages), 1)
            self.assertIsInstance(messages[0], GroupedMessage)
            self.assertEqual(messages[0].data[-1], "OSError: disk on fire")
            self.assertIn("in failing_sender", str(messages[0]))
            mirror = syncstream.LineHostMirror(hbuf.address, timeout=WAIT)
            mirror.write("before the stop\n")
            mirror.flush()
            syncstream.LineHostReader(hbuf.address).stop_all_mirrors()
            self.assertTrue(hbuf.stopped)
            with self.assertRaises(StopIteration):
                mirror.write("after the stop\n")
                mirror.flush()
            hbuf.reset_states()
            self.assertFalse(hbuf.stopped)

    def test_a_key_is_checked(self):
        with syncstream.LineHostBuffer(maxlen=10, key=KEY) as hbuf:
            sender(hbuf.address, "keyed", 3, key=KEY)
            self.assertEqual(len(hbuf.read()), 3)
            with self.assertRaises(Exception):
                syncstream.LineHostReader(hbuf.address, timeout=5,
                                          key=b"not the key, but long enough")


if __name__ == "__main__":
    unittest.main()

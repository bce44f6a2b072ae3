"""PySyncQ: pysyncq's guide, point by point, on the shared-memory queue."""

import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import threading
import unittest

import syncstream

WAIT = 60.0


def unique(tag: str) -> str:
    return "pyq-{0}-{1}-{2}".format(tag, os.getpid(), os.urandom(3).hex())


def child_writer(q, sender, count, ready):
    q.open(sender)
    ready.set()
    for i in range(count):
        q.append("count", "{0} {1}".format(sender, i), block=True, timer=None)
    q.close()


def child_reader_that_never_reads(q, ready):
    q.open("sleeper")
    ready.set()
    threading.Event().wait(600)


class PySyncQTest(unittest.TestCase):

    def test_children_under_fork_and_spawn(self):
        for method in ("fork", "spawn"):
            with self.subTest(method=method):
                q = syncstream.PySyncQ(unique(method), size=1 << 20)
                q.open("parent")
                ctx = multiprocessing.get_context(method)
                readies = [ctx.Event() for _ in range(2)]
                procs = [ctx.Process(target=child_writer,
                                     args=(q, "c%d" % i, 500, readies[i]))
                         for i in range(2)]
                for p in procs:
                    p.start()
                got = []
                while len(got) < 1000:
                    m = q.pop(block=True, timer=WAIT)
                    self.assertIsNotNone(m)
                    got.append(m)
                for p in procs:
                    p.join(WAIT)
                    self.assertEqual(p.exitcode, 0)
                for i in range(2):
                    mine = [body for sender, mtype, body in got
                            if sender == "c%d" % i]
                    self.assertEqual(mine, ["c%d %d" % (i, k)
                                            for k in range(500)])
                self.assertTrue(all(mtype == "count" for _, mtype, _ in got))
                self.assertIsNone(q.pop())
                q.close()

    def test_full_queue_raises_memory_error(self):
        q = syncstream.PySyncQ(unique("full"), size=4096)
        q.open("writer")
        reader = multiprocessing.get_context("fork")
        ready = reader.Event()
        p = reader.Process(target=child_reader_that_never_reads,
                           args=(q, ready))
        p.start()
        try:
            self.assertTrue(ready.wait(WAIT))
            with self.assertRaises(MemoryError):
                for _ in range(1000):
                    q.append("t", "x" * 100)
            with self.assertRaises(MemoryError):
                q.append("t", "x" * 100, block=True, timer=0.05)
            # The reader dies (SIGKILL): its unread messages stop holding
            # space, and a blocking append gets through.
            os.kill(p.pid, signal.SIGKILL)
            p.join(WAIT)
            q.append("t", "after the reader died", block=True, timer=WAIT)
        finally:
            if p.is_alive():
                p.kill()
            q.close()

    def test_pop_iteration_types_and_decode(self):
        name = unique("iter")
        q = syncstream.PySyncQ(name)
        q.open("me", filtself=False)  # reads its own messages too
        self.assertIsNone(q.pop())
        self.assertIsNone(q.pop(block=True, timer=0.01))
        q.append("int", 42)
        q.append(b"raw", b"\x00\xffbytes")
        q.append()  # empty type and body
        self.assertEqual(q.pop(), ("me", "int", "42"))
        self.assertEqual(q.pop(decode=False), (b"me", b"raw", b"\x00\xffbytes"))
        self.assertEqual(q.pop(), ("me", "", ""))
        for i in range(3):
            q.append("n", str(i))
        self.assertEqual([m[2] for m in q], ["0", "1", "2"])
        q.append("n", "3")
        self.assertEqual([m[2] for m in q(block=True, timer=0.01)], ["3"])
        q.close()

    def test_screening_by_sender_and_type(self):
        q = syncstream.PySyncQ(unique("screen"))
        q.open("me")  # own messages screened by default
        self.assertIn("me", q.scrnsend)
        q.append("t", "mine")
        self.assertIsNone(q.pop())
        q.scrnsend.discard("me")
        q.scrntype.add("noise")
        q.append("noise", "dropped")
        q.append("signal", "kept")
        self.assertEqual(q.pop(), ("me", "signal", "kept"))
        self.assertIsNone(q.pop())
        q.close()

    def test_an_unrelated_process_attaches_by_name(self):
        name = unique("byname")
        q = syncstream.PySyncQ(name)
        q.open("parent")
        code = ("import syncstream, sys; q = syncstream.PySyncQ(sys.argv[1]); "
                "q.open('stranger'); q.append('hello', 'from afar'); q.close()")
        out = subprocess.run([sys.executable, "-c", code, name],
                             capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(q.pop(block=True, timer=WAIT),
                         ("stranger", "hello", "from afar"))
        q.close()
        self.assertFalse(os.path.exists("/dev/shm/syncstream-queue." + name))

    def test_pickles_by_name(self):
        q = syncstream.PySyncQ(unique("pickle"))
        copy = pickle.loads(pickle.dumps(q))
        self.assertEqual(copy.name, q.name)
        copy.open("copy")
        q.open("original")
        q.append("t", "to the copy")
        self.assertEqual(copy.pop(), ("original", "t", "to the copy"))
        copy.close()
        q.close()

    def test_ctrl_c_interrupts_a_blocking_pop(self):
        q = syncstream.PySyncQ(unique("sigint"))
        q.open("waiter")
        timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        with self.assertRaises(KeyboardInterrupt):
            q.pop(block=True, timer=None)
        timer.join()
        q.close()


if __name__ == "__main__":
    unittest.main()

"""LineProcBuffer / LineProcMirror: sync-stream 1.2.2's API across real
processes (fork, spawn, forkserver), and what the originals get wrong."""

import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import unittest
import warnings

import syncstream
from syncstream import GroupedMessage

START_METHODS = ("fork", "spawn", "forkserver")
WAIT = 60.0  # seconds: a bound against hangs, never reached when it works
SEEDS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")


def create_warn(catch=False):
    if catch:
        with warnings.catch_warnings(record=True):
            warnings.filterwarnings("error")
            warnings.warn("An example of python warning.", UserWarning)
    else:
        warnings.warn("An example of python warning.", UserWarning)


# sync-stream's own test workers (tests/test_mproc.py), sleeps shortened.
def worker_process(buffer):
    with buffer:
        for i in range(10):
            print("Line:", "buffer", "new", i, end="\n")
        create_warn()
        try:
            create_warn(catch=True)
        except Warning as warn:
            buffer.send_warning(warn)
        raise TypeError("A test error.")


def worker_process_lite(buffer):
    with buffer:
        for i in range(2):
            print("Line:", "buffer", "new", i, end="\n")


def worker_process_stop(buffer, started=None):
    with buffer:
        for i in range(600):
            print("Line:", "buffer", "new", i, end="\n")
            if started is not None and i == 0:
                started.set()
            time.sleep(0.05)


def worker_partial(buffer, tag):
    buffer.write(tag + "-part")  # no line break: a partial line
    buffer.send_eof()


def worker_killed(buffer, ready):
    print_to = buffer
    print("complete line", file=print_to)
    print_to.flush()
    buffer.write("half a line")
    ready.set()
    time.sleep(600)


_events = {}


def keep_events(left, release):
    _events["left"], _events["release"] = left, release


_kept = []


def worker_then_blocks(buffer, keep):
    with buffer:
        print("inside")
    if keep:
        _kept.append(buffer)  # the mirror outlives the task
    _events["left"].set()
    _events["release"].wait(WAIT)


class ProcTest(unittest.TestCase):

    def run_pool(self, method, worker, pbuf, count=4, mirrors=None):
        ctx = multiprocessing.get_context(method)
        with ctx.Pool(4) as pool:
            result = pool.map_async(
                worker, mirrors or tuple(pbuf.mirror for _ in range(count)))
            pbuf.wait(WAIT)
            result.wait(WAIT)
        return result

    def test_errors_and_warnings_from_four_processes(self):
        # sync-stream's test_mproc_process, under every start method.
        for method in START_METHODS:
            with self.subTest(method=method):
                pbuf = syncstream.LineProcBuffer(maxlen=20)
                self.run_pool(method, worker_process, pbuf)
                self.assertEqual(len(pbuf.read()), 20)
                self.assertEqual(len(pbuf), 20)
                big = syncstream.LineProcBuffer(maxlen=100)
                self.run_pool(method, worker_process, big)
                messages = big.read()
                lines = [m for m in messages if isinstance(m, str)]
                errors = [m for m in messages
                          if isinstance(m, GroupedMessage) and
                          m.type == "error"]
                warns = [m for m in messages
                         if isinstance(m, GroupedMessage) and
                         m.type == "warning"]
                # 10 printed lines, and the 2 lines of the unrecorded
                # warning, which went to the redirected sys.stderr.
                self.assertEqual(
                    sum(line.startswith("Line: buffer new") for line in lines),
                    40)
                self.assertEqual(
                    sum("UserWarning: An example" in line for line in lines), 4)
                self.assertEqual(len(lines), 48)
                self.assertEqual(len(errors), 4)
                self.assertEqual(len(warns), 4)
                for e in errors:
                    text = str(e)
                    self.assertTrue(
                        text.startswith("Traceback (most recent call last):"),
                        text)
                    self.assertIn("in worker_process", text)
                    self.assertIn('raise TypeError("A test error.")', text)
                    self.assertEqual(e.data[-1], "TypeError: A test error.")
                for w in warns:
                    self.assertEqual(
                        w.data[-1], "UserWarning: An example of python warning.")
                # Each process's error comes after its ten lines.
                self.assertIsInstance(messages[-1], GroupedMessage)

    def test_clear_between_rounds(self):
        # sync-stream's test_mproc_process_clear.
        pbuf = syncstream.LineProcBuffer(maxlen=20)
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(4) as pool:
            pool.map_async(worker_process_lite,
                           tuple(pbuf.mirror for _ in range(4)))
            pbuf.wait(WAIT)
            pool.map_async(worker_process_lite,
                           tuple(pbuf.mirror for _ in range(4)))
            pbuf.wait(WAIT)
        self.assertEqual(len(pbuf.read()), 16)
        pbuf.clear()
        self.assertEqual(len(pbuf.read()), 0)
        with ctx.Pool(4) as pool:
            pool.map_async(worker_process_lite,
                           tuple(pbuf.mirror for _ in range(4)))
            pbuf.wait(WAIT)
            pbuf.clear()
            pool.map_async(worker_process_lite,
                           tuple(pbuf.mirror for _ in range(4)))
            pbuf.wait(WAIT)
        self.assertEqual(len(pbuf.read()), 8)
        self.assertEqual(pbuf.read(3), pbuf.read()[-3:])

    def check_stop(self, force):
        # sync-stream's test_mproc_process_stop / _force_stop.
        pbuf = syncstream.LineProcBuffer(maxlen=20)
        ctx = multiprocessing.get_context("fork")
        started = [ctx.Event() for _ in range(4)]
        procs = [ctx.Process(target=worker_process_stop,
                             args=(pbuf.mirror, started[i]))
                 for i in range(4)]
        for p in procs:
            p.start()
        for e in started:
            self.assertTrue(e.wait(WAIT))
        if force:
            pbuf.force_stop()
        else:
            pbuf.stop_all_mirrors()
        pbuf.wait(WAIT)
        for p in procs:
            p.join(WAIT)
            self.assertEqual(p.exitcode, 1)  # StopIteration left the block
        states = [s for _, s, _ in pbuf.mirror_states()]
        self.assertEqual(states, ["force-stopped" if force else "closed"] * 4)
        pbuf.reset_states()
        messages = pbuf.read()
        self.assertGreaterEqual(len(messages), 4)
        if not force:
            stops = [m for m in messages if isinstance(m, GroupedMessage)]
            self.assertEqual(len(stops), 4)
            for m in stops:
                self.assertIn("StopIteration", m.data[-1])
        # A new round after reset_states().
        p = ctx.Process(target=worker_process_lite, args=(pbuf.mirror,))
        p.start()
        pbuf.wait(WAIT)
        p.join(WAIT)
        self.assertEqual(pbuf.read(2),
                         ("Line: buffer new 0", "Line: buffer new 1"))

    def test_stop_all_mirrors(self):
        self.check_stop(force=False)

    def test_force_stop(self):
        self.check_stop(force=True)

    def test_partial_lines_of_two_processes_are_not_glued(self):
        for method in ("fork", "spawn"):
            with self.subTest(method=method):
                pbuf = syncstream.LineProcBuffer(10)
                ctx = multiprocessing.get_context(method)
                procs = [ctx.Process(target=worker_partial,
                                     args=(pbuf.mirror, tag))
                         for tag in ("A", "B")]
                for p in procs:
                    p.start()
                pbuf.wait(WAIT)
                for p in procs:
                    p.join(WAIT)
                self.assertCountEqual(pbuf.read(), ("A-part", "B-part"))

    def test_a_child_killed_mid_line_is_reported(self):
        for method in ("fork", "spawn"):
            with self.subTest(method=method):
                pbuf = syncstream.LineProcBuffer(10)
                ctx = multiprocessing.get_context(method)
                ready = ctx.Event()
                p = ctx.Process(target=worker_killed,
                                args=(pbuf.mirror, ready))
                p.start()
                self.assertTrue(ready.wait(WAIT))
                os.kill(p.pid, signal.SIGKILL)
                pbuf.wait(WAIT)  # returns: the death closes the mirror
                p.join(WAIT)
                messages = pbuf.read()
                self.assertEqual(messages[0], "complete line")
                self.assertIsInstance(messages[-1], GroupedMessage)
                self.assertEqual(messages[-1].type, "error")
                self.assertIn("process %d killed by signal 9" % p.pid,
                              str(messages[-1]))
                self.assertEqual(pbuf.mirror_states()[0][1], "died")

    def check_pool_end(self, keep):
        ctx = multiprocessing.get_context("fork")
        left, release = ctx.Event(), ctx.Event()
        pbuf = syncstream.LineProcBuffer(10)
        with ctx.Pool(1, initializer=keep_events,
                      initargs=(left, release)) as pool:
            result = pool.apply_async(worker_then_blocks, (pbuf.mirror, keep))
            self.assertTrue(left.wait(WAIT))
            if keep:
                # The task keeps its mirror: ended by the timer, while the
                # task still runs.
                pbuf.wait(WAIT)
                self.assertEqual(pbuf.mirror_states()[0][1], "closed")
                release.set()
            else:
                # The task has left `with mirror:` but not returned: the
                # stream stays open until the worker lets the mirror go
                # (after putting the task's result), so that leaving the
                # Pool right after wait() cannot kill a worker that is
                # putting its result.
                self.assertEqual(pbuf.mirror_states()[0][1], "open")
                release.set()
                pbuf.wait(WAIT)
            result.get(WAIT)
        self.assertEqual(pbuf.read(), ("inside",))

    def test_a_pool_worker_ends_its_stream_when_the_task_is_done(self):
        limit = syncstream.mproc._DEFERRED_END_LIMIT
        try:
            syncstream.mproc._DEFERRED_END_LIMIT = 600.0  # inherited by fork
            self.check_pool_end(keep=False)
            syncstream.mproc._DEFERRED_END_LIMIT = 0.05
            self.check_pool_end(keep=True)
        finally:
            syncstream.mproc._DEFERRED_END_LIMIT = limit

    def test_wait_with_a_timeout_names_the_open_mirror(self):
        pbuf = syncstream.LineProcBuffer(10)
        mirror = pbuf.mirror
        with self.assertRaises(TimeoutError) as raised:
            pbuf.wait(0.2)
        self.assertIn(mirror.name, str(raised.exception))

    def test_ctrl_c_interrupts_wait(self):
        pbuf = syncstream.LineProcBuffer(10)
        pbuf.mirror  # never closed
        timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        with self.assertRaises(KeyboardInterrupt):
            pbuf.wait()
        timer.join()

    def test_one_mirror_handed_to_four_processes_is_reported(self):
        pbuf = syncstream.LineProcBuffer(10)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.run_pool("spawn", worker_process_lite, pbuf,
                          mirrors=(pbuf.mirror,) * 4)
        self.assertEqual(len(pbuf.read()), 8)  # all four, none lost
        self.assertEqual(len(pbuf.mirror_states()), 4)
        self.assertEqual(
            sum("handed to more than one process" in str(w.message)
                for w in caught), 3)

    def test_seed_examples_verbatim(self):
        for seed in ("sync_proc_v1_2_2.py", "sync_proc_redirect.py"):
            for method in START_METHODS:
                with self.subTest(seed=seed, method=method):
                    code = ("import multiprocessing, runpy, sys; "
                            "multiprocessing.set_start_method(sys.argv[1]); "
                            "runpy.run_path(sys.argv[2], run_name='__main__')")
                    child = subprocess.Popen(
                        [sys.executable, "-X", "faulthandler", "-c", code,
                         method, os.path.join(SEEDS, seed)],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        text=True)
                    try:
                        stdout, stderr = child.communicate(timeout=WAIT)
                    except subprocess.TimeoutExpired:
                        child.send_signal(signal.SIGABRT)  # Python stacks
                        stdout, stderr = child.communicate()
                        self.fail("hung:\n" + stdout + stderr)
                    self.assertEqual(child.returncode, 0, stderr)
                    self.assertEqual(stdout, "Message item\n" * 4)

    def test_grouped_message_pickles_and_prints_the_traceback(self):
        try:
            raise ValueError("bad value")
        except ValueError as err:
            message = GroupedMessage(err)
        self.assertEqual(message.type, "error")
        self.assertEqual(message.data[0], "Traceback (most recent call last):")
        self.assertEqual(message.data[-1], "ValueError: bad value")
        self.assertEqual(pickle.loads(pickle.dumps(message)), message)
        self.assertEqual(GroupedMessage.deserialize(message.serialize()),
                         message)

    def test_mirror_pickles_by_token(self):
        pbuf = syncstream.LineProcBuffer(10)
        mirror = pbuf.mirror
        data = pickle.dumps(mirror)
        self.assertIn(mirror.token.encode(), data)
        self.assertEqual(pickle.loads(data).token, mirror.token)

    def test_write_on_the_buffer_is_refused(self):
        with self.assertRaises(NotImplementedError):
            syncstream.LineProcBuffer(3).write("x\n")


if __name__ == "__main__":
    unittest.main()

"""print() throughput into syncstream, beside the same loop into io.StringIO.

    ./bazelw run -c opt //python:print_bench -- [--lines N] [--rounds R]

Two rows, each with its baseline measured in the same run, alternating
(baseline, syncstream) R times; the median of each is reported:
  threads:   4 threads print N lines each, inside `with LineBuffer(10000):`,
             against the same 4 threads printing into one io.StringIO
             (contextlib.redirect_stdout): the speed of Python's own print,
             the limit. Target: syncstream at least 0.5x of it.
  processes: 4 forked processes print N lines each inside `with mirror:`;
             lines/s collected = 4N / (start of the children until
             LineProcBuffer.wait() returns). Baseline: the same 4 forked
             processes printing into their own io.StringIO. Target: at
             least 500k lines/s collected.
Every run checks that every line arrived whole.
"""

import argparse
import contextlib
import io
import multiprocessing
import os
import platform
import re
import statistics
import threading
import time

import syncstream

THREADS = 4
PROCESSES = 4


def print_loop(count: int, tag: int) -> None:
    for i in range(count):
        print("worker", tag, "line", i)


def in_threads(count: int) -> float:
    threads = [threading.Thread(target=print_loop, args=(count, t))
               for t in range(THREADS)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def threads_stringio(count: int) -> float:
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):
        elapsed = in_threads(count)
    assert sink.getvalue().count("\n") == THREADS * count
    return elapsed


# The last 10,000 lines, as a program keeps its recent output; a buffer of
# every line would measure first-touch page faults of its slots instead.
LINE_BUFFER_MAXLEN = 10000


def threads_linebuffer(count: int) -> float:
    buf = syncstream.LineBuffer(LINE_BUFFER_MAXLEN)
    with buf:
        elapsed = in_threads(count)
    lines = buf.read()
    assert len(lines) == min(THREADS * count, LINE_BUFFER_MAXLEN), len(lines)
    assert all(re.match(r"^worker \d line \d+$", line) for line in lines)
    return elapsed


def child_stringio(count: int, tag: int) -> None:
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):
        print_loop(count, tag)
    os._exit(0 if sink.getvalue().count("\n") == count else 1)


def child_mirror(mirror, count: int, tag: int) -> None:
    with mirror:
        print_loop(count, tag)
    mirror._impl.close()
    os._exit(0)


def processes_stringio(count: int) -> float:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=child_stringio, args=(count, t))
             for t in range(PROCESSES)]
    start = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - start
    assert all(p.exitcode == 0 for p in procs)
    return elapsed


def processes_mirrors(count: int) -> float:
    pbuf = syncstream.LineProcBuffer(PROCESSES * count)
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=child_mirror, args=(pbuf.mirror, count, t))
             for t in range(PROCESSES)]
    start = time.perf_counter()
    for p in procs:
        p.start()
    pbuf.wait(120)
    elapsed = time.perf_counter() - start
    for p in procs:
        p.join()
    lines = pbuf.read()
    assert len(lines) == PROCESSES * count, len(lines)
    assert all(isinstance(line, str) and line.startswith("worker ")
               for line in lines)
    return elapsed


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def clock_source() -> str:
    try:
        with open("/sys/devices/system/clocksource/clocksource0/"
                  "current_clocksource") as f:
            return f.read().strip()
    except OSError:
        return "unknown"


def row(name, count, rounds, baseline, measured, target_text, passes):
    base_times, times = [], []
    for _ in range(rounds):
        base_times.append(baseline(count))
        times.append(measured(count))
    lines = (THREADS if name == "threads" else PROCESSES) * count
    base_rate = lines / statistics.median(base_times)
    rate = lines / statistics.median(times)
    ratio = rate / base_rate
    verdict = "meets" if passes(rate, ratio) else "MISSES"
    print("{0:<10} {1:>12,.0f} {2:>12,.0f} {3:>6.2f}x  {4} {5}".format(
        name, base_rate, rate, ratio, verdict, target_text))
    print("           (rates of each round: StringIO {0}; syncstream {1})".format(
        ", ".join("{0:,.0f}".format(lines / t) for t in base_times),
        ", ".join("{0:,.0f}".format(lines / t) for t in times)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=100000,
                        help="lines each thread or process prints")
    parser.add_argument("--rounds", type=int, default=5,
                        help="alternating (baseline, syncstream) rounds")
    args = parser.parse_args()
    print("machine: {0}; clock source {1}; {2} CPUs; Python {3} ({4})".format(
        cpu_model(), clock_source(), os.cpu_count(), platform.python_version(),
        os.path.realpath(os.sys.executable)))
    print("{0} x {1:,} print() lines per row, median of {2} rounds".format(
        THREADS, args.lines, args.rounds))
    print("{0:<10} {1:>12} {2:>12} {3:>7}".format(
        "row", "StringIO/s", "syncstream/s", "ratio"))
    row("threads", args.lines, args.rounds, threads_stringio,
        threads_linebuffer, "(target: >= 0.5x of StringIO)",
        lambda rate, ratio: ratio >= 0.5)
    row("processes", args.lines, args.rounds, processes_stringio,
        processes_mirrors, "(target: >= 500,000 lines/s collected)",
        lambda rate, ratio: rate >= 500000)


if __name__ == "__main__":
    main()

"""Python's SyncManager on the manager benchmark's workloads.

Run by //testing/bench:manager in the same invocation as the C++ side; prints
one "name value" line per figure (operations per second). The manager server
runs in its own process (SyncManager.start()), each client process has its
own connection, as on the C++ side.
"""

import multiprocessing as mp
import sys
import time
from multiprocessing.managers import SyncManager


def timed_loop(seconds, step):
    """Runs step() (which does `batch` operations) until `seconds` passed."""
    n = 0
    start = time.perf_counter()
    end = start + seconds
    while time.perf_counter() < end:
        n += step()
    return n, time.perf_counter() - start


def lock_worker(lock, seconds, out):
    def step():
        for _ in range(50):
            lock.acquire()
            lock.release()
        return 50
    out.put(timed_loop(seconds, step))


def ping(s1, s2, rounds, out):
    start = time.perf_counter()
    for _ in range(rounds):
        s1.release()
        s2.acquire()
    out.put(time.perf_counter() - start)


def pong(s1, s2, rounds):
    for _ in range(rounds):
        s1.acquire()
        s2.release()


def lock_pairs(manager, clients, seconds):
    lock = manager.Lock()
    out = mp.Queue()
    procs = [mp.Process(target=lock_worker, args=(lock, seconds, out))
             for _ in range(clients)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    return sum(n / elapsed for n, elapsed in results)


def dict_pairs(manager, seconds):
    d = manager.dict()

    def step():
        for i in range(50):
            d["k%d" % (i & 7)] = i
            d["k%d" % (i & 7)]
        return 50
    n, elapsed = timed_loop(seconds, step)
    return n / elapsed


def list_appends(manager, seconds):
    lst = manager.list()

    def step():
        for i in range(50):
            lst.append(i)
        return 50
    n, elapsed = timed_loop(seconds, step)
    assert len(lst) == n
    return n / elapsed


def ping_pong(manager, seconds):
    s1, s2 = manager.Semaphore(0), manager.Semaphore(0)
    # Calibrate the number of rounds to roughly `seconds`.
    rounds = max(200, int(seconds * 2000))
    out = mp.Queue()
    a = mp.Process(target=ping, args=(s1, s2, rounds, out))
    b = mp.Process(target=pong, args=(s1, s2, rounds))
    a.start()
    b.start()
    elapsed = out.get()
    a.join()
    b.join()
    return rounds / elapsed


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    # An optional comma-separated subset of the workloads (default: all).
    wanted = [w for w in (sys.argv[2] if len(sys.argv) > 2 else "").split(",")
              if w]
    workloads = [
        ("lock_pairs_1", lambda m: lock_pairs(m, 1, seconds)),
        ("lock_pairs_4", lambda m: lock_pairs(m, 4, seconds)),
        ("dict_set_get", lambda m: dict_pairs(m, seconds)),
        ("list_append", lambda m: list_appends(m, seconds)),
        ("semaphore_ping_pong", lambda m: ping_pong(m, seconds)),
    ]
    mp.set_start_method("fork")
    manager = SyncManager()
    manager.start()
    try:
        for name, run in workloads:
            if not wanted or name in wanted:
                print(name, run(manager), flush=True)
    finally:
        manager.shutdown()


if __name__ == "__main__":
    main()

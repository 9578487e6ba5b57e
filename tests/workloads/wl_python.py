# SPDX-License-Identifier: GPL-2.0
"""End-to-end workload for the Python walk (tests/test_e2e_python.c).

usage: wl_python.py MODE CPU_SECONDS TRUTH_FILE

Waits for SIGUSR1 without using CPU (the test sends it once the profiler
samples), then runs for CPU_SECONDS of thread CPU time and exits:
  split    main -> outer -> leaf_alpha / leaf_beta / leaf_gamma at 5:3:2 units;
           each leaf's thread CPU time is measured around its call, and the
           shares of the three (and the span's CPU seconds) go to TRUTH_FILE;
           a leaf call lasts a millisecond or more, so the clock reads around
           it (a system call each, microseconds on a loaded VM) stay out of
           the truth
  threads  two threads, worker_a -> spin_a and worker_b -> spin_b, each its own
  ext      main -> compress_it -> zlib.compress (C: the zlib module, libz)
  deep     main -> deep x 101 (recursion) -> leaf_alpha: 104 Python frames,
           more than the walk records
"""
import signal
import sys
import threading
import time
import zlib

UNIT = 8000


def leaf_alpha(n):
    s = 0
    for i in range(n):
        s += i ^ (s >> 3)
    return s


def leaf_beta(n):
    s = 0
    for i in range(n):
        s += i ^ (s >> 3)
    return s


def leaf_gamma(n):
    s = 0
    for i in range(n):
        s += i ^ (s >> 3)
    return s


def deep(n, units):
    if n:
        return deep(n - 1, units)
    return leaf_alpha(units)


def outer(t):
    a = time.thread_time()
    leaf_alpha(5 * UNIT)
    b = time.thread_time()
    leaf_beta(3 * UNIT)
    c = time.thread_time()
    leaf_gamma(2 * UNIT)
    d = time.thread_time()
    t[0] += b - a
    t[1] += c - b
    t[2] += d - c


def spin_a(n):
    s = 0
    for i in range(n):
        s += i * 3
    return s


def spin_b(n):
    s = 0
    for i in range(n):
        s += i * 5
    return s


def worker_a(seconds):
    start = time.thread_time()
    while time.thread_time() - start < seconds:
        spin_a(2000)


def worker_b(seconds):
    start = time.thread_time()
    while time.thread_time() - start < seconds:
        spin_b(2000)


DATA = bytes(range(256)) * 4096


def compress_it():
    return zlib.compress(DATA, 9)


def main():
    mode, seconds, truth = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
    with open(truth + ".ready", "w"):
        pass
    signal.sigwait([signal.SIGUSR1])
    start = time.thread_time()
    if mode == "split":
        t = [0.0, 0.0, 0.0]
        while time.thread_time() - start < seconds:
            outer(t)
        total = sum(t)
        with open(truth, "w") as f:
            f.write("leaf_alpha %.6f\nleaf_beta %.6f\nleaf_gamma %.6f\ncpu %.6f\n" %
                    (t[0] / total, t[1] / total, t[2] / total, time.thread_time() - start))
    elif mode == "threads":
        ths = [threading.Thread(target=worker_a, args=(seconds / 2,)),
               threading.Thread(target=worker_b, args=(seconds / 2,))]
        for th in ths:
            th.start()
        for th in ths:
            th.join()
        with open(truth, "w") as f:
            f.write("done 1\n")
    elif mode == "deep":
        while time.thread_time() - start < seconds:
            deep(100, UNIT)
        with open(truth, "w") as f:
            f.write("done 1\n")
    else:
        while time.thread_time() - start < seconds:
            compress_it()
        with open(truth, "w") as f:
            f.write("done 1\n")


main()

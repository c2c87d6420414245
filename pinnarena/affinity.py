"""One core per job: ``PINNARENA_PIN_CORE=1`` pins a process to a core no other pinarena job holds.

Small PINNs do not speed up with more threads (a 3 × 20 network on 2560 points runs as fast on
one core as on two), so a CPU suite is fastest as one single-core job per core, and a
time budget on such a job measures its own work. Snakemake hands out job slots but not cores, so
each job claims one: it takes an exclusive ``flock`` on ``<lock dir>/core<N>.lock`` for the first
core N of its affinity set that nobody holds, and restricts itself to that core with
``os.sched_setaffinity`` before JAX starts its thread pool. The lock is released when the process
exits (the kernel drops it with the file descriptor), so a killed job frees its core. When every
core is held the process runs unpinned.

XLA's CPU backend sizes its thread pool from the affinity set when JAX starts, and how a matrix
product or a reduction is split over threads changes its rounding: the same run on 1 and on 2
cores gives different bits (and, over a chaotic trajectory, different errors). Every result row
therefore records ``cpu_threads`` (``cpu_threads()``), and ``pinnarena reproduce`` restricts itself
to that many cores (``restrict``) before JAX starts.
"""
from __future__ import annotations

import fcntl
import os
import tempfile

_held = None  # the open lock file of the claimed core (kept for the process's lifetime)


def claim_core(lock_dir: str | None = None) -> int | None:
    """Pin this process to a free core; return the core, or None when none is free."""
    global _held
    if _held is not None:
        return int(os.path.basename(_held.name)[4:-5])
    lock_dir = lock_dir or os.environ.get("PINNARENA_LOCK_DIR", tempfile.gettempdir())
    for core in sorted(os.sched_getaffinity(0)):
        f = open(os.path.join(lock_dir, f"core{core}.lock"), "w")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            continue
        os.sched_setaffinity(0, {core})
        _held = f
        return core
    return None


def from_environment() -> int | None:
    """``claim_core()`` when ``PINNARENA_PIN_CORE`` is 1/true (the CPU suite sets it)."""
    if os.environ.get("PINNARENA_PIN_CORE", "").lower() in ("1", "true", "yes"):
        return claim_core()
    return None


def cpu_threads() -> int:
    """The number of cores this process may run on (XLA's CPU thread-pool size)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def restrict(n: int) -> int:
    """Restrict this process to ``n`` cores of its affinity set before JAX starts; with n = 1, a
    free core if one is (``claim_core``). Returns the number of cores now allowed."""
    have = sorted(os.sched_getaffinity(0))
    if n < 1:
        raise ValueError(f"cores must be >= 1, got {n}")
    if n > len(have):
        raise ValueError(f"{n} cores asked for, but this process may run on only {len(have)} ({have}): the result "
                         "may then differ in its last bits from the recorded run")
    if n == 1 and claim_core() is not None:
        return 1
    os.sched_setaffinity(0, set(have[:n]))
    return n

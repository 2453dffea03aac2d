"""Threading policy of the NumPy reference: how many cores the heavy work uses, and how.

Why a policy at all: NumPy's bundled OpenBLAS splits every large GEMM across its own threads and
joins them at a spin-wait barrier. On a quiet machine that is fast; with one other CPU-bound
process on a 2-core machine the barrier waits for a thread that is not scheduled, and the encoder
was measured 2x-9x slower, erratically (README, "Threading"). So led_ref splits its GEMM-bound
work itself into independent pieces -- attention heads, row chunks of the projections and of the
feed-forward block, vocabulary slices of the LM head -- and runs them in a small pool of Python
threads (NumPy releases the GIL inside BLAS calls and in most ufuncs). The pieces have no barrier
between them: a descheduled thread only delays its own piece while the others take the next ones.

For that to hold, each BLAS call should run single-threaded. The core depends on numpy + regex
only and cannot change OpenBLAS's thread count itself (NumPy has no API for it), so it accepts an
optional *BLAS controller*: any object with ``limit(n)`` returning a context manager that caps the
BLAS threads at ``n`` while led_ref's work runs (``led_ref.app.blas.ThreadpoolctlBLAS`` wraps the
optional ``threadpoolctl``; the CLI installs it when ``threadpoolctl`` is importable). Without a
controller the pool is not used by default (``default_threads()`` is 1) and BLAS keeps its own
threading, i.e. the behaviour before this module; ``set_num_threads(n)`` still turns the pool on.

    import led_ref.threads as lt
    lt.set_num_threads(2)                      # an explicit count always wins
    with lt.num_threads(1): model(...)         # temporarily, e.g. inside a worker process

Results do not depend on the thread count: every piece computes the same rows/heads with the same
operations whichever thread runs it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, List, Optional, Sequence

__all__ = [
    "available_cores",
    "check_threads",
    "default_threads",
    "set_num_threads",
    "get_num_threads",
    "set_blas_controller",
    "get_blas_controller",
    "num_threads",
    "region",
    "in_region",
    "pool_size",
    "parallel_map",
    "parallel_rows",
    "row_chunks",
]


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def check_threads(n, name: str = "threads") -> int:
    """A thread count given by a user: an int >= 1 (more than the cores is allowed; the CLI notes it)."""
    if isinstance(n, bool) or not isinstance(n, int):
        try:
            import numpy as np

            if isinstance(n, np.integer):
                n = int(n)
        except ImportError:  # pragma: no cover - numpy is a dependency
            pass
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{name} must be an integer >= 1, got {n!r}")
    if n < 1:
        raise ValueError(f"{name} must be >= 1 (the number of threads led_ref may use), got {n}")
    return n


class _Policy:
    def __init__(self):
        self.lock = threading.Lock()
        self.explicit: Optional[int] = None  # set_num_threads(n); None = default_threads()
        self.controller = None  # optional BLAS controller (see the module docstring)
        self.pool: Optional[ThreadPoolExecutor] = None
        self.pool_size = 0
        self.local = threading.local()  # per-thread: region depth, inside-a-worker flag

    def reset_after_fork(self):
        # a forked child has none of the parent's pool threads
        self.lock = threading.Lock()
        self.pool, self.pool_size = None, 0
        self.local = threading.local()


_policy = _Policy()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_policy.reset_after_fork)


def default_threads() -> int:
    """Threads used when none were set.

    With a BLAS controller (BLAS at one thread per call): one more than the available cores. With exactly as
    many threads as cores and one competing CPU-bound process, the kernel often leaves two of our threads on
    one core and the competitor alone on the other, so we run on one core (measured on 2 cores: 4.6-8.0 s for
    the 4,096-token led-base encoder with 2 threads, 4.7-4.9 s with 3, quiet 3.0 vs 3.1 s). Without a
    controller: 1, i.e. no pool and BLAS's own threading, as NumPy does by default (a pool over multi-threaded
    BLAS calls was measured slower: 4.7-6.1 s quiet, 18-27 s busy).
    """
    return available_cores() + 1 if _policy.controller is not None else 1


def set_num_threads(n: Optional[int] = None) -> None:
    """Use ``n`` threads for led_ref's work from now on (None: back to ``default_threads()``)."""
    _policy.explicit = None if n is None else check_threads(n)


def get_num_threads() -> int:
    """The number of threads led_ref's work runs on now."""
    override = getattr(_policy.local, "override", None)
    if override is not None:
        return override
    return _policy.explicit if _policy.explicit is not None else default_threads()


def set_blas_controller(controller) -> None:
    """Install (or with None remove) the optional BLAS controller: an object with ``limit(n)`` returning a
    context manager that caps BLAS's threads at ``n`` (e.g. ``led_ref.app.blas.ThreadpoolctlBLAS()``)."""
    if controller is not None and not callable(getattr(controller, "limit", None)):
        raise TypeError(f"blas controller must have a limit(n) method, got {type(controller).__name__}")
    _policy.controller = controller


def get_blas_controller():
    return _policy.controller


@contextlib.contextmanager
def num_threads(n: Optional[int]):
    """Temporarily use ``n`` threads in this thread's calls (None: no change)."""
    if n is None:
        yield
        return
    n = check_threads(n)
    prev = getattr(_policy.local, "override", None)
    _policy.local.override = n
    try:
        yield
    finally:
        _policy.local.override = prev


@contextlib.contextmanager
def region():
    """Wrap one top-level computation (an encoder pass, a decoder step): while it runs, BLAS is capped at one
    thread per call when the work is split over a pool (or at 1 when the policy says 1 thread) -- only if a
    BLAS controller is installed. Nested regions do nothing more."""
    local = _policy.local
    depth = getattr(local, "depth", 0)
    controller = _policy.controller
    if depth or controller is None or getattr(local, "in_worker", False):
        local.depth = depth + 1
        try:
            yield
        finally:
            local.depth = depth
        return
    local.depth = 1
    try:
        with controller.limit(1):
            yield
    finally:
        local.depth = 0


def in_region(fn):
    """Decorator: run ``fn`` inside ``region()`` (top-level entry points: the encoder pass, a decoder step)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with region():
            return fn(*args, **kwargs)

    return wrapper


def _executor(n: int) -> ThreadPoolExecutor:
    pol = _policy
    with pol.lock:
        if pol.pool is None or pol.pool_size != n:
            if pol.pool is not None:
                pol.pool.shutdown(wait=False)
            pol.pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="led_ref",
                                          initializer=_mark_worker)
            pol.pool_size = n
        return pol.pool


def _mark_worker():
    _policy.local.in_worker = True


def pool_size() -> int:
    """Workers of the current pool (0 before the first parallel call): what the threading test checks."""
    return _policy.pool_size


def parallel_map(fn: Callable, items: Iterable) -> List:
    """``[fn(item) for item in items]``, the calls spread over the policy's threads (in order of items).

    Items must be independent (each writes its own part of shared outputs). Runs inline with one thread, with
    one item, or when called from inside a worker (no nested pools)."""
    items = list(items)
    n = get_num_threads()
    if n == 1 or len(items) <= 1 or getattr(_policy.local, "in_worker", False):
        return [fn(item) for item in items]
    with region():
        return list(_executor(n).map(fn, items))


def row_chunks(n_rows: int, rows_per_chunk: int) -> List[slice]:
    """Slices of ``rows_per_chunk`` rows covering ``range(n_rows)``."""
    step = max(1, int(rows_per_chunk))
    return [slice(r, min(n_rows, r + step)) for r in range(0, n_rows, step)]


def parallel_rows(fn: Callable[[slice], object], n_rows: int, rows_per_chunk: int) -> None:
    """Call ``fn(rows)`` for row chunks of ``rows_per_chunk`` covering ``n_rows``, spread over the threads."""
    parallel_map(fn, row_chunks(n_rows, rows_per_chunk))


def split(n: int, parts: int) -> Sequence[slice]:
    """``parts`` contiguous near-equal slices of range(n) (fewer when n is small)."""
    parts = max(1, min(parts, n))
    bounds = [n * i // parts for i in range(parts + 1)]
    return [slice(bounds[i], bounds[i + 1]) for i in range(parts)]

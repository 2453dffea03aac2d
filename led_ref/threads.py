"""Threading policy of the NumPy reference: how many cores the heavy work uses, and how.

Why a policy at all: NumPy's bundled OpenBLAS splits every large GEMM across its own threads and
joins them at a spin-wait barrier. On a quiet machine that is fast; with one other CPU-bound
process on a 2-core machine the barrier waits for a thread that is not scheduled, and the encoder
slows down several times over, erratically (``python -m tools.bench.encoder --busy`` shows it). So led_ref
splits its GEMM-bound work itself into independent pieces -- attention heads, row chunks of the projections and of the
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
import itertools
import os
import queue
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Callable

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
    "one_per_core",
    "one_row_step",
    "one_row_state",
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


# A one-row step's CPU share (process CPU time / (wall time x threads)) below which the machine counts as busy: with
# BLAS's own threads on a quiet machine it is ~1 (OpenBLAS's threads spin between calls); beside one CPU-bound process
# on 2 cores the kernel gives our 2 threads ~2/3 of a core each or less.
BUSY_SHARE = 0.75
# Two steps in a row below it switch to the pool. One-row steps on the pool before one tries BLAS's own threads
# again (doubling while the machine stays busy).
REPROBE_STEPS = 16
MAX_REPROBE_STEPS = 256


class _OneRowMonitor:
    """Whether the last one-row decoding steps found the machine busy (see ``one_row_step``)."""

    def __init__(self):
        self.busy = False
        self.since = 0  # pool steps since the machine was last found busy
        self.wait = REPROBE_STEPS
        self.last_share = None  # CPU share of the last timed step (diagnostics)
        self.low = False  # the last step with BLAS's threads had a low share

    def use_blas_threads(self) -> bool:
        return not self.busy or self.since >= self.wait

    def record(self, used_blas_threads: bool, share: float) -> None:
        self.last_share = share
        if not used_blas_threads:
            self.since += 1
        elif share < BUSY_SHARE and (self.busy or self.low):
            # busy (a second low step in a row, or a failed try): the pool, and the next try only after twice as many
            # steps if this was a try
            self.wait = min(2 * self.wait, MAX_REPROBE_STEPS) if self.busy else REPROBE_STEPS
            self.busy, self.since, self.low = True, 0, False
        else:
            # one low step alone is not enough (e.g. BLAS's threads waking after the pool's LM head or an encoder)
            self.low = share < BUSY_SHARE
            self.busy, self.wait = False, REPROBE_STEPS


class _Policy:
    def __init__(self):
        self.lock = threading.Lock()
        self.explicit: int | None = None  # set_num_threads(n); None = default_threads()
        self.controller = None  # optional BLAS controller (see the module docstring)
        self.pool: _Pool | None = None
        self.pool_size = 0
        self.local = threading.local()  # per-thread: region depth, inside-a-worker flag
        self.one_row = _OneRowMonitor()

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
    one core and the competitor alone on the other, so we run on one core; one extra thread keeps a core busy
    while another thread waits, at the same quiet speed (``python -m tools.bench.encoder --busy --threads N``).
    Without a controller: 1, i.e. no pool and BLAS's own threading, as NumPy does by default (a pool over
    multi-threaded BLAS calls oversubscribes the cores).
    """
    return available_cores() + 1 if _policy.controller is not None else 1


def set_num_threads(n: int | None = None) -> None:
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
def num_threads(n: int | None):
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
def region(decoding: bool = False):
    """Wrap one top-level computation (an encoder pass, a decoding step). Nested regions do nothing more.

    Default: led_ref's pieces run on the pool and, when a BLAS controller is installed, BLAS is capped at one
    thread per call meanwhile. ``decoding=True`` (a decoder step, the LM head of a step: ~50 short, bandwidth-bound
    products of 1-64 rows): with a BLAS controller and more than one thread, the same pool with BLAS at one thread,
    but at most one thread per core taking pieces (``one_per_core``) -- whatever the number of rows. Without a
    controller (or with one thread): no pool inside, and BLAS gets min(threads, cores) threads of its own per call
    (a pool over multi-threaded BLAS calls oversubscribes the cores: two threads each running a threaded GEMV
    compete for the same cores).

    A one-row step (greedy, batch 1) may take BLAS's own threads back for its layers while the machine is quiet
    (``one_row_step``)."""
    local = _policy.local
    depth = getattr(local, "depth", 0)
    local.depth = depth + 1
    try:
        controller = _policy.controller
        if depth or getattr(local, "in_worker", False):
            yield
        elif decoding:
            n = get_num_threads()
            if controller is not None and min(n, available_cores()) > 1:
                local.decoding_pool = True  # what one_row_step() may hand back to BLAS
                try:
                    with controller.limit(1), one_per_core():
                        yield
                finally:
                    local.decoding_pool = False
            else:
                with (
                    controller.limit(min(n, available_cores())) if controller is not None else contextlib.nullcontext(),
                    num_threads(1),
                ):
                    yield
        elif controller is not None:
            with controller.limit(1):
                yield
        else:
            yield
    finally:
        local.depth = depth


@contextlib.contextmanager
def one_row_step(rows: int, cached: bool):
    """Inside ``region(decoding=True)``: a decoder step of ``rows`` query rows (batch x beams x new tokens), with a
    cache when ``cached``. Only a one-row step with a cache (greedy, batch 1, after the first step) is treated here; any
    other step passes through unchanged (the first step's cross-attention keys/values are GEMMs of many rows, in row
    chunks on the pool).

    Such a step is ~50 GEMVs of ~0.1 ms. On a quiet machine BLAS's own threads run them fastest: they spin between
    calls, while a pool thread sleeps and is woken for each. Beside a busy process every threaded BLAS call waits at
    OpenBLAS's barrier for a descheduled thread, while the pool does not (``python -m tools.bench.generation --busy``
    shows both). So the block runs with BLAS's own threads (min(threads, cores), no pool) while
    the previous steps' CPU share says the machine is quiet, on the pool (BLAS at one thread) while it is busy, and
    retries BLAS's threads after ``REPROBE_STEPS`` pool steps (doubling while still busy). Both ways give the same
    results: each output feature / head is one dot product of the same BLAS GEMV kernel whichever thread computes it
    (checked bit-for-bit for led-base's projection and attention shapes), except the LM head, where OpenBLAS's threaded
    GEMV sums in another order (within the float32 tolerance). ``LEDStepModel.decode`` wraps the decoder and the LM head
    in one such block. Changes nothing outside a decoding region on the pool."""
    local = _policy.local
    controller = _policy.controller
    if (
        rows != 1
        or not cached
        or not getattr(local, "decoding_pool", False)
        or controller is None
        or getattr(local, "in_worker", False)
        or getattr(local, "one_row", False)
    ):
        yield  # not a one-row cached step, not on the decoding pool, or inside a one_row_step already (the decoder
        return  # inside a step's decode())
    local.one_row = True
    try:
        with _one_row_step(local, controller):
            yield
    finally:
        local.one_row = False


@contextlib.contextmanager
def _one_row_step(local, controller):
    monitor = _policy.one_row
    use_blas = monitor.use_blas_threads()
    k = min(get_num_threads(), available_cores())
    t0, c0 = time.perf_counter(), time.process_time()
    if use_blas:
        local.decoding_pool = False
        try:
            with controller.limit(k), num_threads(1):
                yield
        finally:
            local.decoding_pool = True
    else:
        yield
    wall = time.perf_counter() - t0
    monitor.record(use_blas, (time.process_time() - c0) / (wall * k) if wall > 0 else 1.0)


def one_row_state() -> dict:
    """What ``one_row_step`` last found (for benchmarks): ``busy`` (its one-row steps run on the pool) and the last
    timed step's CPU share (None before the first)."""
    m = _policy.one_row
    return {"busy": m.busy, "last_share": m.last_share}


@contextlib.contextmanager
def one_per_core():
    """Pieces of parallel calls in this block run on at most one thread per core (the pool keeps its size).

    For decoding: a step makes ~50 parallel calls of 0.1-1 ms each, each waiting for its last piece, and a thread
    beyond the core count is often descheduled holding the piece the call waits for. The encoder's long calls keep
    the extra thread (``default_threads``)."""
    local = _policy.local
    prev = getattr(local, "cap", None)
    local.cap = available_cores()
    try:
        yield
    finally:
        local.cap = prev


def in_region(fn=None, *, decoding=False):
    """Decorator: run ``fn`` inside ``region(decoding)`` (top-level entry points: the encoder, a decoder step)."""

    def wrap(f):
        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            with region(decoding):
                return f(*args, **kwargs)

        return wrapper

    return wrap(fn) if fn is not None else wrap


class _Job:
    """One parallel_map call: items taken in order by whichever thread is free (no barrier between pieces)."""

    def __init__(self, fn, items):
        self.fn, self.items = fn, items
        self.results = [None] * len(items)
        self.next = itertools.count()  # next() is atomic under the GIL
        self.lock = threading.Lock()
        self.finished = 0
        self.error = None
        self.done = threading.Event()

    def work(self):
        n = len(self.items)
        while True:
            i = next(self.next)
            if i >= n:
                return
            try:
                self.results[i] = self.fn(self.items[i])
            except BaseException as exc:  # re-raised by the caller
                self.error = self.error or exc
            with self.lock:
                self.finished += 1
                if self.finished == n:
                    self.done.set()


class _Pool:
    """``size - 1`` worker threads plus the calling thread. Cheaper per call than concurrent.futures (a decoding
    step makes ~50 parallel calls of ~0.1-1 ms each): one queue put per worker, the caller works too."""

    def __init__(self, size):
        self.size = size
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.workers = [threading.Thread(target=self._run, name=f"led_ref-{i}", daemon=True) for i in range(size - 1)]
        for t in self.workers:
            t.start()

    def _run(self):
        _policy.local.in_worker = True
        while True:
            job = self.queue.get()
            if job is None:
                return
            job.work()

    def map(self, fn, items, threads=None):
        """``[fn(item) for item in items]`` on the caller and up to ``threads - 1`` workers (default: all)."""
        job = _Job(fn, items)
        for _ in range(min(len(self.workers), len(items) - 1, (threads or self.size) - 1)):
            self.queue.put(job)
        job.work()
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.results

    def close(self):
        for _ in self.workers:
            self.queue.put(None)


def _pool(n: int) -> _Pool:
    pol = _policy
    with pol.lock:
        if pol.pool is None or pol.pool_size != n:
            if pol.pool is not None:
                pol.pool.close()
            pol.pool = _Pool(n)
            pol.pool_size = n
        return pol.pool


def pool_size() -> int:
    """Threads of the current pool, the caller included (0 before the first parallel call): what the threading
    test checks."""
    return _policy.pool_size


def parallel_map(fn: Callable, items: Iterable) -> list:
    """``[fn(item) for item in items]``, the calls spread over the policy's threads (results in order of items).

    Items must be independent (each writes its own part of shared outputs). Runs inline with one thread, with
    one item, or when called from inside a worker (no nested pools)."""
    items = list(items)
    n = get_num_threads()
    local = _policy.local
    use = min(n, getattr(local, "cap", None) or n)  # threads that take pieces (decoding: at most the cores)
    if use == 1 or len(items) <= 1 or getattr(local, "in_worker", False):
        return [fn(item) for item in items]
    with region():
        local.in_worker = True  # the caller runs pieces too: no nested pools from inside them
        try:
            return _pool(n).map(fn, items, use)
        finally:
            local.in_worker = False


def row_chunks(n_rows: int, rows_per_chunk: int) -> list[slice]:
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

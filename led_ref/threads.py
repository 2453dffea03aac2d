"""Threading policy of the NumPy reference: how many cores the heavy work uses, and how.

Why a policy at all: NumPy's bundled OpenBLAS splits every large GEMM across its own threads and
joins them at a spin-wait barrier. On a quiet machine that is fast; with one other CPU-bound
process on a 2-core machine the barrier waits for a thread that is not scheduled, and the encoder
slows down several times over, erratically (``python -m tools.bench.encoder --busy`` shows it). So led_ref
splits its GEMM-bound work itself into independent pieces -- attention heads, row chunks of the projections and of the
feed-forward block, vocabulary slices of the LM head -- and runs them in a small pool of Python
threads (NumPy releases the GIL inside BLAS calls and in most ufuncs). The pieces have no barrier
between them: a descheduled thread only delays its own piece while the others take the next ones.

For that to hold, each BLAS call runs single-threaded meanwhile. NumPy has no API for BLAS's thread count, so
led_ref sets it through a *BLAS controller*: an object with ``limit(n)`` returning a context manager that holds
BLAS at ``n`` threads while led_ref's work runs and then puts back the count it found. By default it is
``led_ref.blas.ThreadpoolctlBLAS`` over ``threadpoolctl`` (a runtime dependency), created at the first call: every
program that imports led_ref gets the policy, with no call and no environment variable.

- Default threads (``default_threads``): cores + 1, BLAS at one thread inside led_ref's calls, BLAS's own count
  restored after each, so the program's own NumPy code runs as before.
- The user's BLAS limit is kept: a BLAS count below the cores when a call starts (``OPENBLAS_NUM_THREADS``,
  ``OMP_NUM_THREADS``, a ``threadpoolctl.threadpool_limits`` block) is also led_ref's number of threads, and BLAS is
  never set above it.
- ``set_num_threads(n)`` / ``num_threads(n)`` always win.
- A BLAS that threadpoolctl cannot control (or threadpoolctl missing): one ``BLASControlWarning``, then NumPy's own
  threading (no pool, ``default_threads()`` is 1), never an error. ``set_blas_controller`` installs another
  controller, or None for NumPy's own threading.

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
import warnings
from collections.abc import Iterable, Sequence
from typing import Callable

__all__ = [
    "BLASControlWarning",
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
    "piece_threads",
    "blas_control_note",
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
    """A thread count given by a user: an int >= 1 (more than the cores is allowed; the CLI notes it). Anything else
    is a one-line ValueError naming the value."""
    if not isinstance(n, bool) and not isinstance(n, int):
        try:
            import numpy as np

            if isinstance(n, np.integer):
                n = int(n)
        except ImportError:  # pragma: no cover - numpy is a dependency
            pass
    if isinstance(n, bool) or not isinstance(n, int):
        raise ValueError(f"{name} must be an integer >= 1 (the number of threads led_ref may use), got {n!r}")
    if n < 1:
        raise ValueError(f"{name} must be >= 1 (the number of threads led_ref may use), got {n}")
    return n


class BLASControlWarning(RuntimeWarning):
    """led_ref cannot set the BLAS thread count in this process and keeps NumPy's own threading (issued once)."""


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


_AUTO = "auto"  # the controller before the first call: led_ref.blas.ThreadpoolctlBLAS when it can control the BLAS


class _Policy:
    def __init__(self):
        self.lock = threading.Lock()
        self.explicit: int | None = None  # set_num_threads(n); None = default_threads()
        self.controller = _AUTO  # the BLAS controller (see the module docstring), resolved at the first call
        self.note: str | None = None  # why the automatic controller could not be used
        self.pool: _Pool | None = None
        self.pool_size = 0
        self.local = threading.local()  # per-thread: region depth, inside-a-worker flag
        self.one_row = _OneRowMonitor()

    def reset_after_fork(self):
        # a forked child has none of the parent's pool threads
        self.lock = threading.Lock()
        self.pool, self.pool_size = None, 0
        self.local = threading.local()
        reset = getattr(self.controller, "reset_after_fork", None)
        if callable(reset):
            reset()


_policy = _Policy()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_policy.reset_after_fork)


def _automatic_controller():
    """``led_ref.blas.ThreadpoolctlBLAS()``, or None and the note saying why not."""
    try:
        from .blas import ThreadpoolctlBLAS

        return ThreadpoolctlBLAS(), None
    except ImportError as exc:  # threadpoolctl is a dependency: installed without its dependencies?
        why = f"threadpoolctl cannot be imported ({exc}; pip install threadpoolctl)"
    except Exception as exc:  # whatever threadpoolctl meets (an unknown BLAS): a note, never a crash
        why = " ".join(str(exc).split()) or type(exc).__name__
    return None, (
        f"led_ref.threads: {why}; led_ref keeps NumPy's own BLAS threading, without its thread pool (slower beside "
        "other busy processes; led_ref.threads.set_num_threads(n) still turns the pool on)"
    )


def default_threads() -> int:
    """Threads used when none were set.

    With a BLAS controller (BLAS at one thread per call): one more than the available cores. With exactly as
    many threads as cores and one competing CPU-bound process, the kernel often leaves two of our threads on
    one core and the competitor alone on the other, so we run on one core; one extra thread keeps a core busy
    while another thread waits, at the same quiet speed (``python -m tools.bench.encoder --busy --threads N``).
    A user's BLAS limit below the cores (``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``, ``threadpool_limits``,
    seen as BLAS's count outside led_ref's calls) is kept: that many threads, 1 meaning no pool.
    Without a controller: 1, i.e. no pool and BLAS's own threading, as NumPy does by default (a pool over
    multi-threaded BLAS calls oversubscribes the cores).
    """
    controller = get_blas_controller()
    if controller is None:
        return 1
    cores = available_cores()
    outside = getattr(controller, "outside", None)
    user = outside() if callable(outside) else None
    return user if isinstance(user, int) and 1 <= user < cores else cores + 1


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
    """Install a BLAS controller: an object with ``limit(n)`` returning a context manager that holds BLAS's threads
    at ``n`` (e.g. ``led_ref.blas.ThreadpoolctlBLAS()``); None: NumPy's own BLAS threading, no pool by default;
    ``"auto"``: the default, ``ThreadpoolctlBLAS`` created at the next call (with one note if it cannot be)."""
    if isinstance(controller, str) and controller == _AUTO:
        with _policy.lock:
            _policy.controller, _policy.note = _AUTO, None
        return
    if controller is not None and not callable(getattr(controller, "limit", None)):
        raise TypeError(f"blas controller must have a limit(n) method, got {type(controller).__name__}")
    _policy.controller = controller


def get_blas_controller():
    """The BLAS controller in use (None: NumPy's own threading). The first call creates the automatic one."""
    controller = _policy.controller
    if controller is not _AUTO:
        return controller
    with _policy.lock:
        if _policy.controller is _AUTO:
            _policy.controller, _policy.note = _automatic_controller()
            if _policy.note:
                warnings.warn(_policy.note, BLASControlWarning, stacklevel=3)
        return _policy.controller


def blas_control_note() -> str | None:
    """Why led_ref could not control the BLAS (the note warned once), or None."""
    get_blas_controller()
    return _policy.note


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
        controller = get_blas_controller()
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
    controller = get_blas_controller()
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
    # BLAS's own threads: as many as the pool would run, never more than the BLAS count found outside led_ref's calls
    # (a user's limit); fewer than 2 leaves the step on the pool
    outside = getattr(controller, "outside", None)
    user = outside() if callable(outside) else None
    k = min(get_num_threads(), available_cores(), user if isinstance(user, int) and user >= 1 else available_cores())
    if k < 2:
        yield
        return
    monitor = _policy.one_row
    use_blas = monitor.use_blas_threads()
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

    def work(self, claimed=()):
        """Run the ``claimed`` items (taken before the job was shared), then take items until none are left."""
        n = len(self.items)
        for i in itertools.chain(claimed, iter(lambda: next(self.next), None)):
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
        pin = getattr(_policy.controller, "pin_worker", None)
        if callable(pin):  # BLAS with a count per thread (OpenMP): this thread's at one
            pin()
        while True:
            job = self.queue.get()
            if job is None:
                return
            job.work()

    def map(self, fn, items, threads=None, caller_first=False):
        """``[fn(item) for item in items]`` on the caller and up to ``threads - 1`` workers (default: all).
        ``caller_first``: item 0 is the caller's; the workers start at item 1."""
        job = _Job(fn, items)
        helpers = min(len(self.workers), len(items) - 1, (threads or self.size) - 1)
        claimed = range(1 if caller_first else 0)
        job.next = itertools.count(len(claimed))
        for _ in range(helpers):
            self.queue.put(job)
        job.work(claimed)
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


def piece_threads() -> int:
    """Threads that take the pieces of a parallel call made now (1: the call runs inline)."""
    local = _policy.local
    if getattr(local, "in_worker", False):
        return 1
    n = get_num_threads()
    return min(n, getattr(local, "cap", None) or n)  # decoding: at most one per core (one_per_core)


def parallel_map(fn: Callable, items: Iterable, caller_first: bool = False) -> list:
    """``[fn(item) for item in items]``, the calls spread over the policy's threads (results in order of items).

    Items must be independent (each writes its own part of shared outputs). Runs inline with one thread, with
    one item, or when called from inside a worker (no nested pools).

    ``caller_first``: item 0 is the calling thread's, and the workers start at item 1 -- for calls of short pieces
    (decoding steps), where the caller cuts item 0 as one long product (about its share, ``1 / piece_threads()``
    of the work) and the rest small. A woken worker needs the GIL: a caller running one short BLAS call after
    another takes it back after each, and the worker, which asks for it later, gets it only when the caller waits
    at the end of the call, with no pieces left. During one long BLAS call the GIL is free for the worker to take
    the small pieces (``python -m tools.bench.generation --breakdown`` counts the pieces run on pool workers)."""
    items = list(items)
    n = get_num_threads()
    local = _policy.local
    use = piece_threads()
    if use == 1 or len(items) <= 1:
        return [fn(item) for item in items]
    with region():
        local.in_worker = True  # the caller runs pieces too: no nested pools from inside them
        try:
            return _pool(n).map(fn, items, use, caller_first)
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

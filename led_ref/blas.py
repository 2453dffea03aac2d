"""BLAS thread control for led_ref's threading policy (``led_ref.threads``), through ``threadpoolctl``.

NumPy has no API for the thread count of the BLAS it loaded. ``threadpoolctl`` (a runtime dependency: pure Python,
no dependencies of its own, what scikit-learn relies on for the same job) finds the BLAS libraries loaded in the
process and calls their own get/set functions. ``ThreadpoolctlBLAS`` wraps it as led_ref's *BLAS controller*:
``limit(n)`` is a context manager that holds BLAS at ``n`` threads while a led_ref region runs and puts back the
count it found (the user's: ``OPENBLAS_NUM_THREADS``, a ``threadpool_limits`` block, or BLAS's default) when the
last region ends; ``outside()`` is that count.

The thread count is process-wide in OpenBLAS's pthreads build (the one NumPy's wheels bundle): several threads of a
program calling led_ref at once share it. So the requests of concurrent regions are combined: while any runs, BLAS
runs at the smallest count one of them asked for, and the count found before the first is restored when the last
ends (never the count of a region that is still running). A BLAS built on OpenMP keeps one count per calling thread;
then each thread's requests set its own count only, and led_ref's pool threads hold theirs at one (``pin_worker``).
"""

from __future__ import annotations

import contextlib
import threading

__all__ = ["ThreadpoolctlBLAS", "blas_threads_now"]


class ThreadpoolctlBLAS:
    """led_ref's BLAS controller over ``threadpoolctl``. ``LookupError`` (one line) when threadpoolctl finds no BLAS
    library it can control in this process (``led_ref.threads`` then notes it once and keeps NumPy's threading)."""

    def __init__(self, controller=None):
        """``controller``: a ``threadpoolctl.ThreadpoolController`` (default: a new one, which scans the libraries
        loaded now; numpy is imported first so that its BLAS is among them)."""
        if controller is None:
            import numpy  # noqa: F401  (threadpoolctl sees only the libraries loaded when it scans)
            from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]  # ships no type hints

            controller = ThreadpoolController()
        self._libs = list(controller.select(user_api="blas").lib_controllers)
        if not self._libs:
            raise LookupError("threadpoolctl finds no BLAS library that it can control in this process")
        found = [lib.num_threads for lib in self._libs]
        if any(not isinstance(n, int) or n < 1 for n in found):
            names = ", ".join(f"{lib.internal_api} {lib.version}" for lib in self._libs)
            raise LookupError(f"threadpoolctl cannot read the thread count of this process's BLAS ({names})")
        # OpenMP-threaded OpenBLAS/MKL/BLIS: counts are per calling thread
        self.per_thread = any(getattr(lib, "threading_layer", None) in ("openmp", "intel") for lib in self._libs)
        self._lock = threading.Lock()
        self._requests: dict[int, list[int]] = {}  # thread id -> stack of the counts its regions asked for
        self._saved: dict[int, list[int]] = {}  # scope (0: the process, else a thread id) -> counts found
        self._check_control(found)

    def _check_control(self, found):
        """Set 1 and read it back, then put the counts back: a BLAS whose count does not follow is not controlled."""
        for lib in self._libs:  # a threadpool_limits block running in another thread must not fail the check
            clear = getattr(type(lib), "clear_controlling_thread", None)
            if clear is not None:
                clear(force=True)
        try:
            self._set([1] * len(self._libs))
            ok = all(lib.num_threads == 1 for lib in self._libs)
        finally:
            self._set(found)
        if not ok:
            names = ", ".join(f"{lib.internal_api} {lib.version}" for lib in self._libs)
            raise LookupError(f"threadpoolctl cannot set the thread count of this process's BLAS ({names})")

    def info(self):
        """threadpoolctl's view of the BLAS libraries (name, version, num_threads, threading layer, ...)."""
        return [lib.info() for lib in self._libs]

    def num_threads(self) -> int:
        """BLAS threads now (the largest count of the loaded BLAS libraries)."""
        return max(lib.num_threads for lib in self._libs)

    def _scope(self):
        return threading.get_ident() if self.per_thread else 0

    def outside(self) -> int:
        """BLAS threads outside led_ref's regions: the count found before the running regions set theirs (the
        user's limit, or BLAS's default), else the count now."""
        with self._lock:
            saved = self._saved.get(self._scope())
        return max(saved) if saved else self.num_threads()

    def _set(self, counts):
        for lib, n in zip(self._libs, counts):
            lib.set_num_threads(n)
            # threadpoolctl lets one Python thread at a time set OpenBLAS's process-wide count (the "controlling
            # thread"); give that role back at once, so that the next region or the user's own threadpool_limits,
            # from any thread, is not silently ignored
            clear = getattr(type(lib), "clear_controlling_thread", None)
            if clear is not None:
                clear()

    def _apply(self, scope):
        if self.per_thread:
            self._set([self._requests[scope][-1]] * len(self._libs))
        else:
            self._set([min(stack[-1] for stack in self._requests.values())] * len(self._libs))

    @contextlib.contextmanager
    def limit(self, n: int):
        """Hold BLAS at ``n`` threads in this block (see the module docstring for concurrent blocks)."""
        me, n = threading.get_ident(), int(n)
        with self._lock:
            scope = me if self.per_thread else 0
            if scope not in self._saved:
                self._saved[scope] = [lib.num_threads for lib in self._libs]
            self._requests.setdefault(me, []).append(n)
            self._apply(scope)
        try:
            yield
        finally:
            with self._lock:
                stack = self._requests[me]
                stack.pop()
                if not stack:
                    del self._requests[me]
                if self.per_thread and me not in self._requests or not self.per_thread and not self._requests:
                    self._set(self._saved.pop(scope))
                else:
                    self._apply(scope)

    def pin_worker(self) -> None:
        """In a led_ref pool thread (never a user's thread): BLAS at one thread for good, where the count is per
        thread (a process-wide count is set by the regions)."""
        if self.per_thread:
            self._set([1] * len(self._libs))

    def reset_after_fork(self) -> None:
        # A child forked while a region ran has none of its parent's threads: no region runs there. Its BLAS count is
        # the region's until the child's own first region ends, which restores the count its parent found (kept).
        self._lock = threading.Lock()
        self._requests = {}
        self._saved = {0: self._saved[0]} if 0 in self._saved else {}


def blas_threads_now():
    """BLAS threads reported by threadpoolctl right now (the largest over the loaded BLAS libraries), or None when it
    finds none: what the tests check inside led_ref's regions, independently of the controller."""
    from threadpoolctl import threadpool_info

    counts = [lib["num_threads"] for lib in threadpool_info() if lib.get("user_api") == "blas"]
    return max(counts) if counts else None

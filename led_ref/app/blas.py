"""BLAS thread control for led_ref's threading policy, through the optional ``threadpoolctl``.

The core (``led_ref.threads``) splits its heavy work over a pool of Python threads and wants every
BLAS call single-threaded meanwhile; it cannot set OpenBLAS's thread count itself (NumPy has no API
for it and the core imports nothing but numpy and regex). ``threadpoolctl`` is the well-kept library
that does it, so the app layer (CLI, benchmarks) plugs it in here when it is installed
(``pip install 'led-ref[threads]'``). A library user can do the same::

    from led_ref.app.blas import install_blas_controller
    install_blas_controller()          # True when threadpoolctl was found
"""

from __future__ import annotations

from led_ref import threads

INSTALL_HINT = "pip install threadpoolctl  (or: pip install 'led-ref[threads]')"


class ThreadpoolctlBLAS:
    """``limit(n)``: a context manager capping the BLAS libraries NumPy loaded at ``n`` threads."""

    def __init__(self):
        import numpy  # noqa: F401  (threadpoolctl sees only the libraries loaded when it starts)
        from threadpoolctl import ThreadpoolController

        self._controller = ThreadpoolController()

    def limit(self, n):
        return self._controller.limit(limits=int(n), user_api="blas")

    def info(self):
        """threadpoolctl's view of the BLAS libraries (name, version, num_threads, ...)."""
        return self._controller.select(user_api="blas").info()


def install_blas_controller():
    """Install ``ThreadpoolctlBLAS`` as led_ref's BLAS controller; returns False (and changes nothing) when
    threadpoolctl is not installed."""
    try:
        controller = ThreadpoolctlBLAS()
    except ImportError:
        return False
    threads.set_blas_controller(controller)
    return True


def blas_threads_now():
    """BLAS threads reported by threadpoolctl right now (max over the loaded BLAS libraries), or None."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    counts = [lib["num_threads"] for lib in threadpool_info() if lib.get("user_api") == "blas"]
    return max(counts) if counts else None


def add_threads_argument(parser):
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        default=None,
        help="threads for led_ref's NumPy work (default: cores + 1 with threadpoolctl installed, "
        "else BLAS's own threading); more than the cores is allowed",
    )


def configure(threads_option=None, name="--threads"):
    """The CLI's threading setup: install the threadpoolctl BLAS controller when available, then apply an explicit
    ``--threads`` (which always wins). Returns the notes to print (one line each); bad counts raise ValueError."""
    notes = []
    if threads_option is not None:
        n = threads.check_threads(threads_option, name)
    have = install_blas_controller()
    if threads_option is not None:
        cores = threads.available_cores()
        if n > cores:
            notes.append(f"note: {name} {n} is more than the {cores} available cores (allowed; threads share cores)")
        if not have and n > 1:
            notes.append(
                f"note: threadpoolctl is not installed, so BLAS keeps its own threads under led_ref's {n} "
                f"(slower; {INSTALL_HINT})"
            )
        threads.set_num_threads(n)
    return notes

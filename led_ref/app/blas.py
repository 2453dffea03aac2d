"""The command line's ``--threads`` option. The threading policy itself (BLAS at one thread under led_ref's own
pool, through threadpoolctl) is the core's, ``led_ref.threads`` and ``led_ref.blas``: the CLI adds only the option
and prints the notes as one line each."""

from __future__ import annotations

import warnings

from led_ref import threads


def add_threads_argument(parser):
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        default=None,
        help="threads for led_ref's NumPy work (default: cores + 1 with single-threaded BLAS calls, or the BLAS "
        "limit you set, e.g. OPENBLAS_NUM_THREADS); more than the cores is allowed",
    )


def configure(threads_option=None, name="--threads"):
    """The CLI's threading setup: an explicit ``--threads`` (which always wins) over the core's policy. Returns the
    notes to print (one line each): more threads than cores, or a BLAS that led_ref cannot control (the core's
    warning, printed as a note instead). Bad counts raise ValueError."""
    notes = []
    if threads_option is not None:
        n = threads.check_threads(threads_option, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", threads.BLASControlWarning)  # printed below as the CLI's note
        blas_note = threads.blas_control_note()
    if blas_note:
        notes.append(f"note: {blas_note}")
    if threads_option is not None:
        cores = threads.available_cores()
        if n > cores:
            notes.append(f"note: {name} {n} is more than the {cores} available cores (allowed; threads share cores)")
        threads.set_num_threads(n)
    return notes

"""Process settings for training with the torch graph: the AdamW configuration and glibc heap limits that the
finetune CLI and the training benchmark (both its led-ref and its HF rows) share (spec/SPEC.md#training).

Why these settings (``python -m tools.bench.training`` measures a led-base step's time and peak RSS):

* ``ADAMW_OPTIONS``: torch's default multi-tensor ("foreach") AdamW makes temporaries the size of all
  parameters (e.g. the square root of every second moment) during ``step()``. The fused
  CPU kernel updates each parameter in place in one pass.
* ``HEAP_MMAP_THRESHOLD``: glibc serves an allocation from mmap (given back to the OS on free) only above a
  threshold that it raises, after the first large free, up to 32 MB; every activation below that (a 4,096 x 768
  float32 hidden state is 12.6 MB) then lives on the heap, whose freed pages glibc keeps. A fixed threshold
  stops that, and freed activations go back to the OS between steps.
"""

import ctypes
import ctypes.util

ADAMW_OPTIONS = {"fused": True}
HEAP_MMAP_THRESHOLD = 128 * 1024  # bytes: glibc's initial (static) threshold
HEAP_MMAP_THRESHOLD_MAX = (
    32 * 1024 * 1024
)  # glibc's largest on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX); mallopt refuses more
_M_MMAP_THRESHOLD = -3  # mallopt parameter number (malloc.h)


def adamw(params, lr, **kwargs):
    """``torch.optim.AdamW(params, lr=lr, **kwargs)`` with ``ADAMW_OPTIONS`` (params: tensors or groups)."""
    import torch  # here, so that the benchmark's parent process reads the settings without loading torch

    return torch.optim.AdamW(params, lr=lr, **ADAMW_OPTIONS, **kwargs)


def restore_adamw_options(optimizer):
    """Re-apply ``ADAMW_OPTIONS`` after ``optimizer.load_state_dict``: the loaded parameter groups carry the
    options of the run that saved them (an older checkpoint's foreach AdamW), and the groups' values decide."""
    for group in optimizer.param_groups:
        group.update(ADAMW_OPTIONS)
        group["foreach"] = None  # torch refuses fused together with foreach=True
    return optimizer


def _libc():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def limit_heap_retention(threshold=HEAP_MMAP_THRESHOLD):
    """Fix glibc's mmap threshold (process-wide, for every allocation from now on) so that large freed
    activations go back to the OS; the same as starting the process with ``MALLOC_MMAP_THRESHOLD_=threshold``.
    Returns False where the C library has no ``mallopt`` (not glibc): nothing changes there."""
    libc = _libc()
    return bool(libc is not None and libc.mallopt(_M_MMAP_THRESHOLD, int(threshold)) == 1)


def trim_heap():
    """Give freed heap pages back to the OS now (glibc ``malloc_trim``); False where unavailable."""
    libc = _libc()
    return bool(libc is not None and libc.malloc_trim(0) == 1)

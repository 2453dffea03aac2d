"""ONNX Runtime session and run options that led-ref's runtime classes set themselves
(spec/DESIGN.md#lean-encoder): users get the lean memory/speed behaviour without tuning.

The CPU arena stays on: without it every large intermediate goes through malloc/free and the freed pages are
not reused, which multiplies the encoder's peak RSS and time (``python -m tools.bench.ort_deploy`` measures
both); the memory pattern planner changes neither figure much and stays on (ORT's default).
What keeps the encoder lean is the graph (export/torch_model.py: per-head local attention), plus arena
shrinkage after each encoder run so that a 16k-token encoder pass does not keep its ~1 GB of
activations reserved while the decoder runs.
"""

import os


def cpu_threads():
    """Cores this process may run on (what ORT's default would use on a VM without SMT)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def session_options(threads=None):
    """SessionOptions used when the caller passes none: arena + memory pattern on, all graph
    optimizations, sequential execution, ``threads`` intra-op threads (default: usable cores)."""
    import onnxruntime as ort

    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads={threads!r} must be a positive int")
    opts = ort.SessionOptions()
    opts.enable_cpu_mem_arena = True
    opts.enable_mem_pattern = True
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.intra_op_num_threads = int(threads or cpu_threads())
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3  # errors only: ORT's warnings about unused initializers are noise here
    return opts


def run_options(shrink_arena=False, providers=()):
    """RunOptions; ``shrink_arena`` returns the arena's unused chunks to the OS after the run (the
    encoder: its activations are large and needed once per document)."""
    import onnxruntime as ort

    opts = ort.RunOptions()
    if shrink_arena:
        devices = ["cpu:0"] + (["gpu:0"] if "CUDAExecutionProvider" in (providers or ()) else [])
        opts.add_run_config_entry("memory.enable_memory_arena_shrinkage", ";".join(devices))
    return opts

"""``led-ref summarize --engine ray``: the same batches, run by a Ray Data actor pool.

The driver (this process) reads, checks and tokenizes the corpus and forms the same length-sorted token-budget
batches as the local engine; each batch is one row of a Ray dataset (``ray.data.from_items``). ``map_batches``
with a callable class runs them on ``--num-actors`` actors; each actor builds one ``Summarizer`` (loads the model
once) and returns the result lines of its batch. The driver streams the rows back (``iter_rows``) and appends them
to OUTPUT as they arrive, so resume and the error lines work as with the local engine; lines come in completion
order, not input order.

What is shipped: with ``--ray-address`` (a cluster, maybe of several machines) the checkpoint directory's files go
through Ray's object store once and each actor writes them to a local temporary directory; the documents travel as
token ids inside the dataset rows. The code is not shipped: every node needs the same led-ref installed (with the
export extra for ``--backend onnx``). Without ``--ray-address`` a local Ray instance is started and the actors read
``--model`` directly.

An actor that dies mid-batch (a crash, the OOM killer) is restarted and its batch retried once
(``max_task_retries=1``); a batch that fails twice is skipped by Ray Data (``max_errored_blocks=-1``) and its
documents are written with an ``error``, so nothing is lost.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import warnings

__all__ = ["require_ray", "run_batches", "check_address"]

_INSTALL = "--engine ray needs the scale extra: pip install -e '.[scale]'"
RETRIED_ERROR = "the Ray worker summarizing this batch failed twice (it was retried once); not summarized"


def require_ray():
    """Import Ray Data, or fail with one line naming the install command."""
    try:
        import ray
        import ray.data  # noqa: F401 (imported to check that it is installed)
    except ImportError:
        raise ImportError(_INSTALL) from None


def check_address(address, timeout):
    """Fail within ``timeout`` seconds, with a clear message, when no Ray cluster answers at ``address``
    (HOST:PORT or ray://HOST:PORT). ray.init itself retries for a while and logs a warning a second meanwhile, and
    a proxy may accept any TCP connection, so after a TCP check a child process tries ``ray.init`` under the
    deadline (its log stays out of the way)."""
    if address in (None, "auto", "local"):
        return
    hostport = address.split("://", 1)[-1]
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(
            f"--ray-address must be HOST:PORT (e.g. 10.0.0.1:6379), ray://HOST:PORT or auto, got {address!r}"
        )
    t0 = time.monotonic()
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise ConnectionError(
            f"--ray-address {address}: no Ray cluster answered within {timeout:g} s ({exc}); "
            "start one with `ray start --head` or check the address"
        ) from None
    probe = (
        "import ray, sys\nray.init(address=sys.argv[1], include_dashboard=False, log_to_driver=False)\nray.shutdown()\n"
    )
    left = max(timeout - (time.monotonic() - t0), 1.0)
    try:
        r = subprocess.run([sys.executable, "-c", probe, address], capture_output=True, text=True, timeout=left)
    except subprocess.TimeoutExpired:
        raise ConnectionError(
            f"--ray-address {address}: no Ray cluster answered within {timeout:g} s (something "
            "accepts connections there, but not as a Ray head node); check the address"
        ) from None
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise ConnectionError(f"--ray-address {address}: cannot join the Ray cluster: {last}")


def _model_files(model_dir):
    """{file name: bytes} of the checkpoint directory's files (what a remote actor needs to load it)."""
    files = {}
    for name in sorted(os.listdir(model_dir)):
        path = os.path.join(model_dir, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                files[name] = f.read()
    return files


class _SummarizeActor:
    """One Ray actor: loads the model once, then summarizes one batch per call."""

    def __init__(self, spec, files_ref=None, threads=None, fault=None):
        import dataclasses

        import ray

        from .engine import Summarizer

        self._tmp = None
        if files_ref is not None:  # a cluster: materialize the shipped checkpoint on this node
            files = ray.get(files_ref)
            self._tmp = tempfile.TemporaryDirectory(prefix="led-ref-model-")
            for name, data in files.items():
                with open(os.path.join(self._tmp.name, name), "wb") as f:
                    f.write(data)
            spec = dataclasses.replace(spec, model_dir=self._tmp.name)
        self.summarizer = Summarizer(spec, threads=threads)
        self.fault = fault or {}

    def _maybe_fail(self, indices):
        # test hook: die like a crashed worker (always, or once per document with a marker file)
        for i in indices:
            if i in self.fault.get("always", ()):
                open(os.path.join(self.fault["marker_dir"], f"died-{i}"), "a").close()
                os._exit(1)
            if i in self.fault.get("once", ()):
                marker = os.path.join(self.fault["marker_dir"], f"died-{i}")
                if not os.path.exists(marker):
                    open(marker, "w").close()
                    os._exit(1)

    def __call__(self, rows):
        import numpy as np

        from .engine import Prepared

        results = []
        for payload in rows["payload"]:
            batch = [Prepared(i, ids, truncated) for i, ids, truncated in json.loads(payload)]
            if self.fault:
                self._maybe_fail([p.index for p in batch])
            results.append(json.dumps(self.summarizer.run_batch_safe(batch)))
        return {"batch_no": np.asarray(rows["batch_no"]), "results": np.array(results, dtype=object)}


def _retry_once():
    return {"max_restarts": -1, "max_task_retries": 1}


def run_batches(
    spec, batches, write, *, num_actors=2, address=None, num_cpus=None, cpus_per_actor=1, log=print, _fault=None
):
    """Summarize ``batches`` (lists of engine.Prepared) on Ray; ``write(results)`` gets each batch's
    [(index, result)] as it completes, and a batch that failed twice comes back as error results.
    Call ``check_address`` first (summarize_corpus does, before any work)."""
    require_ray()
    if not batches:
        return
    import logging

    import ray
    import ray.data
    import ray.exceptions

    started = False
    if not ray.is_initialized():
        kwargs = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        if address is None:
            ray.init(num_cpus=num_cpus or num_actors * cpus_per_actor, **kwargs)
        else:
            ray.init(address=address, **kwargs)
        started = True
    data_logger = logging.getLogger("ray.data")
    old_level = data_logger.level
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.max_errored_blocks = -1  # a batch that failed twice is skipped; its documents get error lines below
        ctx.enable_progress_bars = False  # ours is drawn by the caller
        data_logger.setLevel(logging.CRITICAL)  # failures are reported in OUTPUT, not as tracebacks
        files_ref = ray.put(_model_files(spec.model_dir)) if address is not None else None
        rows = [
            {"batch_no": k, "payload": json.dumps([[p.index, p.ids, p.truncated] for p in b])}
            for k, b in enumerate(batches)
        ]
        ds = ray.data.from_items(rows, override_num_blocks=len(rows))
        with warnings.catch_warnings():
            # Ray 2.60 deprecates ray_remote_args(_fn) but names no parameter for max_restarts/max_task_retries yet
            # (pyproject caps ray below 2.64, where they go)
            warnings.simplefilter("ignore", DeprecationWarning)
            ds = ds.map_batches(
                _SummarizeActor,
                batch_size=1,
                num_cpus=cpus_per_actor,
                # one batch in flight per actor: an actor that dies takes only the batch it was running with it
                compute=ray.data.ActorPoolStrategy(
                    size=max(1, min(num_actors, len(rows))), max_tasks_in_flight_per_actor=1
                ),
                fn_constructor_kwargs={
                    "spec": spec,
                    "files_ref": files_ref,
                    "threads": cpus_per_actor,
                    "fault": _fault,
                },
                ray_remote_args_fn=_retry_once,  # a dead actor is restarted and its batch retried once
            )
        done = set()
        t0 = time.perf_counter()
        try:
            for row in ds.iter_rows():
                k = int(row["batch_no"])
                if k in done:  # a retried task whose first attempt also delivered: write once
                    continue
                done.add(k)
                write([(int(i), r) for i, r in json.loads(row["results"])])
        except ray.exceptions.RayError as exc:  # e.g. no actor could load the model: the job cannot go on
            from ..cli import CLIError

            first = next((ln for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
            raise CLIError(
                f"--engine ray: the Ray job failed ({first.strip()[:300]}); what was done is in OUTPUT, "
                "rerun with --resume after fixing the cause"
            ) from exc
        lost = [k for k in range(len(batches)) if k not in done]
        for k in lost:
            write([(p.index, {"error": RETRIED_ERROR}) for p in batches[k]])
        if lost:
            log(
                f"led-ref summarize: {len(lost)} batch(es) failed twice on Ray; their "
                f"{sum(len(batches[k]) for k in lost)} documents are written with an error"
            )
        log(
            f"led-ref summarize: Ray Data ran {len(batches)} batches on {num_actors} actors in "
            f"{time.perf_counter() - t0:.1f} s"
        )
    finally:
        data_logger.setLevel(old_level)
        if started:
            ray.shutdown()

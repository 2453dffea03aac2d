"""Shared benchmark helpers: timing, peak memory, machine/version info, FLOP counts, and running one
measurement in its own interpreter (so peak memory is per row, and HF rows can run in another venv).

Nothing here imports torch, onnx or transformers at module level: the HF row functions at the end
import transformers inside themselves and run only in the interpreter given by ``--hf-python``.
"""

import importlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from led_ref.inputs import padded_length  # the encoder's pad-to-window rule (numpy only: fine in the HF interpreter)

REPO_ROOT = Path(__file__).resolve().parents[3]  # the directory holding the led_ref package
DATA_DIR = Path(__file__).resolve().parents[2] / "data"
BUNDLED_TEXT = DATA_DIR / "python-reference-excerpt.txt"

# The led-base shape (allenai/led-base-16384) the benchmark targets are stated for.
LED_BASE = dict(
    vocab_size=50265,
    d_model=768,
    encoder_layers=6,
    decoder_layers=6,
    encoder_attention_heads=12,
    decoder_attention_heads=12,
    encoder_ffn_dim=3072,
    decoder_ffn_dim=3072,
    attention_window=1024,
    max_encoder_position_embeddings=16384,
    max_decoder_position_embeddings=1024,
)
# A few-second shape for --quick and tests; same code paths (banded + global attention, padding).
LED_TINY = dict(
    vocab_size=50265,
    d_model=32,
    encoder_layers=2,
    decoder_layers=2,
    encoder_attention_heads=4,
    decoder_attention_heads=4,
    encoder_ffn_dim=64,
    decoder_ffn_dim=64,
    attention_window=32,
    max_encoder_position_embeddings=1024,
    max_decoder_position_embeddings=256,
)
SIZES = {"base": LED_BASE, "tiny": LED_TINY}

_RESULT_MARK = "@@LED_REF_BENCH_RESULT@@"


# ---------------------------------------------------------------- timing and memory


def peak_rss_bytes():
    """Peak resident set size of this process so far (bytes)."""
    ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return ru if sys.platform == "darwin" else ru * 1024  # Linux reports KiB


def current_rss_bytes():
    """Resident set size of this process now (bytes), or None where /proc is missing (not Linux)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def reset_peak_rss():
    """Start a new peak (Linux >= 4.0: /proc/self/clear_refs "5" resets VmHWM), so that ``window_peak_rss_bytes``
    measures a run alone and not the loading before it; False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def window_peak_rss_bytes():
    """Peak RSS since the last ``reset_peak_rss`` (VmHWM, bytes), or None where /proc is missing."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def time_call(fn, repeat=1, warmup=0):
    """Run ``fn()`` ``warmup`` + ``repeat`` times; return ``{"seconds": median, "runs": [...], "result": last}``."""
    if repeat < 1 or warmup < 0:
        raise ValueError(f"time_call: need repeat >= 1 and warmup >= 0, got repeat={repeat}, warmup={warmup}")
    for _ in range(warmup):
        fn()
    runs, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - t0)
    return {"seconds": statistics.median(runs), "runs": runs, "result": result}


def encoder_flops(seq_len, d_model, ffn_dim, layers, window, num_global=1):
    """FLOPs (multiply-add = 2) of an LED encoder forward on one sequence, the single formula the table uses.

    Per layer, over the padded length S (a multiple of ``window``; ``window`` is HF's two-sided
    attention_window, so a token sees ``window + 1`` band keys):
      - 6 projections over all tokens (query, key, value, key_global, value_global, output): 6 * 2*S*d^2
      - FFN: 2 * 2*S*d*ffn
      - band attention, scores + weighted sum: 2 * 2*S*(window+1)*d
      - global tokens: every token also attends to the G global keys (2 * 2*S*G*d), the G global rows
        get query_global (2*G*d^2) and attend to all S keys (2 * 2*G*S*d)
    Embeddings, LayerNorms and softmax are left out (O(S*d), under 1%).
    """
    s = padded_length(seq_len, window)
    d, g = d_model, num_global
    per_layer = 6 * 2 * s * d * d + 2 * 2 * s * d * ffn_dim + 2 * 2 * s * (window + 1) * d
    per_layer += 2 * 2 * s * g * d + 2 * g * d * d + 2 * 2 * g * s * d
    return layers * per_layer


# ---------------------------------------------------------------- machine and versions


def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_total_gb():
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _dist_version(name):
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def machine_info():
    """The machine and library versions a figure was measured with (no heavy imports)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    import numpy as np

    info = {
        "cpu": _cpu_model(),
        "cores_usable": usable,
        "cores_total": os.cpu_count(),
        "mem_gb": _mem_total_gb(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": _numpy_blas(),
        "threads_env": {
            k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS") if k in os.environ
        },
    }
    try:  # a shared machine's figures mean little without its load
        info["load_avg_1m"] = round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        info["load_avg_1m"] = None
    for dist in ("torch", "onnx", "onnxruntime", "transformers"):
        info[dist] = _dist_version(dist)
    return info


def command_line():
    """The command that is running, as ``led-ref ...`` when it is the CLI (for a --json file's header); None
    when it is not (a test calling run_cli, say)."""
    if sys.argv[1:2] == ["bench"]:
        return "led-ref " + " ".join(sys.argv[1:])
    return None


def _numpy_blas():
    import numpy as np

    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version', '')}".strip()
    except Exception:  # older numpy: no dict mode; the name is a nicety, not a figure
        return "unknown"


def interpreter_versions(python):
    """Versions of python/numpy/torch/transformers in another interpreter (for the HF rows' header)."""
    code = (
        "import json,platform\nfrom importlib import metadata\nd={'python':platform.python_version()}\n"
        "for n in ('numpy','torch','transformers','tokenizers'):\n"
        "    try: d[n]=metadata.version(n)\n    except Exception: d[n]=None\nprint(json.dumps(d))"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise ValueError(f"--hf-python {python}: could not run it ({out.stderr.strip().splitlines()[-1:]})")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- one measurement per subprocess

_CHILD = r"""
import importlib, json, resource, sys, traceback
spec = json.loads(sys.stdin.read())
try:
    if spec.get("api") == "cli":  # led_ref rows as the command line runs them: its threading setup
        from led_ref.app.blas import configure
        configure(spec["led_threads"])
    elif spec.get("api") == "library" and spec.get("led_threads"):  # a plain `import led_ref` program
        from led_ref import threads
        threads.set_num_threads(spec["led_threads"])
    mod = importlib.import_module(spec["module"])
    res = getattr(mod, spec["function"])(**spec["kwargs"])
    res = dict(res or {})
    ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    res.setdefault("peak_rss_bytes", ru if sys.platform == "darwin" else ru * 1024)
except BaseException as exc:
    traceback.print_exc()
    res = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0][:300]}
print(RESULT_MARK + json.dumps(res, default=float))
""".replace("RESULT_MARK", repr(_RESULT_MARK))


APIS = ("library", "cli")


def run_isolated(module, function, kwargs=None, python=None, timeout=600, threads=None, api="cli"):
    """Call ``module.function(**kwargs)`` in a fresh interpreter and return its dict (plus ``peak_rss_bytes``).

    ``python`` defaults to this interpreter; the repository root is put on PYTHONPATH so another
    interpreter (e.g. one with transformers) can import ``led_ref.app.benchmarks``. Never raises for a
    failed row: returns ``{"error": "..."}`` so the table can say why. led_ref rows run as ``api`` runs them:
    "cli", after the command line's threading setup (``led_ref.app.blas.configure(threads)``); "library", as a
    program that imports led_ref and calls nothing else (``led_ref.threads.set_num_threads(threads)`` only when
    ``threads`` is given).
    """
    if api not in APIS:
        raise ValueError(f"api must be one of {', '.join(APIS)}, got {api!r}")
    python = python or sys.executable
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.setdefault("LED_REF_PROGRESS", "0")
    spec = {"module": module, "function": function, "kwargs": kwargs or {}}
    if python is None or python == sys.executable:
        spec.update(led_threads=threads, api=api)
    elif threads:  # another interpreter (HF rows): torch and its BLAS read these
        for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[k] = str(threads)
    spec = json.dumps(spec)
    watch = OtherLoad()
    try:
        proc = subprocess.run(
            [python, "-c", _CHILD], input=spec, capture_output=True, text=True, timeout=timeout, env=env
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s (raise --timeout)"}
    except OSError as exc:
        return {"error": f"could not start {python}: {exc}"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(_RESULT_MARK):
            res = json.loads(line[len(_RESULT_MARK) :])
            others = watch.cores()
            if others is not None:
                res.setdefault("others_cores", others)
            return res
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"error": f"exit code {proc.returncode}: {tail[:300]}"}


_BUSY_PIDS = set()  # the running BusyProcess competitors (not "other" load: the benchmark runs them)


def _machine_busy_s():
    """Seconds of CPU time the whole machine has spent busy (all cores, /proc/stat), or None off Linux."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait


def _process_cpu_s(pid):
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    except (OSError, ValueError, IndexError):
        return 0.0


class OtherLoad:
    """CPU that processes other than this benchmark used while a row ran, in cores (CPU seconds / wall seconds): the
    machine's busy time less this process, its finished children (the row's interpreter) and its ``--busy``
    competitor. On a shared machine a "quiet" row beside another user's job shows it here (Linux only: None
    elsewhere)."""

    def __init__(self, competitors=None):
        """``competitors``: pids run by the benchmark itself (default: the running ``BusyProcess`` competitors)."""
        self.competitors = set(_BUSY_PIDS if competitors is None else competitors)
        self.t0, self.machine0, self.own0 = time.perf_counter(), _machine_busy_s(), self._own()

    def _own(self):
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system + sum(map(_process_cpu_s, self.competitors))

    def cores(self):
        machine = _machine_busy_s()
        wall = time.perf_counter() - self.t0
        if machine is None or self.machine0 is None or wall <= 0:
            return None
        return round(max(0.0, (machine - self.machine0) - (self._own() - self.own0)) / wall, 2)


class BusyStartError(ValueError):
    """The ``--busy`` competing process could not start (or exited at once)."""


class BusyProcess:
    """``--busy``: one competing CPU-bound process (a Python busy loop) for the duration of the rows, like a
    neighbour on a shared machine. Use as a context manager; ``ValueError`` (one line) when it cannot start."""

    # A busy loop that ends when its parent does: a benchmark killed by a signal (a timeout, Ctrl-C twice) runs no
    # clean-up, and an orphaned competitor would make every later "quiet" row busy. It checks every few ms.
    CODE = "import os\nparent = os.getppid()\nwhile os.getppid() == parent:\n    for _ in range(100000): pass"

    def __init__(self, python=None):
        self.python = python or sys.executable
        self.proc = None

    def __enter__(self):
        try:
            self.proc = subprocess.Popen(
                [self.python, "-c", self.CODE],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except OSError as exc:
            raise BusyStartError(f"--busy: could not start the competing process ({self.python}): {exc}") from None
        _BUSY_PIDS.add(self.proc.pid)
        time.sleep(0.3)
        if self.proc.poll() is not None:
            _BUSY_PIDS.discard(self.proc.pid)
            raise BusyStartError(f"--busy: the competing process exited at once (code {self.proc.returncode})")
        return self

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None:
            _BUSY_PIDS.discard(self.proc.pid)
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


def loads(busy):
    """The loads a benchmark row runs under: yields "quiet", then with ``busy`` "busy" while one competing
    ``BusyProcess`` runs (started before and stopped after the caller's loop body, also on break or error).
    A competing process that cannot start raises ``BusyStartError`` (a ValueError, one line); ``busy_error``
    reports it."""
    yield "quiet"
    if busy:
        with BusyProcess():
            yield "busy"


def busy_error(prog, exc):
    """The one-line error (stderr) and exit code 2 of a benchmark whose ``--busy`` process could not start."""
    print(f"{prog}: error: {exc}", file=sys.stderr)
    return 2


def threading_line():
    """How this interpreter's led_ref rows are threaded (the policy as a call would find it now)."""
    from led_ref import threads
    from led_ref.blas import blas_threads_now

    ctl = threads.get_blas_controller()
    blas = blas_threads_now()
    return (
        f"led_ref threads {threads.get_num_threads()} ({threads.available_cores()} cores), BLAS controller "
        f"{type(ctl).__name__ if ctl is not None else 'none: ' + (threads.blas_control_note() or 'set to None')}, "
        f"BLAS threads outside led_ref calls {blas if blas is not None else 'unknown'}"
    )


def threading_line_row():
    return {"line": threading_line()}


def copy_bandwidth(nbytes=256 << 20, repeat=5):
    """Measured memory bandwidth, bytes/s: (read + write) bytes of np.copyto over 256 MB arrays divided by the best
    time, with the copy split over led_ref's threads (the same threads a decoding step uses)."""
    import numpy as np

    from led_ref import threads

    a = np.ones(nbytes // 4, np.float32)
    b = np.empty_like(a)
    n = min(threads.get_num_threads(), threads.available_cores())
    parts = threads.split(a.size, 4 * n)
    best = float("inf")
    with threads.num_threads(n):
        for _ in range(repeat):
            t0 = time.perf_counter()
            threads.parallel_map(lambda s: np.copyto(b[s], a[s]), parts)
            best = min(best, time.perf_counter() - t0)
    return 2 * a.nbytes / best


def optional_module(name):
    """Import ``name`` or return (None, reason) -- for rows whose backend may not be installed."""
    try:
        return importlib.import_module(name), None
    except ImportError as exc:
        return None, f"{type(exc).__name__}: {exc}"


def load_text(min_bytes=0):
    """The bundled text, repeated to at least ``min_bytes`` (tokenizer throughput wants >= 1 MB)."""
    text = BUNDLED_TEXT.read_text(encoding="utf-8")
    reps = max(1, -(-min_bytes // len(text.encode("utf-8"))))
    return "\n\n".join([text] * reps)


# ---------------------------------------------------------------- HF rows (run only in an HF interpreter)


def _hf_config(size, seq_len):
    import transformers

    shape = dict(SIZES[size])
    shape["max_encoder_position_embeddings"] = max(shape["max_encoder_position_embeddings"], seq_len)
    return transformers.LEDConfig(**shape)


def _random_ids(batch, seq_len, vocab, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    ids = rng.integers(4, min(vocab, 50260), size=(batch, seq_len), dtype=np.int64)
    ids[:, 0] = 0  # <s>
    ids[:, -1] = 2  # </s>
    return ids


def random_inputs(batch, seq_len, vocab, seed=0):
    """(ids, mask, glob) int64 NumPy arrays for a timing row: ``_random_ids``, every token attended, global
    attention on <s> (LED's usual setting for summarization)."""
    import numpy as np

    ids = _random_ids(batch, seq_len, vocab, seed)
    glob = np.zeros_like(ids)
    glob[:, 0] = 1
    return ids, np.ones_like(ids), glob


def hf_encoder_seconds(seq_len, size="base", repeat=1, threads=None):
    """HF transformers LEDModel encoder (torch eager, float32, CPU, no_grad), one global token."""
    import numpy as np
    import torch
    import transformers

    if threads:
        torch.set_num_threads(int(threads))
    torch.manual_seed(0)
    cfg = _hf_config(size, seq_len)
    encoder = transformers.LEDModel(cfg).eval().get_encoder()
    ids, mask, glob = (torch.from_numpy(a) for a in random_inputs(1, seq_len, cfg.vocab_size))
    with torch.no_grad():
        encoder(input_ids=ids[:, :8], attention_mask=mask[:, :8], global_attention_mask=glob[:, :8])  # warm-up
        t = time_call(lambda: encoder(input_ids=ids, attention_mask=mask, global_attention_mask=glob), repeat=repeat)
    out = t["result"].last_hidden_state
    assert out.shape == (1, seq_len, cfg.d_model) and bool(torch.isfinite(out).all())
    flops = encoder_flops(
        seq_len, cfg.d_model, cfg.encoder_ffn_dim, cfg.encoder_layers, int(np.max(cfg.attention_window))
    )
    return {
        "seconds": t["seconds"],
        "runs": t["runs"],
        "flops": flops,
        "threads": torch.get_num_threads(),
        "transformers": transformers.__version__,
        "torch": torch.__version__,
    }


def hf_decode_ms_per_token(seq_len, new_tokens, size="base", threads=None):
    """HF LEDForConditionalGeneration: greedy decoding with the cache, ms per token after the encoder."""
    import torch
    import transformers

    if threads:
        torch.set_num_threads(int(threads))
    torch.manual_seed(0)
    cfg = _hf_config(size, seq_len)
    model = transformers.LEDForConditionalGeneration(cfg).eval()
    ids, mask, glob = (torch.from_numpy(a) for a in random_inputs(1, seq_len, cfg.vocab_size))
    with torch.no_grad():
        t0 = time.perf_counter()
        enc = model.get_encoder()(input_ids=ids, attention_mask=mask, global_attention_mask=glob)
        t_enc = time.perf_counter() - t0
        dec = torch.full((1, 1), cfg.decoder_start_token_id, dtype=torch.long)
        past = None
        t0 = time.perf_counter()
        for _ in range(new_tokens):
            out = model(
                encoder_outputs=enc, attention_mask=mask, decoder_input_ids=dec, past_key_values=past, use_cache=True
            )
            past = out.past_key_values
            dec = out.logits[:, -1:].argmax(-1)
        t_dec = time.perf_counter() - t0
    return {
        "ms_per_token": 1000 * t_dec / new_tokens,
        "encoder_seconds": t_enc,
        "new_tokens": new_tokens,
        "threads": torch.get_num_threads(),
    }


def hf_tokenizer_throughput(min_bytes=1 << 20):
    """HF LEDTokenizerFast (Rust) and LEDTokenizer (Python) on the bundled vocabulary, tokens per second."""
    import transformers

    text = load_text(min_bytes)
    res = {"bytes": len(text.encode("utf-8"))}
    for name, cls in (("fast", transformers.LEDTokenizerFast), ("slow", transformers.LEDTokenizer)):
        tok = cls(vocab_file=str(DATA_DIR / "vocab.json"), merges_file=str(DATA_DIR / "merges.txt"))
        t = time_call(lambda tok=tok: tok(text, add_special_tokens=True)["input_ids"])
        res[f"{name}_tokens_per_s"] = len(t["result"]) / t["seconds"]
        res["tokens"] = len(t["result"])
    return res

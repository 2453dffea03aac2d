"""led_ref.threads: the threading policy is applied (pool size, BLAS threads during a band GEMM when threadpoolctl
is installed) and results do not depend on the thread count. Not timed."""

import numpy as np
import pytest

from led_ref import attention, scheduling, threads
from led_ref.blas import ThreadpoolctlBLAS, blas_threads_now
from led_ref.config import SHAPE_FIELDS, LEDConfig
from led_ref.model import LEDForConditionalGeneration
from led_ref.weights import init_params

CFG = LEDConfig(
    vocab_size=300,
    d_model=32,
    encoder_layers=2,
    decoder_layers=2,
    encoder_attention_heads=4,
    decoder_attention_heads=4,
    encoder_ffn_dim=64,
    decoder_ffn_dim=64,
    attention_window=[16, 32],
    max_encoder_position_embeddings=1024,
    max_decoder_position_embeddings=64,
)


@pytest.fixture(scope="module")
def model():
    return LEDForConditionalGeneration(CFG, init_params(CFG, "lm", seed=0))


pytestmark = pytest.mark.usefixtures("restore_policy")  # tests/conftest.py


def _inputs():
    rng = np.random.default_rng(3)
    ids = rng.integers(3, 300, (2, 300))
    mask = np.ones_like(ids)
    mask[1, 250:] = 0
    glob = np.zeros_like(ids)
    glob[:, 0] = 1
    return ids, mask, glob


def _run(model):
    ids, mask, glob = _inputs()
    out = model(
        input_ids=ids,
        attention_mask=mask,
        global_attention_mask=glob,
        decoder_input_ids=ids[:, :7],
        output_attentions=True,
    )
    return (
        [out.encoder_last_hidden_state, out.logits] + list(out.encoder_attentions) + list(out.encoder_global_attentions)
    )


def test_encoder_bit_identical_and_decoder_within_tolerance_across_thread_counts(model):
    from led_ref.tolerances import TOLERANCE, relative_error

    threads.set_num_threads(1)
    ref = _run(model)
    threads.set_num_threads(3)
    got = _run(model)
    # the encoder's pieces (heads, row chunks) do the same operations in any thread: bit-identical
    for i in [0] + list(range(2, len(ref))):
        np.testing.assert_array_equal(got[i], ref[i])
    # decoder projections are split by output features with more threads: same dot products, BLAS kernels of
    # another size may sum in another order
    assert relative_error(got[1], ref[1]) <= TOLERANCE["float32"]


def test_pool_size_follows_the_policy(model):
    ids, mask, glob = _inputs()
    threads.set_num_threads(3)
    model.get_encoder()(input_ids=ids, attention_mask=mask, global_attention_mask=glob)
    assert threads.pool_size() == 3
    threads.set_num_threads(2)
    model.get_encoder()(input_ids=ids, attention_mask=mask, global_attention_mask=glob)
    assert threads.pool_size() == 2
    with threads.num_threads(1):
        assert threads.get_num_threads() == 1


def test_pieces_run_on_several_threads():
    import threading
    import time

    threads.set_num_threads(2)
    seen = set()

    def piece(i):
        time.sleep(0.01)  # releases the GIL like a BLAS call
        seen.add(threading.get_ident())
        return i * i

    assert threads.parallel_map(piece, range(8)) == [i * i for i in range(8)]
    assert len(seen) == 2


def test_piece_errors_reach_the_caller():
    threads.set_num_threads(2)

    def piece(i):
        if i == 3:
            raise KeyError("piece 3")
        return i

    with pytest.raises(KeyError, match="piece 3"):
        threads.parallel_map(piece, range(6))


def test_default_without_controller_is_one_thread():
    threads.set_blas_controller(None)
    threads.set_num_threads(None)
    assert threads.default_threads() == 1 == threads.get_num_threads()


@pytest.mark.parametrize("bad", [0, -2, "2", 1.5, True, None])
def test_bad_thread_counts_are_one_line_value_errors_naming_the_value(bad):
    calls = [lambda: threads.check_threads(bad)]
    if bad is not None:  # set_num_threads(None) / num_threads(None): the default, no error
        calls += [lambda: threads.set_num_threads(bad), lambda: threads.num_threads(bad).__enter__()]
    for call in calls:
        with pytest.raises(ValueError) as info:
            call()
        message = str(info.value)
        assert "\n" not in message and message.startswith("threads must be") and message.endswith(repr(bad))


def test_more_threads_than_cores_allowed():
    threads.set_num_threads(threads.available_cores() + 3)
    assert threads.parallel_map(lambda i: i + 1, range(5)) == [1, 2, 3, 4, 5]


def test_bad_controller():
    with pytest.raises(TypeError, match="limit"):
        threads.set_blas_controller(object())


class _FixedLoad(threads._OneRowMonitor):
    """A one-row step monitor that always finds the machine busy (or quiet) and learns nothing."""

    def __init__(self, busy):
        super().__init__()
        self.fixed_busy = busy
        self.steps = 0

    def use_blas_threads(self):
        return not self.fixed_busy

    def record(self, used_blas_threads, share):
        self.steps += 1


def _spy_decoder_attention(monkeypatch):
    """A list that every decoder-attention call appends (BLAS threads now, led_ref threads now) to."""
    seen = []
    original = attention.decoder_attention

    def spy(*args, **kwargs):
        seen.append((blas_threads_now(), threads.get_num_threads()))
        return original(*args, **kwargs)

    monkeypatch.setattr("led_ref.model.decoder_attention", spy)
    return seen


def test_one_row_monitor_switches_on_the_cpu_share():
    """The decision rule of threads.one_row_step: BLAS's own threads while quiet; after two steps in a row whose CPU
    share is low (busy), the pool for REPROBE_STEPS steps, then one try of BLAS's threads; a failed try doubles the
    wait."""
    m = threads._OneRowMonitor()
    assert m.use_blas_threads()
    m.record(True, 0.95)
    low = threads.BUSY_SHARE / 2
    m.record(True, low)  # one low step alone: still BLAS's threads
    assert m.use_blas_threads() and not m.busy
    m.record(True, 0.95)
    m.record(True, low)
    assert m.use_blas_threads() and not m.busy
    m.record(True, low)  # the second in a row: busy
    assert m.busy
    for _ in range(threads.REPROBE_STEPS):
        assert not m.use_blas_threads()
        m.record(False, 0.5)
    assert m.use_blas_threads()  # the try
    m.record(True, 0.4)  # still busy: twice as long
    for _ in range(2 * threads.REPROBE_STEPS):
        assert not m.use_blas_threads()
        m.record(False, 0.5)
    assert m.use_blas_threads()
    m.record(True, 0.9)  # quiet again
    assert m.use_blas_threads() and not m.busy and m.wait == threads.REPROBE_STEPS
    for _ in range(20):  # the wait never grows past its cap
        m.record(True, 0.1)
        m.since = m.wait
    assert m.wait == threads.MAX_REPROBE_STEPS


def test_one_row_step_follows_the_machine_load(model, monkeypatch):
    """With threadpoolctl and 2 threads: a one-row decoder step with a cache runs its layers with BLAS's own threads
    (no pool) when the monitor finds the machine quiet and on the pool with BLAS at one thread when busy; the step is
    timed into the monitor; the tokens are the same both ways (and those of one thread)."""
    ids, mask, glob = _inputs()
    ids, mask, glob = ids[:1], mask[:1], glob[:1]
    threads.set_num_threads(1)
    expected = model.generate(ids, attention_mask=mask, global_attention_mask=glob, max_new_tokens=4)
    assert isinstance(threads.get_blas_controller(), ThreadpoolctlBLAS)
    threads.set_num_threads(2)
    seen = _spy_decoder_attention(monkeypatch)
    cores = threads.available_cores()
    for busy, want in ((False, (min(2, cores), 1)), (True, (1, 2) if cores > 1 else (1, 1))):
        monitor = _FixedLoad(busy)
        monkeypatch.setattr(threads._policy, "one_row", monitor)
        seen.clear()
        got = model.generate(ids, attention_mask=mask, global_attention_mask=glob, max_new_tokens=4)
        np.testing.assert_array_equal(got, expected)
        if cores > 1:
            per_step = 2 * CFG.decoder_layers  # self- and cross-attention per layer
            assert set(seen[:per_step]) == {(1, 2)}  # the first step (no cache) always on the pool
            assert set(seen[per_step:]) == {want}
            assert monitor.steps == 3  # the 3 steps with a cache are timed
    # a plain monitor learns from real steps and never breaks a run
    monkeypatch.setattr(threads._policy, "one_row", threads._OneRowMonitor())
    got = model.generate(ids, attention_mask=mask, global_attention_mask=glob, max_new_tokens=4)
    np.testing.assert_array_equal(got, expected)


def test_blas_threads_during_a_band_gemm(model, monkeypatch):
    """Inside the encoder's band GEMMs BLAS runs one thread per call (the default controller, threadpoolctl)."""
    assert isinstance(threads.get_blas_controller(), ThreadpoolctlBLAS)
    threads.set_num_threads(2)
    seen = []
    original = attention._local_attention_head

    def spy(*args, **kwargs):
        seen.append(blas_threads_now())
        return original(*args, **kwargs)

    monkeypatch.setattr(attention, "_local_attention_head", spy)
    ids, mask, glob = _inputs()
    model.get_encoder()(input_ids=ids, attention_mask=mask, global_attention_mask=glob)
    assert seen and set(seen) == {1}
    # every decoder step -- one row (greedy, batch 1) or several (beams, a batch) -- runs on the pool with BLAS at one
    # thread (threads.region(decoding=True): BLAS's own threads stall beside a busy process)
    seen_dec = _spy_decoder_attention(monkeypatch)
    monkeypatch.setattr(threads._policy, "one_row", _FixedLoad(busy=True))  # one-row steps: see the next test
    model(input_ids=ids[:1], attention_mask=mask[:1], global_attention_mask=glob[:1], decoder_input_ids=ids[:1, :1])
    assert set(seen_dec) == {(1, 2)} if threads.available_cores() > 1 else {b for b, _ in seen_dec} == {1}
    seen_dec.clear()
    model(input_ids=ids, attention_mask=mask, global_attention_mask=glob, decoder_input_ids=ids[:, :3])
    assert set(seen_dec) == {(1, 2)} if threads.available_cores() > 1 else {b for b, _ in seen_dec} == {1}
    # without a BLAS controller a step keeps BLAS's own threads and no pool (a pool over multi-threaded BLAS calls
    # oversubscribes the cores)
    threads.set_blas_controller(None)
    seen_dec.clear()
    model(input_ids=ids[:1], attention_mask=mask[:1], global_attention_mask=glob[:1], decoder_input_ids=ids[:1, :1])
    assert {n for _, n in seen_dec} == {1}


@pytest.mark.parametrize("num_beams", [1, 3])
def test_decoding_step_pieces_reach_the_pool(model, monkeypatch, num_beams):
    """With a BLAS controller and 2 threads, a decoding step -- one row (greedy) or several (beam search) -- hands its
    projections and cross-attention heads to led_ref's pool (threadpoolctl reports one BLAS thread inside them), and
    the tokens are those of a single-threaded run."""
    import threading
    import time

    ids, mask, glob = _inputs()
    if num_beams == 1:  # greedy on one input: one-row steps, on the pool when the machine is busy
        ids, mask, glob = ids[:1], mask[:1], glob[:1]
        monkeypatch.setattr(threads._policy, "one_row", _FixedLoad(busy=True))
    threads.set_num_threads(1)
    expected = model.generate(
        ids, attention_mask=mask, global_attention_mask=glob, max_new_tokens=4, num_beams=num_beams
    )
    assert isinstance(threads.get_blas_controller(), ThreadpoolctlBLAS)
    threads.set_num_threads(2)
    seen = []
    original = scheduling.few_rows_product

    def spy(*args, **kwargs):
        seen.append((threading.current_thread().name, blas_threads_now()))
        time.sleep(0.001)  # a piece as long as a real one: the woken worker finds pieces left to take
        return original(*args, **kwargs)

    monkeypatch.setattr(scheduling, "few_rows_product", spy)
    got = model.generate(ids, attention_mask=mask, global_attention_mask=glob, max_new_tokens=4, num_beams=num_beams)
    np.testing.assert_array_equal(got, expected)
    assert {b for _, b in seen} == {1}
    assert any(name.startswith("led_ref-") for name, _ in seen)  # some pieces ran on a pool worker
    assert threads.pool_size() == 2
    # more threads than cores: the pool keeps the policy's size, but a step's pieces run on at most one thread per
    # core at a time (a third thread on 2 cores is often descheduled holding the piece the step waits for)
    threads.set_num_threads(threads.available_cores() + 2)
    lock, running, most = threading.Lock(), [0], [0]

    def counting_spy(*args, **kwargs):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.002)  # releases the GIL like a BLAS call: other threads take their pieces meanwhile
        try:
            return original(*args, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(scheduling, "few_rows_product", counting_spy)
    got = model.generate(ids, attention_mask=mask, global_attention_mask=glob, max_new_tokens=4, num_beams=num_beams)
    np.testing.assert_array_equal(got, expected)
    assert 1 <= most[0] <= threads.available_cores()
    assert threads.pool_size() == threads.available_cores() + 2


# -- the policy a plain `import led_ref` program gets (no CLI, no call, no environment variable) -----------------------

# A program that uses only the public API, run in its own interpreter (the policy is process-wide state): it writes a
# checkpoint, loads it with from_pretrained, runs the encoder and generate(), and reports threadpoolctl's own view of
# BLAS (not led_ref's) before, inside the band GEMMs and decoder attention, and after. LIMIT: "none", "env" (set by the
# test in the environment) or "threadpool_limits" (a block around the led_ref calls).
_PLAIN_PROGRAM = r"""
import json, sys, tempfile, threading, time
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits
import led_ref
from led_ref import attention, threads
from led_ref.weights import init_params, save_params
import led_ref.model as model_module

cfg_kwargs, limit, explicit = json.loads(sys.argv[1])

def blas():
    return max(lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas")

seen = {"band": [], "decoder": []}

def spy(kind, fn):
    def wrapper(*args, **kwargs):
        seen[kind].append((blas(), threading.current_thread().name))
        time.sleep(0.002)  # as long as a real piece: a woken worker finds pieces left to take
        return fn(*args, **kwargs)
    return wrapper

attention._local_attention_head = spy("band", attention._local_attention_head)
model_module.decoder_attention = spy("decoder", model_module.decoder_attention)
with tempfile.TemporaryDirectory() as d:
    cfg = led_ref.LEDConfig(**cfg_kwargs)
    cfg.save_pretrained(d)
    save_params(d, init_params(cfg, "lm", seed=0), "lm")
    model = led_ref.LEDForConditionalGeneration.from_pretrained(d)
rng = np.random.default_rng(0)
ids = rng.integers(3, cfg.vocab_size, (2, 300))
glob = np.zeros_like(ids)
glob[:, 0] = 1
if explicit:
    threads.set_num_threads(explicit)
report = {"before": blas()}
user = threadpool_limits(limits=1, user_api="blas") if limit == "threadpool_limits" else None
enc = model.get_encoder()(input_ids=ids, global_attention_mask=glob).last_hidden_state
report["pool_after_encoder"] = threads.pool_size()
gen = model.generate(ids[:1], global_attention_mask=glob[:1], max_new_tokens=4, min_new_tokens=4)
report["inside_user_block_after"] = blas()
if user is not None:
    user.restore_original_limits()
report["after"] = blas()
a = rng.standard_normal((512, 512))
report["user_numpy_ok"] = bool(np.allclose(a @ a.T, (a @ a.T).T))
report["seen"] = seen
report["threads"] = threads.get_num_threads()
report["cores"] = threads.available_cores()
report["controller"] = type(threads.get_blas_controller()).__name__
print("REPORT" + json.dumps(report))
"""

_BLAS_ENV = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


def _run_plain_program(limit="none", explicit=None, env_threads=None, code=_PLAIN_PROGRAM):
    import json
    import os
    import subprocess
    import sys

    from tests.testlib import ROOT

    env = {k: v for k, v in os.environ.items() if k not in _BLAS_ENV}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    if env_threads is not None:
        env["OPENBLAS_NUM_THREADS"] = str(env_threads)
    cfg = {k: v for k, v in CFG.to_dict().items() if k in SHAPE_FIELDS}
    proc = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-c", code, json.dumps([cfg, limit, explicit])],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [s for s in proc.stdout.splitlines() if s.startswith("REPORT")][-1]
    return json.loads(line[len("REPORT") :]), proc.stderr


def test_plain_import_runs_the_pool_with_single_threaded_blas_and_restores_blas():
    """`import led_ref` alone: the encoder's band GEMMs run on led_ref's pool (cores + 1 threads, some pieces on pool
    workers) with threadpoolctl reporting one BLAS thread inside them; every decoder step holds BLAS at one thread
    or, for quiet one-row steps, at most the cores; afterwards BLAS has the count it had before (the program's own
    NumPy code runs as before)."""
    r, _ = _run_plain_program()
    cores = r["cores"]
    assert r["controller"] == "ThreadpoolctlBLAS" and r["threads"] == cores + 1
    assert r["before"] == r["after"] == r["inside_user_block_after"] >= 1
    band = r["seen"]["band"]
    assert band and {b for b, _ in band} == {1}
    assert r["pool_after_encoder"] == cores + 1
    assert any(name.startswith("led_ref-") for _, name in band)  # pieces ran on pool workers, not only the caller
    dec = r["seen"]["decoder"]
    assert dec and max(b for b, _ in dec) <= min(cores, r["before"])
    assert r["user_numpy_ok"]


@pytest.mark.parametrize("limit", ["env", "threadpool_limits"])
def test_a_users_blas_limit_is_kept(limit):
    """OPENBLAS_NUM_THREADS=1, or a threadpool_limits(1) block around the calls: led_ref runs one thread (no pool)
    and never raises BLAS above 1, inside or after its calls (the user's block still holds 1 when the calls end)."""
    r, _ = _run_plain_program(limit=limit, env_threads=1 if limit == "env" else None)
    assert r["threads"] == (1 if limit == "env" else r["cores"] + 1)  # outside the user's block: BLAS's default
    assert r["inside_user_block_after"] == 1
    assert r["after"] == (1 if limit == "env" else r["before"])
    assert r["pool_after_encoder"] == 0  # no pool was started
    seen = r["seen"]["band"] + r["seen"]["decoder"]
    assert seen and {b for b, _ in seen} == {1} and not any(n.startswith("led_ref-") for _, n in seen)


def test_an_explicit_thread_count_wins_over_the_users_blas_limit():
    """set_num_threads(2) with OPENBLAS_NUM_THREADS=1: led_ref's pool of 2 runs the band GEMMs, and BLAS stays at 1
    (the one-row steps do not take BLAS's threads above the user's count)."""
    r, _ = _run_plain_program(explicit=2, env_threads=1)
    assert r["threads"] == 2 and r["pool_after_encoder"] == 2
    seen = r["seen"]["band"] + r["seen"]["decoder"]
    assert {b for b, _ in seen} == {1} and r["after"] == 1
    if r["cores"] > 1:
        assert any(name.startswith("led_ref-") for _, name in r["seen"]["band"])


_NO_BLAS = r"""
import threadpoolctl
threadpoolctl.ThreadpoolController._load_libraries = lambda self: None  # a BLAS threadpoolctl does not know
exec(compile(open(sys.argv[2]).read(), "program", "exec"))
"""


def test_a_blas_that_threadpoolctl_cannot_control_gets_one_note_and_numpys_threading(tmp_path):
    """threadpoolctl finds no BLAS it knows: one BLASControlWarning line, then NumPy's own threading (one led_ref
    thread, no pool), and the program runs to the end."""
    import json
    import os
    import subprocess
    import sys

    from tests.testlib import ROOT

    program = tmp_path / "program.py"
    program.write_text(
        "import numpy as np, warnings, led_ref\n"
        "from led_ref import threads\n"
        "from led_ref.config import LEDConfig\n"
        "from led_ref.weights import init_params\n"
        "cfg = LEDConfig(**json.loads(sys.argv[1]))\n"
        "m = led_ref.LEDForConditionalGeneration(cfg, init_params(cfg, 'lm', seed=0))\n"
        "ids = np.arange(3, 203).reshape(1, -1) % cfg.vocab_size\n"
        "for _ in range(2):\n"
        "    m.generate(ids, max_new_tokens=3)\n"
        "print('REPORT' + json.dumps([threads.get_num_threads(), threads.pool_size(), threads.blas_control_note()]))\n"
    )
    cfg = {k: v for k, v in CFG.to_dict().items() if k in SHAPE_FIELDS}
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-c", "import sys, json\n" + _NO_BLAS, json.dumps(cfg), str(program)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    n, pool, note = json.loads(proc.stdout.split("REPORT")[-1])
    assert (n, pool) == (1, 0)
    notes = [line for line in proc.stderr.splitlines() if "BLASControlWarning" in line]
    assert len(notes) == 1 and "threadpoolctl finds no BLAS library" in notes[0] and "NumPy's own" in notes[0]
    assert "threadpoolctl finds no BLAS library" in note


class _FakeLib:
    """A threadpoolctl library controller whose count may ignore set_num_threads (a BLAS it cannot control)."""

    user_api, internal_api, version, threading_layer = "blas", "fakeblas", "0.1", "pthreads"

    def __init__(self, follows=True):
        self.num_threads, self.follows = 2, follows

    def set_num_threads(self, n):
        if self.follows:
            self.num_threads = n

    def info(self):
        return {"internal_api": self.internal_api, "num_threads": self.num_threads}


class _FakeController:
    def __init__(self, libs):
        self.lib_controllers = libs

    def select(self, user_api):
        return self


def test_controller_refuses_a_blas_it_cannot_set():
    with pytest.raises(LookupError, match="cannot set the thread count of this process's BLAS \\(fakeblas 0.1\\)"):
        ThreadpoolctlBLAS(_FakeController([_FakeLib(follows=False)]))
    with pytest.raises(LookupError, match="finds no BLAS library"):
        ThreadpoolctlBLAS(_FakeController([]))


def test_automatic_controller_failure_is_one_note_in_process_and_in_the_cli(model, monkeypatch):
    """The automatic controller failing (here: a BLAS whose count does not follow): one BLASControlWarning at the first
    call, none after; the CLI's configure prints it as a note line instead; no pool."""
    import threadpoolctl

    from led_ref.app.blas import configure

    monkeypatch.setattr(threadpoolctl, "ThreadpoolController", lambda: _FakeController([_FakeLib(follows=False)]))
    threads.set_blas_controller("auto")
    ids, mask, glob = _inputs()
    with pytest.warns(threads.BLASControlWarning, match="cannot set the thread count") as record:
        model.get_encoder()(input_ids=ids, attention_mask=mask, global_attention_mask=glob)
        model.get_encoder()(input_ids=ids, attention_mask=mask, global_attention_mask=glob)
    assert len(record) == 1 and "\n" not in str(record[0].message)
    assert threads.get_blas_controller() is None and threads.get_num_threads() == 1
    threads.set_blas_controller("auto")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the CLI turns the warning into its note: nothing is warned
        notes = configure(None)
    assert len(notes) == 1 and notes[0].startswith("note: led_ref.threads: threadpoolctl cannot set")


def test_concurrent_calls_restore_blas_when_the_last_ends(model):
    """Two threads of a program running led_ref at once (a service): inside either call BLAS is at one thread, and the
    count found before the first call is back after the last, whatever order they end in."""
    import threading

    before = blas_threads_now()
    ids, mask, glob = _inputs()
    threads.set_num_threads(2)
    errors, inside = [], []
    original = attention._local_attention_head

    def spy(*args, **kwargs):
        inside.append(blas_threads_now())
        return original(*args, **kwargs)

    def work(n):
        try:
            for _ in range(n):
                model.get_encoder()(input_ids=ids, attention_mask=mask, global_attention_mask=glob)
        except BaseException as exc:  # reported below
            errors.append(exc)

    attention._local_attention_head = spy
    try:
        workers = [threading.Thread(target=work, args=(n,)) for n in (2, 3)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
    finally:
        attention._local_attention_head = original
    assert not errors and inside and set(inside) == {1}
    assert blas_threads_now() == before


def test_nested_and_concurrent_limits_combine():
    """The controller: BLAS runs at the smallest count any running region asked for (a thread's innermost request
    counts), and the count found first comes back when the last region ends."""
    lib = _FakeLib()
    ctl = ThreadpoolctlBLAS(_FakeController([lib]))
    assert ctl.outside() == 2
    with ctl.limit(1):
        assert lib.num_threads == 1 and ctl.outside() == 2
        with ctl.limit(2):  # a one-row step inside a decoding region of the same thread
            assert lib.num_threads == 2
        assert lib.num_threads == 1
    assert lib.num_threads == 2
    import threading

    entered, release = threading.Event(), threading.Event()

    def other():
        with ctl.limit(1):
            entered.set()
            release.wait(10)

    t = threading.Thread(target=other)
    t.start()
    entered.wait(10)
    with ctl.limit(2):  # another thread holds 1: the smaller count holds
        assert lib.num_threads == 1
    assert lib.num_threads == 1  # the other region still runs
    release.set()
    t.join()
    assert lib.num_threads == 2


def test_caller_first_gives_item_0_to_the_calling_thread():
    """parallel_map(caller_first=True): item 0 runs on the calling thread, whatever the workers do; the results keep
    the items' order."""
    import threading
    import time

    threads.set_num_threads(3)
    me = threading.get_ident()
    for _ in range(5):
        ran = {}

        def piece(i, ran=ran):
            ran[i] = threading.get_ident()
            time.sleep(0.002)
            return i

        assert threads.parallel_map(piece, range(6), caller_first=True) == list(range(6))
        assert ran[0] == me
        assert any(t != me for t in ran.values())  # the workers took some of the rest


def test_callers_piece_merges_the_first_weights_leading_slices():
    """scheduling.callers_piece: item 0 becomes one slice of the first weight covering about 1/threads of all the
    features (not past the first weight), aligned as feature_slices cut it; the other items are unchanged and every
    feature is still covered once."""
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal((n, 32)).astype(np.float32) for n in (1000, 300, 300)]
    outs = [np.empty((1, w.shape[0]), np.float32) for w in ws]
    items = [(w, None, o, cols) for w, o in zip(ws, outs) for cols in scheduling.feature_slices(w.shape[0], 6)]
    merged = scheduling.callers_piece(items, 2)
    w0, _, _, first = merged[0]
    assert w0 is ws[0] and first.start == 0 and first.stop % scheduling.FEATURE_ALIGN == 0
    assert 1600 / 2 <= first.stop < 1600 / 2 + 200  # ~half of the 1,600 features, in whole slices
    assert merged[1:] == [it for it in items if it[0] is not ws[0] or it[3].start >= first.stop]
    covered = [(id(w), f) for w, _, _, c in merged for f in range(c.start, c.stop)]
    assert len(covered) == len(set(covered)) == 1600
    # a first weight smaller than the share: all of it, and no more
    small = scheduling.callers_piece([it for it in items if it[0] is not ws[0]], 2)
    assert small[0][3] == slice(0, 300) and small[0][0] is ws[1]


@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_head_pieces_cover_every_head_once(n_threads):
    threads.set_num_threads(n_threads)
    with threads.one_per_core():
        for groups in (1, 3):
            items = scheduling.head_pieces(groups, 12)
            covered = sorted(
                (g, h) for gs, hs in items for g in range(gs.start, gs.stop) for h in range(hs.start, hs.stop)
            )
            assert covered == [(g, h) for g in range(groups) for h in range(12)]
            if groups == 1 and threads.piece_threads() > 1:  # the caller's long piece first
                assert items[0][1] == slice(0, 12 // threads.piece_threads()) and len(items) > 2

"""led_ref.threads: the threading policy is applied (pool size, BLAS threads during a band GEMM when threadpoolctl
is installed) and results do not depend on the thread count. Not timed."""

import numpy as np
import pytest

from led_ref import attention, scheduling, threads
from led_ref.config import LEDConfig
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


@pytest.mark.parametrize(
    "bad, exc", [(0, ValueError), (-2, ValueError), ("2", TypeError), (1.5, TypeError), (True, TypeError)]
)
def test_bad_thread_counts(bad, exc):
    with pytest.raises(exc, match="threads"):
        threads.set_num_threads(bad)


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
    from led_ref.app.blas import blas_threads_now

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
    pytest.importorskip("threadpoolctl")
    from led_ref.app.blas import install_blas_controller

    ids, mask, glob = _inputs()
    ids, mask, glob = ids[:1], mask[:1], glob[:1]
    threads.set_num_threads(1)
    expected = model.generate(ids, attention_mask=mask, global_attention_mask=glob, max_new_tokens=4)
    assert install_blas_controller()
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
    """With threadpoolctl installed: inside the encoder's band GEMMs BLAS runs one thread per call."""
    pytest.importorskip("threadpoolctl")
    from led_ref.app.blas import blas_threads_now, install_blas_controller

    assert install_blas_controller()
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
    pytest.importorskip("threadpoolctl")
    import threading
    import time

    from led_ref.app.blas import blas_threads_now, install_blas_controller

    ids, mask, glob = _inputs()
    if num_beams == 1:  # greedy on one input: one-row steps, on the pool when the machine is busy
        ids, mask, glob = ids[:1], mask[:1], glob[:1]
        monkeypatch.setattr(threads._policy, "one_row", _FixedLoad(busy=True))
    threads.set_num_threads(1)
    expected = model.generate(
        ids, attention_mask=mask, global_attention_mask=glob, max_new_tokens=4, num_beams=num_beams
    )
    assert install_blas_controller()
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

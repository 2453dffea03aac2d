"""Generation benchmark: ms per generated token (KV cache on), led_ref vs HF transformers generate().

    python -m tools.bench.generation [--seq-len 4096] [--new-tokens 32] [--beams 1,4]
                                            [--hf-python /path/to/hf-venv/bin/python] [--size base|tiny] [--breakdown]
                                            [--rows 1x1,1x4,8x1] [--busy] [--repeat N]

One random led-base-shaped checkpoint (d_model 768, 6+6 layers, 12 heads, ffn 3072, window 1024, vocab 50265) is
written with ``init_params`` + ``save_params``; led_ref loads it with ``from_pretrained`` and HF (in the interpreter
given by ``--hf-python``, a subprocess) loads the same directory with ``LEDForConditionalGeneration.from_pretrained``.
Each measurement runs in its own process. Rows (``--rows``, BATCHxBEAMS): greedy, beam 4, and batch 8 greedy over
documents of different lengths (seq_len down to seq_len/8); ``--busy`` repeats them beside one competing CPU-bound
process; ``--repeat N`` runs N interleaved rounds of the rows and takes each ratio within a round (``summary_lines``).
The bandwidth floor printed beside each row is the bytes a step must read (``step_bytes``: decoder weights,
LM head, the inputs' cross-attention keys/values) over the copy bandwidth measured in the same process. Both run the
full ``generate()`` with ``min_new_tokens = max_new_tokens``
(so every run decodes the same number of steps) and global attention on the first token; a per-step timestamp
(led_ref: ``step_callback``; HF: a no-op LogitsProcessor) gives:
  - ``ms_per_token``: steady-state decoding, (t_last_step - t_first_step) / (steps - 1), i.e. without the encoder
    and without the first step (which computes the cross-attention keys/values over the whole input);
  - ``first_step_s`` (encoder + first decoder step) and ``total_s`` (the whole generate call).
Speed does not depend on the weight values; random weights give near-flat logits, so the two backends' tokens may
differ (``tokens_equal`` is reported, not asserted -- equality is tested on the goldens).
"""

import time

from led_ref.app.benchmarks import common


def make_checkpoint(directory, size="base", seq_len=4096, seed=0):
    """Write config.json + model.safetensors (random, seeded) for the given shape."""
    from led_ref.config import LEDConfig
    from led_ref.weights import init_params, save_params

    shape = dict(common.SIZES[size])
    shape["max_encoder_position_embeddings"] = max(shape["max_encoder_position_embeddings"], seq_len)
    cfg = LEDConfig(**shape)
    params = init_params(cfg, "lm", seed=seed)
    cfg.save_pretrained(directory)
    save_params(directory, params, "lm")
    return directory


def batch_lengths(seq_len, batch):
    """Input lengths of a batch row set: documents of different lengths, seq_len down to seq_len / batch."""
    return [max(8, seq_len * (batch - i) // batch) for i in range(batch)]


def _inputs(seq_len, vocab_size, batch=1):
    """(ids, mask, glob), batch rows of the lengths ``batch_lengths`` (padded on the right, masked)."""
    import numpy as np

    lengths = batch_lengths(seq_len, batch)
    ids = common._random_ids(batch, seq_len, vocab_size)
    mask = np.zeros_like(ids)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
        ids[i, n - 1] = 2  # </s>
        ids[i, n:] = 1  # <pad>
    glob = np.zeros_like(ids)
    glob[:, 0] = 1
    return ids, mask, glob


def _summary(stamps, t_start, t_end, new_tokens, sequences):
    steps = len(stamps)
    return {
        "ms_per_token": 1000 * (stamps[-1] - stamps[0]) / max(steps - 1, 1),
        "first_step_s": stamps[0] - t_start,
        "total_s": t_end - t_start,
        "steps": steps,
        "new_tokens": new_tokens,
        "sequences": [list(map(int, row)) for row in sequences],
    }


def step_bytes(params, config, lengths, itemsize=4):
    """Bytes one decoding step must read: the decoder layers' weights (without the cross-attention key/value
    projections, used at the first step only), the LM head, and each input's cross-attention keys/values
    (the sum of ``part_bytes``)."""
    return sum(part_bytes(params, config, lengths, itemsize).values())


# A decoding step's parts (--breakdown): where the time of led_ref's step goes, and the bytes each part must read.
PARTS = ("self-attn", "cross-attn", "feed-forward", "LM head")


def part_bytes(params, config, lengths, itemsize=4):
    """``step_bytes`` split by part: {"self-attn": q/k/v/out projections, "cross-attn": q/out projections + the
    inputs' keys/values, "feed-forward": fc1 + fc2, "LM head": weight + final_logits_bias, "rest": layer norms}. The
    values add up to ``step_bytes`` exactly."""
    from led_ref.weights import flatten

    parts = dict.fromkeys(PARTS + ("rest",), 0)
    for name, a in flatten(params["decoder"]["layers"]).items():
        n = "." + name + "."
        if ".encoder_attn.k_proj." in n or ".encoder_attn.v_proj." in n:
            continue  # used at the first step only
        part = (
            "self-attn"
            if ".self_attn." in n
            else "cross-attn"
            if ".encoder_attn." in n
            else "feed-forward"
            if (".fc1." in n or ".fc2." in n)
            else "rest"
        )
        parts[part] += a.nbytes
    parts["cross-attn"] += sum(lengths) * 2 * config.decoder_layers * config.d_model * itemsize
    parts["LM head"] = params["lm_head"]["weight"].nbytes + params["final_logits_bias"].nbytes
    return parts


def _part_timers(model, stamps):
    """Wrap led_ref.model's decoder_attention and feed_forward and ``model.lm_logits`` with wall-clock timers (on the
    calling thread: a parallel call returns when its pieces are done), and count which threads run the projection
    and LM-head pieces (``led_ref.scheduling.few_rows_product``). Returns (times {part: seconds over the steps after
    the first, as ``ms_per_token`` counts them}, pieces {"caller": n, "workers": n} over the same steps, undo)."""
    import threading

    import led_ref.model as M
    from led_ref import scheduling

    times = dict.fromkeys(PARTS, 0.0)
    pieces = {"caller": 0, "workers": 0}
    orig_attention, orig_ffn, orig_piece = M.decoder_attention, M.feed_forward, scheduling.few_rows_product

    def counted_piece(*args, **kwargs):
        if len(stamps) >= 1:
            pieces["workers" if threading.current_thread().name.startswith("led_ref-") else "caller"] += 1
        return orig_piece(*args, **kwargs)

    scheduling.few_rows_product = counted_piece

    def timed(part_of, fn):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            out = fn(*args, **kwargs)
            if len(stamps) >= 1:  # after the first step's callback: steady-state steps only
                times[part_of(args, kwargs)] += time.perf_counter() - t0
            return out

        return wrapper

    M.decoder_attention = timed(
        lambda a, kw: "cross-attn" if (a[3] if len(a) > 3 else kw.get("key_value_states")) is not None else "self-attn",
        orig_attention,
    )
    M.feed_forward = timed(lambda a, kw: "feed-forward", orig_ffn)
    model.lm_logits = timed(lambda a, kw: "LM head", model.lm_logits)

    def undo():
        M.decoder_attention, M.feed_forward, scheduling.few_rows_product = orig_attention, orig_ffn, orig_piece
        del model.lm_logits

    return times, pieces, undo


def numpy_generate(checkpoint, seq_len, new_tokens, num_beams, dtype="float32", batch=1, breakdown=False):
    """led_ref: LEDForConditionalGeneration.from_pretrained(checkpoint).generate(...), timed per step; ``breakdown``
    also times the step's parts (``PARTS``) over the steps after the first, the ones ``ms_per_token`` counts."""
    import numpy as np

    from led_ref import threads
    from led_ref.model import LEDForConditionalGeneration

    model = LEDForConditionalGeneration.from_pretrained(checkpoint, dtype=np.dtype(dtype).type)
    res = _timed_generate(model, "numpy", seq_len, new_tokens, num_beams, batch, breakdown=breakdown)
    lengths = batch_lengths(seq_len, batch)
    res["step_bytes"] = step_bytes(model.params, model.config, lengths)
    if breakdown:
        res["part_bytes"] = part_bytes(model.params, model.config, lengths)
    res["copy_bytes_per_s"] = common.copy_bandwidth()
    res["threading"] = common.threading_line()
    res["one_row"] = threads.one_row_state()
    return res


def ort_generate(onnx_dir, seq_len, new_tokens, num_beams, batch=1, precision="float32", engine=None):
    """ONNX Runtime: OrtLEDForConditionalGeneration.from_pretrained(onnx_dir).generate(...) (an export directory,
    float or int8; or OpenVINO with ``precision`` / ``engine``), timed per step like ``numpy_generate``."""
    from led_ref.export.ort import OrtLEDForConditionalGeneration

    model = OrtLEDForConditionalGeneration.from_pretrained(onnx_dir, precision=precision, engine=engine)
    return _timed_generate(model, "onnx", seq_len, new_tokens, num_beams, batch)


def _timed_generate(model, backend, seq_len, new_tokens, num_beams, batch, breakdown=False):
    """One warm-up generate (imports, first BLAS calls / session runs), then the timed one with a time stamp per
    step; the same for every backend whose model has led_ref's ``generate`` (``step_callback``)."""
    ids, mask, glob = _inputs(seq_len, model.config.vocab_size, batch)
    model.generate(
        ids[:, :16],
        attention_mask=mask[:, :16],
        global_attention_mask=glob[:, :16],
        max_new_tokens=2,
        num_beams=num_beams,
    )
    stamps = []
    parts, pieces, undo = _part_timers(model, stamps) if breakdown else (None, None, None)
    try:
        t0 = time.perf_counter()
        out = model.generate(
            ids,
            attention_mask=mask,
            global_attention_mask=glob,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            num_beams=num_beams,
            step_callback=lambda *_: stamps.append(time.perf_counter()),
        )
        t1 = time.perf_counter()
    finally:
        if undo:
            undo()
    res = _summary(stamps, t0, t1, new_tokens, out)
    if parts is not None:  # per steady-state step, like ms_per_token
        res["part_ms"] = {k: 1000 * v / max(len(stamps) - 1, 1) for k, v in parts.items()}
        res["pieces"] = pieces
    res["backend"] = backend
    return res


def hf_generate(checkpoint, seq_len, new_tokens, num_beams, threads=None, batch=1):
    """HF transformers: LEDForConditionalGeneration.from_pretrained(checkpoint).generate(...) (torch eager, CPU)."""
    import torch
    import transformers
    from transformers import LogitsProcessor, LogitsProcessorList

    if threads:
        torch.set_num_threads(int(threads))

    class Stamp(LogitsProcessor):
        def __init__(self):
            self.t = []

        def __call__(self, input_ids, scores):
            self.t.append(time.perf_counter())
            return scores

    model = transformers.LEDForConditionalGeneration.from_pretrained(checkpoint).eval()
    ids, mask, glob = (torch.from_numpy(a) for a in _inputs(seq_len, model.config.vocab_size, batch))
    with torch.no_grad():
        model.generate(
            ids[:, :16],
            attention_mask=mask[:, :16],
            global_attention_mask=glob[:, :16],
            max_new_tokens=2,
            num_beams=num_beams,
        )  # warm-up
        stamp = Stamp()
        t0 = time.perf_counter()
        out = model.generate(
            ids,
            attention_mask=mask,
            global_attention_mask=glob,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            num_beams=num_beams,
            logits_processor=LogitsProcessorList([stamp]),
        )
        t1 = time.perf_counter()
    res = _summary(stamp.t, t0, t1, new_tokens, out.numpy())
    res.update(
        backend="hf", transformers=transformers.__version__, torch=torch.__version__, threads=torch.get_num_threads()
    )
    return res

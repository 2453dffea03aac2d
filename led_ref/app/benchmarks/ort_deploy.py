"""ONNX Runtime deployment rows: float vs int8, batch 1 vs 8, merged vs separate decoders.

    python -m tools.bench.ort_deploy [--seq-len 1024] [--new-tokens 16] [--hf-python PATH] [--size base]

Exports a seeded random model of the shape (led-base by default) once, quantizes it to int8, then each row in
its own process: encoder seconds (float, int8), greedy decode ms/token and new tokens/s at batch 1 and 8 (float,
int8; the encoder pass not counted), generation peak RSS with the merged decoder vs the two separate decoders,
and HF transformers' encoder seconds and decode ms/token (batch 1) with ``--hf-python``. File sizes float vs int8.
``--rows`` picks a subset and ``--work-dir`` keeps the exports for the next run, so a long measurement can be split
into short ones (the batch-8 rows decode documents of lengths seq_len down to seq_len/8, like `led-ref bench`).
"""

import os
import time

from led_ref.app.benchmarks import common

_MOD = "led_ref.app.benchmarks.ort_deploy"  # rows run in child processes by module name


def _config(size, seq_len):
    from led_ref.config import LEDConfig

    shape = dict(common.SIZES[size])
    shape["max_encoder_position_embeddings"] = max(shape["max_encoder_position_embeddings"], seq_len)
    return LEDConfig(**shape)


def prepare(root, size, seq_len):
    """float export in root/float, int8 in root/int8 (child process)."""
    import numpy as np

    from led_ref.export.onnx_export import export_model
    from led_ref.weights import init_params

    cfg = _config(size, seq_len)
    params = init_params(cfg, "lm", seed=0, dtype=np.float32)
    t0 = time.perf_counter()
    export_model(cfg, params, os.path.join(root, "float"), head="lm", log=lambda s: None)
    res = quantize(os.path.join(root, "float"), os.path.join(root, "int8"))
    res["export_seconds"] = time.perf_counter() - t0 - res["quantize_seconds"]
    return res


def quantize(float_dir, out_dir):
    """int8 copy of a float export (child process; also `led-ref bench`'s int8 rows): seconds and file sizes."""
    from led_ref.export.quantize import quantize_dir

    t0 = time.perf_counter()
    res = quantize_dir(float_dir, out_dir, log=lambda s: None)
    return {
        "quantize_seconds": time.perf_counter() - t0,
        "bytes": {k: list(v) for k, v in res["bytes"].items()},
        "dir_bytes": [dir_bytes(float_dir), dir_bytes(out_dir)],
    }


def dir_bytes(path):
    """Total size of the files in an export directory."""
    return sum(
        os.path.getsize(os.path.join(path, f)) for f in os.listdir(path) if os.path.isfile(os.path.join(path, f))
    )


def row_encoder(onnx_dir, size, seq_len, precision="float32", engine=None):
    from led_ref.export.ort import OrtLEDForConditionalGeneration

    m = OrtLEDForConditionalGeneration.from_pretrained(onnx_dir, precision=precision, engine=engine)
    loaded = common.current_rss_bytes()
    ids, mask, glob = common.random_inputs(1, seq_len, _config(size, seq_len).vocab_size)
    m.encode(ids[:, :8], mask[:, :8], glob[:, :8])
    t = common.time_call(lambda: m.encode(ids, mask, glob))
    return {"seconds": t["seconds"], "loaded_rss_bytes": loaded}


def row_decode(onnx_dir, size, seq_len, batch, new_tokens, use_merged=True, precision="float32", engine=None):
    """Encode a batch once, then greedy steps with the cache (the path generate() takes)."""
    import numpy as np

    from led_ref.app.benchmarks.generation import _inputs as documents
    from led_ref.export.ort import OrtLEDForConditionalGeneration

    m = OrtLEDForConditionalGeneration.from_pretrained(
        onnx_dir, use_merged=use_merged, precision=precision, engine=engine
    )
    cfg = m.config  # the export's own vocabulary and start token (``size`` names the shape it was exported at)
    ids, mask, glob = documents(seq_len, cfg.vocab_size, batch)  # batch > 1: lengths seq_len down to seq_len / batch
    hidden, enc_mask = m.encode(ids, mask, glob)
    dec = np.full((batch, 1), cfg.decoder_start_token_id, np.int64)
    logits, past = m.decode(dec, hidden, enc_mask)  # step 1 (projects the cross-attention K/V): not timed
    dec = logits[:, -1:].argmax(-1).astype(np.int64)
    t0 = time.perf_counter()
    for _ in range(new_tokens):
        logits, past = m.decode(dec, hidden, enc_mask, past)
        dec = logits[:, -1:].argmax(-1).astype(np.int64)
    dt = time.perf_counter() - t0
    return {"ms_per_step": 1000 * dt / new_tokens, "tokens_per_s": batch * new_tokens / dt}

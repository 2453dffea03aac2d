"""Dynamic int8 quantization of an exported directory (spec/SPEC.md#int8-quantization).

``onnxruntime.quantization.quantize_dynamic`` on every graph: the weight matrices of ``MatMul`` (int8,
per output channel) and the embedding tables of ``Gather`` (int8) become integer initializers, activations
are quantized at run time per tensor (uint8). The global-attention weight stacks (3-D B) are int8 too, one
scale per stack (a second pass: ORT takes per-channel parameters for 2-D B only). Attention's activation x
activation products stay float (``MatMulConstBOnly``). The merged decoder is rebuilt from the two quantized
decoders (so it still holds their weights once). The result is its own directory, loaded by the same runtime class
(``OrtLEDForConditionalGeneration.from_pretrained``), and is validated against the float export.
"""

import json
import os
import shutil

import numpy as np

from .onnx_export import (
    COPIED_FILES,
    DECODER_FILE,
    DECODER_MERGED_FILE,
    DECODER_WITH_PAST_FILE,
    ENCODER_FILE,
    MODEL_FILE,
    dummy_inputs,
    validation_cases,
)

QUANT_INFO_FILE = "quantization.json"
QUANT_MODES = ("int8",)

# Thresholds of the int8 validation against the float model (justified in spec/SPEC.md#int8-quantization).
INT8_THRESHOLDS = {
    "encoder_relative_error": 0.1,  # max |int8 - float| / max |float| of last_hidden_state: at most
    "logits_cosine": 0.99,  # mean over decoder positions of cos(logits_int8, logits_float): at least
    "top1_agreement": 0.9,  # share of decoder positions whose argmax agrees: at least
}


def quantization_of(onnx_dir):
    """The quantization mode of an export directory ("int8"), or None for a float export."""
    path = os.path.join(os.fspath(onnx_dir), QUANT_INFO_FILE)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f).get("mode")


def _graphs(onnx_dir):
    names = [ENCODER_FILE, DECODER_FILE, DECODER_WITH_PAST_FILE, MODEL_FILE]
    return [n for n in names if os.path.isfile(os.path.join(onnx_dir, n))]


def _weight_stacks(path):
    """MatMul nodes whose constant B is not a matrix: the reassociated global-attention products multiply by
    (H, d, D) / (H, D, d) stacks of key_global / value_global (export/torch_model.py ``_global_rows``).
    Returns (names of all such nodes, names of those worth quantizing). ORT's integer MatMul takes
    per-channel parameters for a 2-D B only, so these get their own per-tensor pass; the (H, d, 1) bias
    columns (D floats) are left float (quantizing them saves nothing and adds an activation quantization)."""
    import onnx

    model = onnx.load(path, load_external_data=False)
    dims = {t.name: tuple(t.dims) for t in model.graph.initializer}
    stacks = [n for n in model.graph.node if n.op_type == "MatMul" and len(dims.get(n.input[1], (0, 0))) != 2]
    return [n.name for n in stacks], [n.name for n in stacks if min(dims[n.input[1]]) > 1]


def quantize_dir(float_dir, out_dir, mode="int8", per_channel=True, log=print):
    """Quantize every graph of the float export ``float_dir`` into ``out_dir`` (created; side files copied).
    Returns {"files": [...], "bytes": {name: (float, quantized)}}."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    float_dir, out_dir = os.fspath(float_dir), os.fspath(out_dir)
    if mode not in QUANT_MODES:
        raise ValueError(f"--quantize {mode!r}: must be one of {', '.join(QUANT_MODES)}")
    got = quantization_of(float_dir)
    if got is not None:
        raise ValueError(
            f"--quantize {mode}: {float_dir} is already quantized ({got}, see its {QUANT_INFO_FILE}); "
            "quantize the float export instead"
        )
    names = _graphs(float_dir)
    if not names:
        raise FileNotFoundError(
            f"--quantize {mode}: {float_dir} holds no exported .onnx file (encoder_model.onnx or model.onnx)"
        )
    for name in names:
        meta = {
            p.key: p.value for p in onnx.load(os.path.join(float_dir, name), load_external_data=False).metadata_props
        }
        if meta.get("led_ref.fp16") == "1":
            raise ValueError(
                f"--quantize {mode}: {os.path.join(float_dir, name)} is a float16 graph; "
                "--dtype float16 and --quantize int8 cannot be combined (quantize a float32 export)"
            )
    if os.path.abspath(float_dir) == os.path.abspath(out_dir):
        raise ValueError(f"--quantize {mode}: the quantized directory must differ from the float export {float_dir}")
    os.makedirs(out_dir, exist_ok=True)
    sizes = {}
    for name in names:
        src, dst = os.path.join(float_dir, name), os.path.join(out_dir, name)
        log(f"quantize: writing {dst}")
        stacks, quantized_stacks = _weight_stacks(src)
        quantize_dynamic(
            src,
            dst,
            per_channel=per_channel,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul", "Gather"],
            nodes_to_exclude=stacks,
            extra_options={"MatMulConstBOnly": True},
        )
        if quantized_stacks:  # second pass: the weight stacks, one scale per stack (2.36 MB -> 0.59 MB each, base)
            tmp = dst + ".pass1"
            os.replace(dst, tmp)
            try:
                quantize_dynamic(
                    tmp,
                    dst,
                    per_channel=False,
                    weight_type=QuantType.QInt8,
                    op_types_to_quantize=["MatMul"],
                    nodes_to_quantize=quantized_stacks,
                    extra_options={"MatMulConstBOnly": True},
                )
            finally:
                os.remove(tmp)
        model = onnx.load(dst)  # quantize_dynamic keeps the graph but not our metadata: copy it, mark the mode
        meta = {p.key: p.value for p in onnx.load(src, load_external_data=False).metadata_props}
        meta["led_ref.quantized"] = mode
        del model.metadata_props[:]
        for k, v in meta.items():
            p = model.metadata_props.add()
            p.key, p.value = k, v
        onnx.save(model, dst)
        sizes[name] = (os.path.getsize(src), os.path.getsize(dst))
    written = [os.path.join(out_dir, n) for n in names]
    if (
        DECODER_FILE in names
        and DECODER_WITH_PAST_FILE in names
        and os.path.isfile(os.path.join(float_dir, DECODER_MERGED_FILE))
    ):
        from .merged_decoder import merge_decoders

        merged = os.path.join(out_dir, DECODER_MERGED_FILE)
        merge_decoders(
            os.path.join(out_dir, DECODER_FILE), os.path.join(out_dir, DECODER_WITH_PAST_FILE), merged, log=log
        )
        sizes[DECODER_MERGED_FILE] = (
            os.path.getsize(os.path.join(float_dir, DECODER_MERGED_FILE)),
            os.path.getsize(merged),
        )
        written.append(merged)
    for name in COPIED_FILES:
        if os.path.isfile(os.path.join(float_dir, name)):
            shutil.copyfile(os.path.join(float_dir, name), os.path.join(out_dir, name))
    info = {
        "mode": mode,
        "per_channel": bool(per_channel),
        "weights": "int8 (MatMul B per output channel, Gather; global-attention weight stacks per tensor)",
        "activations": "uint8, dynamic per tensor",
        "float_export": os.path.abspath(float_dir),
        "bytes": {n: {"float": f, "quantized": q} for n, (f, q) in sizes.items()},
    }
    with open(os.path.join(out_dir, QUANT_INFO_FILE), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=1)
    for n, (f, q) in sizes.items():
        log(f"quantize: {n}: {f / 2**20:.1f} MB -> {q / 2**20:.1f} MB ({100 * q / f:.0f}%)")
    return {"files": written, "bytes": sizes}


def _cosine(a, b):
    a, b = a.reshape(-1, a.shape[-1]).astype(np.float64), b.reshape(-1, b.shape[-1]).astype(np.float64)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.sum(a * b, axis=1) / np.maximum(den, 1e-30)


def validation_metrics(candidate, float_model, ids, mask, glob, dec, raw=False):
    """A reduced-precision model (int8, bfloat16) against the float one on one batch: the encoder's relative error
    (max |cand - float| / max |float| over unpadded positions) and, for the teacher-forced decoder tokens ``dec``
    (B, T) and one cached step after them, each model on its own encoder states, the cosine of the logits vectors
    and the agreement of their argmax. ``raw``: the per-position lists instead of their mean / min."""
    h_f, m = float_model.encode(ids, mask, glob)
    h_c, _ = candidate.encode(ids, mask, glob)
    keep = m.astype(bool)  # padded positions are not outputs anyone reads
    rel = float(np.max(np.abs(h_c - h_f)[keep]) / max(float(np.max(np.abs(h_f)[keep])), 1e-30)) if keep.any() else 0.0
    lf, pf = float_model.decode(dec, h_f, m)
    lc, pc = candidate.decode(dec, h_c, m)
    nxt = dec[:, -1:]
    lf2, _ = float_model.decode(nxt, h_f, m, pf)
    lc2, _ = candidate.decode(nxt, h_c, m, pc)
    cos, top = [], []
    for a, b in ((lf, lc), (lf2, lc2)):
        cos.extend(_cosine(b, a).tolist())
        top.extend((a.argmax(-1) == b.argmax(-1)).reshape(-1).tolist())
    return (rel, cos, top) if raw else _metrics(rel, cos, top)


def _metrics(rel, cos, top):
    return {
        "encoder_relative_error": rel,
        "logits_cosine": float(np.mean(cos)),
        "logits_cosine_min": float(np.min(cos)),
        "top1_agreement": float(np.mean(top)),
        "positions": len(top),
    }


def passes(metrics, thresholds):
    """``held_out_metrics`` within ``thresholds`` (encoder error at most, mean cosine and top-1 at least)."""
    return (
        metrics["encoder_relative_error"] <= thresholds["encoder_relative_error"]
        and metrics["logits_cosine"] >= thresholds["logits_cosine"]
        and metrics["top1_agreement"] >= thresholds["top1_agreement"]
    )


def held_out_metrics(candidate, float_model, config):
    """``validation_metrics`` over the held-out validation cases (other seeds than the export's; 8 random decoder
    tokens each), worst encoder error, mean / min cosine and mean top-1 agreement over all positions."""
    vocab = int(config.vocab_size)
    rel, cos, top = 0.0, [], []
    for i, (B, S, globs, pad_row) in enumerate(validation_cases(config)):
        ids, mask, glob = dummy_inputs(B, S, globs, seed=300 + i, vocab=vocab, pad_row=pad_row)
        dec = np.random.default_rng(400 + i).integers(3, max(4, vocab), size=(B, 8)).astype(np.int64)
        r, c, t = validation_metrics(candidate, float_model, ids, mask, glob, dec, raw=True)
        rel, cos, top = max(rel, r), cos + c, top + t
    return _metrics(rel, cos, top)


# Thresholds of the bfloat16 validation against the float32 export on ONNX Runtime (held-out inputs; justified in
# spec/SPEC.md#bfloat16-on-the-cpu): bfloat16 keeps float32's exponent and 8 significant bits (unit roundoff 2^-9).
BF16_THRESHOLDS = {
    "encoder_relative_error": 2e-2,  # max |bf16 - float| / max |float| of last_hidden_state: at most
    "logits_cosine": 0.999,  # mean over decoder positions of cos(logits_bf16, logits_float): at least
    "top1_agreement": 0.95,  # share of decoder positions whose argmax agrees: at least
}


def validate_bf16(onnx_dir, thresholds=None, log=print):
    """The float32 export ``onnx_dir`` in bfloat16 on OpenVINO against itself in float32 on ONNX Runtime, on the
    held-out validation cases (``export.quantize.held_out_metrics``, as int8's validation). Returns the metrics;
    ValueError beyond ``thresholds`` (default ``BF16_THRESHOLDS``)."""
    from .ort import OrtLEDForConditionalGeneration

    th = dict(BF16_THRESHOLDS, **(thresholds or {}))
    fl = OrtLEDForConditionalGeneration.from_pretrained(onnx_dir)
    bf = OrtLEDForConditionalGeneration.from_pretrained(onnx_dir, precision="bf16")
    metrics = held_out_metrics(bf, fl, fl.config)
    for k, v in metrics.items():
        log(f"validate bf16: {k}: {v:.4g}" if isinstance(v, float) else f"validate bf16: {k}: {v}")
    ok = passes(metrics, th)
    if not ok:
        raise ValueError(
            f"bf16 validation failed: {metrics} beyond the thresholds {th} (see spec/SPEC.md#bfloat16-on-the-cpu)"
        )
    return metrics


def validate_quantized(quant_dir, float_dir, config, thresholds=None, log=print):
    """Compare the quantized export with the float one on held-out inputs (the validation cases, which no
    quantization step has seen: dynamic quantization uses no calibration data). Returns the metrics;
    raises ValueError beyond ``thresholds`` (default ``INT8_THRESHOLDS``)."""
    from .ort import OrtLEDForConditionalGeneration, load_exported

    th = dict(INT8_THRESHOLDS, **(thresholds or {}))
    vocab = int(config.vocab_size)
    if not os.path.isfile(os.path.join(quant_dir, ENCODER_FILE)):
        fl, qm = load_exported(float_dir), load_exported(quant_dir)
        rel = 0.0
        for i, (B, S, globs, pad_row) in enumerate(validation_cases(config)):
            ids, mask, glob = dummy_inputs(B, S, globs, seed=300 + i, vocab=vocab, pad_row=pad_row)
            if fl.head == "seq_cls":
                ids[:, -1] = int(config.eos_token_id)
                mask[:, -1] = 1
            a, b = fl(ids, mask, glob), qm(ids, mask, glob)
            for name in a:
                ref = a[name]
                rel = max(rel, float(np.max(np.abs(b[name] - ref)) / max(float(np.max(np.abs(ref))), 1e-30)))
        metrics = {"output_relative_error": rel}
        ok = rel <= th["encoder_relative_error"]
    else:
        fl = OrtLEDForConditionalGeneration.from_pretrained(float_dir)
        qm = OrtLEDForConditionalGeneration.from_pretrained(quant_dir)
        metrics = held_out_metrics(qm, fl, config)
        ok = passes(metrics, th)
    for k, v in metrics.items():
        log(f"validate int8: {k}: {v:.4g}" if isinstance(v, float) else f"validate int8: {k}: {v}")
    log(
        "validate int8: thresholds: encoder relative error <= {encoder_relative_error}, mean logits cosine >= "
        "{logits_cosine}, top-1 agreement >= {top1_agreement}".format(**th)
    )
    info_path = os.path.join(quant_dir, QUANT_INFO_FILE)
    if os.path.isfile(info_path):
        with open(info_path, encoding="utf-8") as f:
            info = json.load(f)
        info["validation"] = {"metrics": metrics, "thresholds": th, "passed": bool(ok)}
        with open(info_path, "w", encoding="utf-8") as f:
            json.dump(info, f, indent=1)
    if not ok:
        raise ValueError(
            f"int8 validation failed: {metrics} beyond the thresholds {th}; the quantized files in "
            f"{quant_dir} do not pass it (see spec/SPEC.md#int8-quantization)"
        )
    return metrics

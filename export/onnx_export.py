"""Export an LED checkpoint to ONNX in optimum's seq2seq layout, then validate it on ONNX Runtime.

Files (spec/SPEC.md#onnx-export):

* conditional generation: ``encoder_model.onnx``, ``decoder_model.onnx``, ``decoder_with_past_model.onnx``
* sequence classification / question answering / base model: ``model.onnx``
* ``config.json``, ``generation_config.json`` and tokenizer files copied beside them.

Every graph is dynamic in batch, lengths and number of global tokens (including 0); the graphs come
from ``export/torch_model.py`` through torch's TorchScript-based exporter (``dynamo=False``), which
keeps shape arithmetic computed in the graph.
"""

import os
import shutil
import warnings

import numpy as np

from led_ref.generation import LEDStepModel
from led_ref.heads import GENERATION_HEAD, get_head, head_of_config
from led_ref.tolerances import relative_error, tolerance

from .files import (  # noqa: F401  (file names and fingerprint, importable from here as before)
    ARCH_FIELDS,
    DECODER_FILE,
    DECODER_MERGED_FILE,
    DECODER_WITH_PAST_FILE,
    ENCODER_FILE,
    MODEL_FILE,
    config_fingerprint,
)

DEFAULT_OPSET = 17
MIN_OPSET = 14  # Trilu-free, but needs opset >= 14 for int64 Cumsum / Range shapes used here

COPIED_FILES = (
    "config.json",
    "generation_config.json",
    "vocab.json",
    "merges.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
)

detect_head = head_of_config  # the head of a checkpoint (led_ref.heads)


# -- graph wrappers: plain tensor in, tuple out ---------------------------------------------------------------------
def _logits_out(t):
    """Logits outputs (LM, classification, QA) are float32 in every export, float16 graphs included
    (spec/SPEC.md#float16-graphs): decoding's log-softmax and beam scores read them in float32; hidden states and
    caches keep the graph's dtype."""
    return t.float()


def _wrappers():
    import torch

    class Encoder(torch.nn.Module):
        def __init__(self, led):
            super().__init__()
            self.encoder = led.encoder

        def forward(self, input_ids, attention_mask, global_attention_mask):
            return self.encoder(input_ids, attention_mask, global_attention_mask)

    class Decoder(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, encoder_hidden_states, encoder_attention_mask):
            h, present = self.model.led.decoder(input_ids, encoder_hidden_states, encoder_attention_mask)
            return (_logits_out(self.model.logits(h)),) + tuple(t for layer in present for t in layer)

    class DecoderWithPast(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, encoder_attention_mask, *past_flat):
            past = [tuple(past_flat[4 * i : 4 * i + 4]) for i in range(len(past_flat) // 4)]
            h, present = self.model.led.decoder(input_ids, None, encoder_attention_mask, past)
            return (_logits_out(self.model.logits(h)),) + tuple(t for layer in present for t in layer[:2])

    class Head(torch.nn.Module):
        def __init__(self, model, head):
            super().__init__()
            self.model, self.head = model, head

        def forward(self, input_ids, attention_mask, global_attention_mask):
            if self.head == "base":
                enc = self.model.encoder(input_ids, attention_mask, global_attention_mask)
                dec, _ = self.model.decoder(self.model.shift_tokens_right(input_ids), enc, attention_mask)
                return dec, enc
            out = self.model.export_forward(input_ids, attention_mask, global_attention_mask)
            return tuple(_logits_out(t) for t in out) if isinstance(out, tuple) else (_logits_out(out),)

    return Encoder, Decoder, DecoderWithPast, Head


def _export(module, args, path, input_names, output_names, dynamic_axes, opset):
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation/tracer notes
        with torch.no_grad():
            torch.onnx.export(
                module,
                args,
                path,
                dynamo=False,
                opset_version=opset,
                input_names=input_names,
                output_names=output_names,
                dynamic_axes=dynamic_axes,
                do_constant_folding=True,
            )


def _tag(path, meta):
    """Store led-ref metadata (config fingerprint, head, file role) in the ONNX file."""
    import onnx

    model = onnx.load(path, load_external_data=False)
    del model.metadata_props[:]
    for k, v in meta.items():
        p = model.metadata_props.add()
        p.key, p.value = f"led_ref.{k}", str(v)
    onnx.save(model, path)


def dummy_inputs(batch, length, global_rows, seed=0, vocab=50, pad_row=None):
    """int64 (input_ids, attention_mask, global_attention_mask) (B, S); ``global_rows[b]`` is the number of
    global tokens of row b (first tokens of the row get them, spread when > 1)."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(3, max(4, vocab), size=(batch, length)).astype(np.int64)
    mask = np.ones((batch, length), np.int64)
    if pad_row is not None and length > 1:
        keep = max(1, length // 2)
        mask[pad_row, keep:] = 0
        ids[pad_row, keep:] = 1
    glob = np.zeros((batch, length), np.int64)
    for b, n in enumerate(global_rows):
        n = min(int(n), length)
        if n:
            glob[b, rng.choice(length, size=n, replace=False)] = 1
    return ids, mask, glob


def export_model(
    config,
    params,
    out_dir,
    head="lm",
    opset=DEFAULT_OPSET,
    fp16=False,
    log=print,
    parts=("encoder", "decoder", "decoder_with_past"),
):
    """Write the ONNX files of ``head`` for (config, params) into ``out_dir`` (plus config.json when it
    is not there yet); returns their paths. ``parts`` limits a conditional-generation export to some
    of its three graphs (the benchmark exports only the encoder)."""
    import torch

    from .torch_model import build_torch_model, check_exportable, layer_attention_windows

    if not isinstance(opset, int) or opset < MIN_OPSET:
        raise ValueError(f"--opset {opset}: must be an int >= {MIN_OPSET}")
    check_exportable(config)
    os.makedirs(out_dir, exist_ok=True)
    if not os.path.isfile(os.path.join(out_dir, "config.json")) and hasattr(config, "save_pretrained"):
        config.save_pretrained(out_dir)
    model = build_torch_model(config, params, head, torch.float32)
    if fp16:
        model = model.half()
    Encoder, Decoder, DecoderWithPast, Head = _wrappers()
    W = max(layer_attention_windows(config))
    S = min(W + W // 2 + 1, int(config.max_encoder_position_embeddings))
    vocab = int(config.vocab_size)
    ids, mask, glob = (torch.from_numpy(a) for a in dummy_inputs(2, S, [1, 2], seed=0, vocab=vocab, pad_row=1))
    enc_names = ["input_ids", "attention_mask", "global_attention_mask"]
    enc_axes = {n: {0: "batch_size", 1: "encoder_sequence_length"} for n in enc_names}
    meta = {"fingerprint": config_fingerprint(config), "head": head, "fp16": int(bool(fp16))}
    if head != GENERATION_HEAD:
        path = os.path.join(out_dir, MODEL_FILE)
        log(f"export: writing {path}")
        outs = list(get_head(head).onnx_outputs)
        axes = dict(enc_axes)
        for name in outs:
            axes[name] = {0: "batch_size"} if name == "logits" else {0: "batch_size", 1: "encoder_sequence_length"}
        _export(Head(model, head), (ids, mask, glob), path, enc_names, outs, axes, opset)
        _tag(path, {**meta, "file": "model"})
        return [path]

    written = []
    enc_module = Encoder(model.led)
    if "encoder" in parts:
        path = os.path.join(out_dir, ENCODER_FILE)
        log(f"export: writing {path}")
        _export(
            enc_module,
            (ids, mask, glob),
            path,
            enc_names,
            ["last_hidden_state"],
            {**enc_axes, "last_hidden_state": {0: "batch_size", 1: "encoder_sequence_length"}},
            opset,
        )
        _tag(path, {**meta, "file": "encoder"})
        written.append(path)
    if "decoder" not in parts and "decoder_with_past" not in parts:
        return written

    n_layers = int(config.decoder_layers)
    with torch.no_grad():
        hidden = enc_module(ids, mask, glob)
    dec_ids = torch.from_numpy(np.random.default_rng(1).integers(3, max(4, vocab), size=(2, 3)).astype(np.int64))

    def kv(i, kind):
        return [f"present.{i}.{kind}.key", f"present.{i}.{kind}.value"]

    present = [n for i in range(n_layers) for n in kv(i, "decoder") + kv(i, "encoder")]
    axes = {
        "input_ids": {0: "batch_size", 1: "decoder_sequence_length"},
        "encoder_hidden_states": {0: "batch_size", 1: "encoder_sequence_length"},
        "encoder_attention_mask": {0: "batch_size", 1: "encoder_sequence_length"},
        "logits": {0: "batch_size", 1: "decoder_sequence_length"},
    }
    for n in present:
        axes[n] = {0: "batch_size", 2: "decoder_sequence_length" if ".decoder." in n else "encoder_sequence_length"}
    dec = Decoder(model)
    if "decoder" in parts:
        path = os.path.join(out_dir, DECODER_FILE)
        log(f"export: writing {path}")
        _export(
            dec,
            (dec_ids, hidden, mask),
            path,
            ["input_ids", "encoder_hidden_states", "encoder_attention_mask"],
            ["logits"] + present,
            axes,
            opset,
        )
        _tag(path, {**meta, "file": "decoder"})
        written.append(path)
    if "decoder_with_past" not in parts:
        return written

    with torch.no_grad():
        past = dec(dec_ids, hidden, mask)[1:]
    past_names = [n.replace("present.", "past_key_values.") for n in present]
    self_present = [n for n in present if ".decoder." in n]
    axes = {
        "input_ids": {0: "batch_size", 1: "decoder_sequence_length"},
        "encoder_attention_mask": {0: "batch_size", 1: "encoder_sequence_length"},
        "logits": {0: "batch_size", 1: "decoder_sequence_length"},
    }
    for n in past_names:
        length = "past_decoder_sequence_length" if ".decoder." in n else "encoder_sequence_length"
        axes[n] = {0: "batch_size", 2: length}
    for n in self_present:
        axes[n] = {0: "batch_size", 2: "past_decoder_sequence_length + decoder_sequence_length"}
    path = os.path.join(out_dir, DECODER_WITH_PAST_FILE)
    log(f"export: writing {path}")
    _export(
        DecoderWithPast(model),
        (dec_ids[:, :1], mask) + tuple(past),
        path,
        ["input_ids", "encoder_attention_mask"] + past_names,
        ["logits"] + self_present,
        axes,
        opset,
    )
    _tag(path, {**meta, "file": "decoder_with_past"})
    written.append(path)
    if "decoder" in parts:
        from .merged_decoder import merge_decoders

        merged = os.path.join(out_dir, DECODER_MERGED_FILE)
        merge_decoders(os.path.join(out_dir, DECODER_FILE), path, merged, log=log)
        written.append(merged)
    return written


def copy_side_files(model_dir, out_dir):
    """Copy config/generation/tokenizer files that exist in ``model_dir``; returns the names copied."""
    copied = []
    for name in COPIED_FILES:
        src = os.path.join(model_dir, name)
        if os.path.isfile(src):
            shutil.copyfile(src, os.path.join(out_dir, name))
            copied.append(name)
    return copied


# -- validation -----------------------------------------------------------------------------------------------------
def _rel_err(a, ref):
    try:
        return relative_error(a, ref)
    except ValueError as exc:
        raise ValueError(f"validation: {exc}") from None


def validation_cases(config):
    """(B, S, global counts per row, padded row) different from the export inputs (B=2, S=1.5W+1, [1, 2])."""
    from .torch_model import layer_attention_windows

    W = max(layer_attention_windows(config))
    max_pos = int(config.max_encoder_position_embeddings)
    cases = [
        (3, max(1, W // 2 - 1), [0, 1, 3], 2),  # shorter than one window, 0/1/many globals
        (2, 2 * W + 3, [0, 0], None),  # no global token at all, not a multiple of the window
        (1, W, [W], None),  # every token global
        (4, W + 5, [5, 0, 1, 2], 3),
    ]
    # HF pads to a multiple of W, and the padded length must have position embeddings
    cap = max(1, (max_pos // W) * W)
    return [(b, min(s, cap), g, p) for b, s, g, p in cases]


def numpy_reference(config, params, head):
    """led_ref's NumPy model of ``head`` (the oracle the export is checked against)."""
    from led_ref.model import model_class

    return model_class(head)(config, params)


class NumpySteps(LEDStepModel):
    """led_ref's NumPy step model with the full (B, T, V) logits: the reference the ONNX graphs are
    compared with."""

    def __init__(self, model):
        super().__init__(model, full_logits=True)


FLOAT16_STRESS_SCALE = 16.0  # encoder states of the fully masked row, scaled: cross-attention scores 16x as large


def float16_checks(ort_model, ref, config, scale=FLOAT16_STRESS_SCALE, seed=7):
    """The float16 mask rule's cases (spec/SPEC.md#float16-graphs), against the float32 NumPy reference ``ref``:
    a batch whose second row is fully padded (every key of its encoder attention and of its decoder
    cross-attention masked: HF and led_ref give a uniform row there, a float16 finfo.min mask gives a wrong or
    NaN row), and that row's encoder states multiplied by ``scale`` so that its cross-attention scores are large
    (score + float16 finfo.min overflows to -inf). Returns {name: relative error} (inf for a NaN/inf output)."""
    vocab = int(config.vocab_size)
    rng = np.random.default_rng(seed)
    S = min(13, int(config.max_encoder_position_embeddings))
    ids = rng.integers(3, max(4, vocab), size=(2, S)).astype(np.int64)
    mask = np.ones_like(ids)
    mask[1] = 0  # a fully padded row
    glob = np.zeros_like(ids)
    glob[0, 0] = 1
    h_ref, _ = ref.encode(ids, mask, glob)
    h_ort, _ = ort_model.encode(ids, mask, glob)
    errors = {"float16: fully padded row (encoder)": _rel_err(h_ort, h_ref)}
    hidden = np.array(h_ref, dtype=np.float32)
    hidden[1] *= np.float32(scale)
    dec = rng.integers(3, max(4, vocab), size=(2, 3)).astype(np.int64)
    lg_ref, past_ref = ref.decode(dec, hidden, mask)
    lg_ort, _ = ort_model.decode(dec, hidden, mask)
    errors[f"float16: fully masked cross-attention, states x{scale:g} (logits)"] = _rel_err(lg_ort, lg_ref)
    nxt = rng.integers(3, max(4, vocab), size=(2, 1)).astype(np.int64)
    lg_ref, _ = ref.decode(nxt, hidden, mask, past_ref)
    lg_ort, _ = ort_model.decode(nxt, hidden, mask, past_ref)
    errors[f"float16: fully masked cross-attention, states x{scale:g} (logits with past)"] = _rel_err(lg_ort, lg_ref)
    return errors


def validate_export(out_dir, config, params, head="lm", fp16=False, providers=None, log=print):
    """Run the exported files on ONNX Runtime for the ``validation_cases`` and compare with the NumPy
    reference. Returns {output name: max relative error}; raises ValueError above the tolerance."""
    from .ort import OrtLEDForConditionalGeneration, OrtLEDModel

    # the graphs compute in float16 or float32; the reference is led_ref's float32 model
    tol = tolerance("float16" if fp16 else "float32")
    ref_model = numpy_reference(config, params, head)
    errors = {}

    def record(name, value):
        errors[name] = max(errors.get(name, 0.0), value)

    vocab = int(config.vocab_size)
    eos = int(config.eos_token_id) if config.eos_token_id is not None else 2
    if head == GENERATION_HEAD:
        ort_model = OrtLEDForConditionalGeneration.from_pretrained(out_dir, providers=providers)
    else:
        ort_model = OrtLEDModel.from_pretrained(out_dir, providers=providers)
    for i, (B, S, globs, pad_row) in enumerate(validation_cases(config)):
        ids, mask, glob = dummy_inputs(B, S, globs, seed=100 + i, vocab=vocab, pad_row=pad_row)
        if head == GENERATION_HEAD:
            ref = NumpySteps(ref_model)
            h_ref, _ = ref.encode(ids, mask, glob)
            h_ort, _ = ort_model.encode(ids, mask, glob)
            record("last_hidden_state", _rel_err(h_ort, h_ref))
            dec_ids = np.random.default_rng(i).integers(3, max(4, vocab), size=(B, 1 + i)).astype(np.int64)
            lg_ref, past_ref = ref.decode(dec_ids, h_ref, mask)
            lg_ort, past_ort = ort_model.decode(dec_ids, h_ref, mask)
            record("logits", _rel_err(lg_ort, lg_ref))
            for layer_ref, layer_ort in zip(past_ref, past_ort):
                for kind, a, r in zip(
                    ("decoder.key", "decoder.value", "encoder.key", "encoder.value"), layer_ort, layer_ref
                ):
                    record(f"present.*.{kind}", _rel_err(a, r))
            nxt = np.random.default_rng(50 + i).integers(3, max(4, vocab), size=(B, 1)).astype(np.int64)
            lg_ref, _ = ref.decode(nxt, h_ref, mask, past_ref)
            lg_ort, _ = ort_model.decode(nxt, h_ref, mask, past_ref)
            record("logits (with past)", _rel_err(lg_ort, lg_ref))
        else:
            if head == "seq_cls":
                ids[:, -1] = eos  # the classification head reads the last eos token
                mask[:, -1] = 1
            out = ort_model(ids, mask, glob)
            ref = ref_model(input_ids=ids, attention_mask=mask, global_attention_mask=glob)
            for name in get_head(head).onnx_outputs:
                record(name, _rel_err(out[name], getattr(ref, name)))
        log(f"validate: case {i + 1}: batch {B}, length {S}, global tokens per row {globs}: ok")
    if fp16 and head == GENERATION_HEAD:
        for name, err in float16_checks(ort_model, NumpySteps(ref_model), config).items():
            record(name, err)
    worst = max(errors.values())
    for name, err in errors.items():
        log(f"validate: {name}: max error {err:.3e} (led_ref.tolerances.relative_error)")
    log(f"validate: max error {worst:.3e}, tolerance {tol:g} ({'fp16' if fp16 else 'fp32'})")
    if not worst <= tol:
        from led_ref.errors import CheckFailedError

        raise CheckFailedError(
            f"validation failed: max error {worst:.3e} > tolerance {tol:g}; the exported files in "
            f"{out_dir} do not match the NumPy reference"
        )
    return errors


def export_checkpoint(
    model_dir, out_dir, opset=DEFAULT_OPSET, fp16=False, validate=True, head=None, providers=None, log=print
):
    """``python -m led_ref export``: load a checkpoint directory with led_ref, export, copy side files,
    validate. Returns a dict with the written files and validation errors."""
    from led_ref.config import LEDConfig
    from led_ref.weights import load_params

    model_dir, out_dir = os.fspath(model_dir), os.fspath(out_dir)
    if not os.path.isdir(model_dir):
        raise FileNotFoundError(f"export: MODEL_DIR {model_dir} is not a directory")
    if os.path.abspath(model_dir) == os.path.abspath(out_dir):
        raise ValueError("export: OUT_DIR must differ from MODEL_DIR (config.json would be overwritten)")
    config = LEDConfig.from_pretrained(model_dir)
    head = head or head_of_config(config)
    try:
        get_head(head)
    except ValueError as exc:
        raise ValueError(f"export: {exc}") from None
    from .torch_model import check_exportable

    check_exportable(config)  # refused up front: nothing loaded or written yet
    params = load_params(model_dir, config, head, dtype=np.float32)
    files = export_model(config, params, out_dir, head=head, opset=opset, fp16=fp16, log=log)
    copied = copy_side_files(model_dir, out_dir)
    if "config.json" not in copied:
        config.save_pretrained(out_dir)
    errors = validate_export(out_dir, config, params, head, fp16, providers, log) if validate else None
    return {"files": files, "copied": copied, "head": head, "errors": errors}

"""Candidates of ``led-ref verify``: parsing ``--candidate SPEC`` and the adapters that run an implementation.

SPEC is one of

- ``python:MODULE:FUNCTION`` -- ``FUNCTION(config, params, inputs) -> dict`` (contract: led_ref.testing's
  docstring and docs/conformance.md, "The python: contract"); MODULE is a dotted module name (importable from the
  current directory) or a path to a ``.py`` file. Configs and weights are drawn.
- ``hf:MODEL_DIR`` -- HF transformers' ``LEDForConditionalGeneration.from_pretrained(MODEL_DIR)`` in this
  interpreter (transformers + torch must be importable). Its config and weights are fixed; inputs are drawn.
- ``onnx:EXPORT_DIR`` -- a ``led-ref export`` directory on ONNX Runtime. Its config is fixed; the reference weights
  come from ``--reference CHECKPOINT_DIR`` (the checkpoint it was exported from: an export directory holds no
  weights that can be read back by name). Inputs are drawn.

Adapters run in the verify worker process (so a hanging candidate can be stopped); every value they return is
NumPy.
"""

import importlib
import importlib.util
import os
import sys

import numpy as np

__all__ = ["CandidateSpecError", "parse_spec", "make_adapter"]

KINDS = ("python", "hf", "onnx")


class CandidateSpecError(ValueError):
    """A ``--candidate`` that does not parse, or names something that does not exist or cannot run."""


def parse_spec(spec):
    """'kind:rest' -> (kind, args): python -> (module, function); hf/onnx -> (directory,)."""
    if not isinstance(spec, str) or ":" not in spec:
        raise CandidateSpecError(
            f"candidate {spec!r}: expected python:MODULE:FUNCTION, hf:MODEL_DIR or onnx:EXPORT_DIR"
        )
    kind, rest = spec.split(":", 1)
    if kind not in KINDS:
        raise CandidateSpecError(
            f"candidate {spec!r}: unknown kind {kind!r}; expected one of {', '.join(KINDS)} "
            "(python:MODULE:FUNCTION, hf:MODEL_DIR, onnx:EXPORT_DIR)"
        )
    if kind == "python":
        module, sep, func = rest.rpartition(":")
        if not sep or not module or not func or not func.isidentifier():
            raise CandidateSpecError(
                f"candidate {spec!r}: expected python:MODULE:FUNCTION (e.g. "
                "python:my_port:forward or python:path/to/port.py:forward)"
            )
        return kind, (module, func)
    if not rest:
        raise CandidateSpecError(f"candidate {spec!r}: expected {kind}:DIRECTORY")
    if not os.path.isdir(rest):
        raise CandidateSpecError(f"candidate {spec}: {rest} is not a directory")
    if not os.path.isfile(os.path.join(rest, "config.json")):
        raise CandidateSpecError(f"candidate {spec}: {os.path.join(rest, 'config.json')} does not exist")
    if kind == "hf" and importlib.util.find_spec("transformers") is None:
        raise CandidateSpecError(
            f"candidate {spec}: HF transformers is not importable in this interpreter "
            f"({sys.executable}); pip install transformers torch"
        )
    if kind == "onnx" and importlib.util.find_spec("onnxruntime") is None:
        raise CandidateSpecError(f"candidate {spec}: onnxruntime is not installed; pip install 'led-ref[export]'")
    return kind, (rest,)


def make_adapter(spec, dtype):
    """The adapter of ``spec`` computing in ``dtype`` (name); CandidateSpecError when it cannot be built."""
    kind, args = parse_spec(spec)
    return {"python": PythonAdapter, "hf": HFAdapter, "onnx": OnnxAdapter}[kind](spec, *args, dtype=dtype)


def _numpy(value):
    """Torch tensors / nested tuples -> NumPy (no torch import needed)."""
    if isinstance(value, (tuple, list)):
        return tuple(_numpy(v) for v in value)
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        return value.detach().cpu().numpy()
    return value


def _greedy_loop(call, config, inputs, max_new_tokens):
    """HF greedy search through a forward callable with its own cache: start token, argmax, finished rows get
    pad, stop when every row has produced eos. Returns (B, 1 + steps) int64."""
    enc = {k: inputs[k] for k in ("input_ids", "attention_mask", "global_attention_mask")}
    bsz = enc["input_ids"].shape[0]
    seq = np.full((bsz, 1), int(config.decoder_start_token_id), np.int64)
    unfinished = np.ones(bsz, bool)
    past = None
    for _ in range(max_new_tokens):
        step = dict(enc, decoder_input_ids=seq if past is None else seq[:, -1:], use_cache=True)
        if past is not None:
            step["past_key_values"] = past
        out = call(step)
        if not isinstance(out, dict) or out.get("logits") is None or out.get("past_key_values") is None:
            raise ValueError("generation needs logits and past_key_values from the candidate (use_cache=True)")
        logits = np.asarray(_numpy(out["logits"]))[:, -1]
        past = _numpy(out["past_key_values"])
        tok = np.argmax(logits, axis=-1).astype(np.int64)
        tok = np.where(unfinished, tok, int(config.pad_token_id))
        seq = np.concatenate([seq, tok[:, None]], axis=1)
        unfinished &= tok != int(config.eos_token_id)
        if not unfinished.any():
            break
    return seq


class PythonAdapter:
    """``python:MODULE:FUNCTION``: configs and weights are drawn; FUNCTION gets HF-named flat weights."""

    fixed = False
    supports = ("encoder", "logits", "attentions", "cache", "loss")

    def __init__(self, spec, module, func, dtype):
        self.spec = spec
        if module.endswith(".py") or os.sep in module:
            if not os.path.isfile(module):
                raise CandidateSpecError(f"candidate {spec}: module file {module} does not exist")
            name = "led_ref_verify_candidate"
            loader_spec = importlib.util.spec_from_file_location(name, module)
            mod = importlib.util.module_from_spec(loader_spec)
            try:
                loader_spec.loader.exec_module(mod)
            except Exception as exc:  # the user's module failed at import time
                raise CandidateSpecError(
                    f"candidate {spec}: importing {module} raised {type(exc).__name__}: {exc}"
                ) from None
        else:
            if "" not in sys.path and os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())  # like `python -m`: modules of the current directory
            try:
                mod = importlib.import_module(module)
            except ModuleNotFoundError as exc:
                raise CandidateSpecError(f"candidate {spec}: no module named {exc.name!r}") from None
            except Exception as exc:
                raise CandidateSpecError(
                    f"candidate {spec}: importing {module} raised {type(exc).__name__}: {exc}"
                ) from None
        fn = getattr(mod, func, None)
        if not callable(fn):
            raise CandidateSpecError(
                f"candidate {spec}: module {module} has no callable {func!r} "
                "(expected FUNCTION(config, params, inputs) -> dict)"
            )
        self.fn = fn

    def call(self, config, params, inputs):
        return _numpy_dict(self.fn(config, params, inputs))

    def generate(self, config, params, inputs, max_new_tokens):
        return _greedy_loop(lambda step: self.call(config, params, step), config, inputs, max_new_tokens)


def _numpy_dict(out):
    if not isinstance(out, dict):
        return out
    return {k: _numpy(v) for k, v in out.items()}


class HFAdapter:
    """``hf:MODEL_DIR``: HF transformers' LEDForConditionalGeneration in this interpreter, fixed weights."""

    fixed = True
    supports = ("encoder", "logits", "attentions", "cache", "loss")

    def __init__(self, spec, model_dir, dtype):
        import torch
        import transformers
        from transformers import LEDForConditionalGeneration

        transformers.logging.set_verbosity_error()  # not its "input ids are padded to the window" notice per case

        self.spec, self.model_dir, self.torch = spec, model_dir, torch
        self.torch_dtype = {"float64": torch.float64, "float32": torch.float32, "float16": torch.float16}[dtype]
        self.model = LEDForConditionalGeneration.from_pretrained(model_dir, torch_dtype=self.torch_dtype).eval()

    def _tensors(self, inputs):
        t = self.torch
        out = {}
        for k, v in inputs.items():
            if k == "past_key_values":
                out[k] = tuple(
                    tuple(t.from_numpy(np.ascontiguousarray(a)).to(self.torch_dtype) for a in layer) for layer in v
                )
            elif isinstance(v, np.ndarray):
                out[k] = t.from_numpy(v)
            else:
                out[k] = v
        return out

    def call(self, config, params, inputs):
        from led_ref.testing import hf_defined

        with self.torch.no_grad():
            out = self.model(**self._tensors(inputs), return_dict=True)
        out = {k: _numpy(v) for k, v in out.items() if v is not None}
        # HF leaves some attention entries undefined (spec/SPEC.md): compare led-ref's defined values there
        mask, glob = inputs["attention_mask"], inputs["global_attention_mask"]
        per_row = ((glob == 1) & (mask == 1)).sum(axis=1)
        for name in ("encoder_attentions", "encoder_global_attentions"):
            if name in out:
                out[name] = tuple(hf_defined(name, a, per_row, mask.shape[1]) for a in out[name])
        return out

    def generate(self, config, params, inputs, max_new_tokens):
        enc = self._tensors({k: inputs[k] for k in ("input_ids", "attention_mask", "global_attention_mask")})
        with self.torch.no_grad():
            out = self.model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False)
        return out.numpy().astype(np.int64)


class OnnxAdapter:
    """``onnx:EXPORT_DIR``: the three graphs on ONNX Runtime (led_ref.export.ort), fixed config. The graphs return
    no attentions and no loss, so only encoder, logits and cache are checked."""

    fixed = True
    supports = ("encoder", "logits", "cache")

    def __init__(self, spec, export_dir, dtype):
        from ..export.ort import OrtLEDForConditionalGeneration

        self.spec = spec
        if dtype == "bfloat16":  # led-ref verify --precision bf16: the float32 export in bfloat16 on OpenVINO
            self.model = OrtLEDForConditionalGeneration.from_pretrained(export_dir, precision="bf16")
        else:
            self.model = OrtLEDForConditionalGeneration.from_pretrained(export_dir, providers=["CPUExecutionProvider"])

    def call(self, config, params, inputs):
        unsupported = sorted(
            set(inputs)
            - {
                "input_ids",
                "attention_mask",
                "global_attention_mask",
                "decoder_input_ids",
                "past_key_values",
                "use_cache",
            }
        )
        if unsupported:
            raise ValueError(f"the ONNX graphs take no {unsupported}")
        hidden, mask = self.model.encode(inputs["input_ids"], inputs["attention_mask"], inputs["global_attention_mask"])
        logits, past = self.model.decode(inputs["decoder_input_ids"], hidden, mask, inputs.get("past_key_values"))
        out = {"encoder_last_hidden_state": hidden, "logits": logits}
        if inputs.get("use_cache"):
            out["past_key_values"] = past
        return out

    def generate(self, config, params, inputs, max_new_tokens):
        return self.model.generate(
            inputs["input_ids"],
            inputs["attention_mask"],
            inputs["global_attention_mask"],
            max_new_tokens=max_new_tokens,
            do_sample=False,
        )

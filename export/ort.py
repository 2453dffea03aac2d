"""ONNX Runtime backend for exported LED models (spec/SPEC.md#onnx-export).

``OrtLEDForConditionalGeneration`` implements led_ref.generation's ``Seq2SeqStepModel``
(encode / decode with HF legacy past layout), so ``generate()`` is the very decoding code of the
NumPy model: one greedy / sampling / beam search for both backends.
``OrtLEDModel`` runs the single-file exports (sequence classification, QA, base model).
"""

import os

import numpy as np

from led_ref import inputs
from led_ref.heads import GENERATION_HEAD, HEADS

from . import runtime_options as _runtime
from .files import (
    DECODER_FILE,
    DECODER_MERGED_FILE,
    DECODER_WITH_PAST_FILE,
    ENCODER_FILE,
    MODEL_FILE,
    config_fingerprint,
)
from .merged_decoder import MergedBranch
from .openvino_session import Bf16Tensor
from .session_checks import HostView, check_feeds, check_graph_metadata, missing_file_error

_ORT_DTYPES = {
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(bool)": np.bool_,
}


def default_providers():
    """CUDAExecutionProvider when this onnxruntime has it, else CPUExecutionProvider."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def _device_of(session):
    """(device_type, device_id) where ``session`` keeps tensors bound to its device: its first provider's."""
    provider = session.get_providers()[0]
    if provider == "CUDAExecutionProvider":
        opts = session.get_provider_options().get(provider, {})
        return "cuda", int(opts.get("device_id", 0) or 0)
    return "cpu", 0


class DeviceTensor(HostView):
    """A tensor that ONNX Runtime holds on a session's device (an ``OrtValue``): what ``decode`` returns as past
    with IO binding, so the cache is fed back to the next step without a copy to NumPy (spec/SPEC.md#io-binding).
    ``shape``/``dtype`` are read without copying; ``np.asarray(t)``, ``t.numpy()`` and ``t[idx]`` copy to the
    host (the generic beam code reorders the self-attention cache that way)."""

    __slots__ = ("value", "_host")

    def __init__(self, value, host=None):
        self.value = value
        self._host = host  # an OrtValue made from a NumPy array on the CPU device aliases that array: keep it alive

    @property
    def shape(self):
        return tuple(self.value.shape())

    @property
    def dtype(self):
        return np.dtype(_ORT_DTYPES[self.value.data_type()])

    @property
    def ndim(self):
        return len(self.shape)

    def numpy(self):
        return self.value.numpy()

    def __repr__(self):
        return f"DeviceTensor(shape={self.shape}, dtype={self.dtype.name}, device={self.value.device_name()})"


# tensors a session keeps in its own format and takes back as past: ORT's DeviceTensor (IO binding) and
# OpenVINO's Bf16Tensor (the bfloat16 key/value cache); both read as NumPy through np.asarray
HELD_TENSORS = (DeviceTensor, Bf16Tensor)


class OrtSession:
    """An InferenceSession that checks the names, dtypes and ranks of what it is fed."""

    def __init__(self, path, providers=None, session_options=None, expect_fingerprint=None, expect_file=None):
        import onnxruntime as ort  # the runtime only: never torch or onnx (spec/SPEC.md#runtime)

        if not os.path.isfile(path):
            raise missing_file_error(path)
        providers = providers or default_providers()
        available = ort.get_available_providers()
        for p in providers:
            name = p[0] if isinstance(p, (tuple, list)) else p
            if name not in available:  # ORT itself would only warn and fall back to the CPU
                raise ValueError(
                    f"providers: {name} is not available in this onnxruntime (available: {available}); "
                    + (
                        "CUDAExecutionProvider needs onnxruntime-gpu and a CUDA device"
                        if name == "CUDAExecutionProvider"
                        else "install the package that provides it"
                    )
                )
        try:
            self.session = ort.InferenceSession(
                path, sess_options=session_options or _runtime.session_options(), providers=providers
            )
        except Exception as exc:  # onnxruntime raises its own exception types (e.g. InvalidProtobuf)
            raise ValueError(
                f"{path}: onnxruntime cannot load it as an ONNX model ({exc}); re-export it with "
                "python -m led_ref export"
            ) from None
        meta = dict(self.session.get_modelmeta().custom_metadata_map)
        check_graph_metadata(path, meta, expect_fingerprint, expect_file)
        self.path = path
        self.meta = meta
        self.inputs = {i.name: i for i in self.session.get_inputs()}
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.input_dtypes = {n: _ORT_DTYPES.get(i.type) for n, i in self.inputs.items()}
        # the encoder's activations are large and used once per document: give them back after each run
        self.run_options = _runtime.run_options(shrink_arena=expect_file == "encoder", providers=providers)

    def run(self, feeds, device_outputs=None):
        """Run with ``feeds`` {name: array or DeviceTensor}; returns {output name: array}. With
        ``device_outputs`` (a set of output names), or when a feed is a DeviceTensor, the run uses IO binding:
        DeviceTensor feeds are bound where they are, NumPy feeds are copied to the session's device once, and the
        outputs named in ``device_outputs`` come back as DeviceTensors left on the device."""
        checked = check_feeds(os.path.basename(self.path), self.inputs, self.input_dtypes, feeds, (DeviceTensor,))
        if device_outputs is None and not any(isinstance(v, DeviceTensor) for v in checked.values()):
            return dict(zip(self.output_names, self.session.run(None, checked, self.run_options)))
        return self._run_bound(checked, set(device_outputs or ()))

    def to_device(self, arr, name=None):
        """A NumPy array copied to this session's device (a DeviceTensor); ``name``: the input it is for."""
        import onnxruntime as ort

        arr = np.ascontiguousarray(arr)
        device, index = _device_of(self.session)
        return DeviceTensor(ort.OrtValue.ortvalue_from_numpy(arr, device, index), arr if device == "cpu" else None)

    def _run_bound(self, feeds, device_outputs):
        device, index = _device_of(self.session)
        binding = self.session.io_binding()
        for n, value in feeds.items():
            if isinstance(value, DeviceTensor):
                binding.bind_ortvalue_input(n, value.value)
            else:  # ids, masks, empty merged-decoder inputs: ORT copies them where the graph needs them
                binding.bind_cpu_input(n, value)
        for n in self.output_names:
            if n in device_outputs:
                binding.bind_output(n, device, index)
            else:
                binding.bind_output(n, "cpu")
        self.session.run_with_iobinding(binding, self.run_options)
        values = binding.get_outputs()
        return {n: DeviceTensor(v) if n in device_outputs else v.numpy() for n, v in zip(self.output_names, values)}


def _load_config(onnx_dir):
    from led_ref.config import LEDConfig

    onnx_dir = os.fspath(onnx_dir)
    if not os.path.isdir(onnx_dir):
        raise FileNotFoundError(
            f"{onnx_dir} is not a directory; export one with python -m led_ref export MODEL_DIR OUT_DIR"
        )
    path = os.path.join(onnx_dir, "config.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} not found: an exported directory holds config.json beside the .onnx files")
    return LEDConfig.from_pretrained(path)


def _check_inputs(config, input_ids, attention_mask, global_attention_mask):
    """The encoder inputs, checked by led_ref.inputs exactly as the NumPy model checks them."""
    ids, mask, glob = inputs.encoder_inputs(input_ids, attention_mask, global_attention_mask, config.vocab_size)
    inputs.encoder_padded_length(
        ids.shape[1], max(config.layer_attention_windows()), config.max_encoder_position_embeddings
    )
    return ids, mask, np.zeros_like(ids) if glob is None else glob


ENGINES = ("onnxruntime", "openvino")


def _engine_for(precision, engine, providers=None, session_options=None, io_binding=None):
    """The engine that runs ``precision`` (spec/SPEC.md#bfloat16-on-the-cpu); one-line errors name the option."""
    from .openvino_session import check_precision

    check_precision(precision)
    if engine is None:
        engine = "openvino" if precision == "bf16" else "onnxruntime"
    if engine not in ENGINES:
        raise ValueError(f"engine={engine!r}: expected one of {', '.join(map(repr, ENGINES))}")
    if precision == "bf16" and engine != "openvino":
        raise ValueError(
            "precision='bf16' runs on OpenVINO only (ONNX Runtime's CPU provider has no bfloat16 kernels); "
            "leave engine= out or pass engine='openvino'"
        )
    if engine == "openvino":
        given = [n for n, v in (("providers", providers), ("session_options", session_options)) if v is not None]
        if io_binding:
            given.append("io_binding")
        if given:
            raise ValueError(
                f"{', '.join(given)}: ONNX Runtime options, but precision={precision!r} engine='openvino' runs "
                "on OpenVINO (threads= sets its threads)"
            )
    return engine


class OrtLEDForConditionalGeneration:
    """LED conditional generation on ONNX Runtime: ``encode``/``decode`` (Seq2SeqStepModel) and
    ``generate`` through led_ref.generation (spec/SPEC.md#generation)."""

    def __init__(
        self, config, encoder, decoder, decoder_with_past, generation_config=None, model_dir=None, io_binding=None
    ):
        self.config = config
        self.encoder, self.decoder, self.decoder_with_past = encoder, decoder, decoder_with_past
        self.generation_config = generation_config
        self.model_dir = model_dir
        self.num_layers = int(config.decoder_layers)
        self.float_dtype = decoder.input_dtypes["encoder_hidden_states"]
        if io_binding is None:  # on by default where the cache would otherwise cross the PCIe bus every step
            io_binding = decoder.session.get_providers()[0] == "CUDAExecutionProvider"
        self.io_binding = bool(io_binding)
        n_present = sum(1 for n in decoder.output_names if n.startswith("present."))
        if n_present != 4 * self.num_layers:
            raise ValueError(
                f"{decoder.path} has {n_present // 4} decoder layers but config.json says "
                f"decoder_layers={self.num_layers}: the files belong to another model"
            )

    @classmethod
    def from_pretrained(
        cls,
        onnx_dir,
        providers=None,
        session_options=None,
        use_merged=None,
        io_binding=None,
        precision="float32",
        engine=None,
        threads=None,
        cache_dir=None,
    ):
        """Load ``encoder_model.onnx``, ``decoder_model.onnx``, ``decoder_with_past_model.onnx`` and
        ``config.json`` (+ ``generation_config.json``) from an export directory. ``providers``: ORT execution
        providers (default: CUDA when available, else CPU). ``use_merged``: decode with
        ``decoder_model_merged.onnx`` instead of the two decoder files (default: when it is there).
        ``io_binding``: keep the decoder's key/value cache on the session's device between steps (DeviceTensor
        past); default on when the decoder runs on CUDAExecutionProvider, True/False force it.

        ``precision``: "float32" (default) or "bf16": a float32 export computed in bfloat16 on the CPU by OpenVINO's
        runtime (the ``openvino`` extra; a CPU with AVX512_BF16 or AMX), spec/SPEC.md#bfloat16-on-the-cpu.
        ``engine``: "onnxruntime" (the default for float32) or "openvino" (the default, and the only engine, for
        bf16; with float32 it runs OpenVINO in real float32). ``threads`` and ``cache_dir`` (OpenVINO's compiled
        model cache) apply to OpenVINO; ``providers``, ``session_options`` and ``io_binding`` to ONNX Runtime."""
        from led_ref.generation import GENERATION_CONFIG_NAME, GenerationConfig

        engine = _engine_for(precision, engine, providers, session_options, io_binding)
        config = _load_config(onnx_dir)
        fp = config_fingerprint(config)

        def session(name, role):
            path = os.path.join(onnx_dir, name)
            if engine == "openvino":
                from .openvino_session import OpenVINOSession

                return OpenVINOSession(path, precision, threads, fp, role, cache_dir)
            return OrtSession(path, providers, session_options, fp, role)

        merged = os.path.join(onnx_dir, DECODER_MERGED_FILE)
        if use_merged is None:
            # OpenVINO: the two decoder files when they are there. Its CPU plugin runs the merged graph's If far
            # slower per step than decoder_with_past (led-ref bench --precision bf16: generation peak RSS rows,
            # merged vs separate ms/step), which costs the decoder weights twice in memory.
            split = all(os.path.isfile(os.path.join(onnx_dir, f)) for f in (DECODER_FILE, DECODER_WITH_PAST_FILE))
            use_merged = os.path.isfile(merged) and not (engine == "openvino" and split)
        if use_merged:  # one session, decoder weights held once (spec/SPEC.md#merged-decoder)
            enc = session(ENCODER_FILE, "encoder")
            m = session(DECODER_MERGED_FILE, "decoder_merged")
            sessions = [enc, MergedBranch(m, False, config), MergedBranch(m, True, config)]
        else:
            sessions = [
                session(f, role)
                for f, role in (
                    (ENCODER_FILE, "encoder"),
                    (DECODER_FILE, "decoder"),
                    (DECODER_WITH_PAST_FILE, "decoder_with_past"),
                )
            ]
        gc_path = os.path.join(onnx_dir, GENERATION_CONFIG_NAME)
        gc = GenerationConfig.from_pretrained(gc_path) if os.path.isfile(gc_path) else None
        return cls(config, *sessions, generation_config=gc, model_dir=os.fspath(onnx_dir), io_binding=io_binding)

    # -- Seq2SeqStepModel ---------------------------------------------------------------------------------------------
    def encode(self, input_ids, attention_mask=None, global_attention_mask=None):
        """-> (encoder_hidden_states (B, S, D), encoder_attention_mask (B, S) int64)."""
        ids, mask, glob = _check_inputs(self.config, input_ids, attention_mask, global_attention_mask)
        out = self.encoder.run({"input_ids": ids, "attention_mask": mask, "global_attention_mask": glob})
        return out["last_hidden_state"], mask

    def decode(self, decoder_input_ids, encoder_hidden_states, encoder_attention_mask, past_key_values=None):
        """-> (logits (B, T, V), past) with past per layer (self_k, self_v, cross_k, cross_v) (B, H, len, d)."""
        cfg = self.config
        ids = inputs.token_ids("decoder_input_ids", decoder_input_ids, cfg.vocab_size)
        enc_mask = inputs.as_array("attention_mask", encoder_attention_mask)
        if enc_mask.ndim != 2:
            raise ValueError(f"attention_mask must have shape (batch, sequence_length), got shape {enc_mask.shape}")
        mask = inputs.mask("attention_mask", enc_mask, (ids.shape[0], enc_mask.shape[1]))
        past_len = 0 if past_key_values is None else int(np.shape(past_key_values[0][0])[2])
        # IO binding: the present tensors stay on the device and are fed back as past as they are
        on_device = {n for n in self.decoder.output_names if n.startswith("present.")} if self.io_binding else None
        inputs.check_decoder_length(past_len, ids.shape[1], cfg.max_decoder_position_embeddings)
        if past_key_values is None:
            hidden = inputs.encoder_hidden_states(encoder_hidden_states, ids.shape[0], cfg.d_model)
            inputs.cross_attention_mask(mask, hidden.shape)
            out = self.decoder.run(
                {
                    "input_ids": ids,
                    "encoder_hidden_states": hidden.astype(self.float_dtype),
                    "encoder_attention_mask": mask,
                },
                on_device,
            )
            past = tuple(
                tuple(out[f"present.{i}.{kind}.{kv}"] for kind in ("decoder", "encoder") for kv in ("key", "value"))
                for i in range(self.num_layers)
            )
            return self._logits(out), past
        if len(past_key_values) != self.num_layers or any(len(layer) != 4 for layer in past_key_values):
            raise ValueError(
                f"past_key_values must hold {self.num_layers} tuples of 4 arrays (self_k, self_v, cross_k, cross_v)"
            )
        feeds = {"input_ids": ids, "encoder_attention_mask": mask}
        # inputs the session keeps in a format of its own between steps (OpenVINO bf16: the key/value cache)
        held = getattr(self.decoder_with_past, "bf16_inputs", ())
        for i, layer in enumerate(past_key_values):
            for (kind, kv), arr in zip(
                (("decoder", "key"), ("decoder", "value"), ("encoder", "key"), ("encoder", "value")), layer
            ):
                name = f"past_key_values.{i}.{kind}.{kv}"
                if not isinstance(arr, HELD_TENSORS):
                    arr = np.asarray(arr).astype(self.float_dtype, copy=False)
                    if self.io_binding or name in held:  # converted once; returned as past, so not again
                        arr = self.decoder_with_past.to_device(arr, name)
                feeds[name] = arr
        out = self.decoder_with_past.run(feeds, on_device)
        past = tuple(
            (out[f"present.{i}.decoder.key"], out[f"present.{i}.decoder.value"])
            + (feeds[f"past_key_values.{i}.encoder.key"], feeds[f"past_key_values.{i}.encoder.value"])
            for i in range(self.num_layers)
        )
        return self._logits(out), past

    def _logits(self, out):
        # float16 graphs: decoding (log-softmax, beam scores) runs in float32
        logits = out["logits"]
        return logits.astype(np.float32) if logits.dtype == np.float16 else logits

    # -- HF-shaped API ------------------------------------------------------------------------------------------------
    def generate(self, input_ids, attention_mask=None, global_attention_mask=None, generation_config=None, **kwargs):
        """Same signature and semantics as led_ref's ``LEDForConditionalGeneration.generate``
        (led_ref.generation.generate over this backend)."""
        from led_ref.generation import generate

        return generate(self, input_ids, attention_mask, global_attention_mask, generation_config, **kwargs)

    def __repr__(self):
        return f"OrtLEDForConditionalGeneration({self.model_dir!r}, providers={self.encoder.session.get_providers()})"


class OrtLEDModel:
    """A single-file export (``model.onnx``: sequence classification, question answering or base model)."""

    def __init__(self, config, session, head, model_dir=None):
        self.config, self.session, self.head, self.model_dir = config, session, head, model_dir

    @classmethod
    def from_pretrained(cls, onnx_dir, providers=None, session_options=None):
        config = _load_config(onnx_dir)
        path = os.path.join(onnx_dir, MODEL_FILE)
        if not os.path.isfile(path) and os.path.isfile(os.path.join(onnx_dir, ENCODER_FILE)):
            raise FileNotFoundError(
                f"{path} not found: {onnx_dir} holds a conditional-generation export; load it "
                "with OrtLEDForConditionalGeneration"
            )
        session = OrtSession(path, providers, session_options, config_fingerprint(config), "model")
        head = session.meta.get("led_ref.head")
        if head not in HEADS or head == GENERATION_HEAD:
            raise ValueError(f"{path}: unknown head {head!r} in its metadata")
        return cls(config, session, head, os.fspath(onnx_dir))

    def __call__(self, input_ids, attention_mask=None, global_attention_mask=None):
        """{output name: array}: ``logits`` (seq_cls), ``start_logits``/``end_logits`` (qa) or
        ``last_hidden_state``/``encoder_last_hidden_state`` (base)."""
        ids, mask, glob = _check_inputs(self.config, input_ids, attention_mask, global_attention_mask)
        if self.head == "seq_cls":
            inputs.eos_positions(ids, self.config.eos_token_id)  # the graph cannot raise: checked here, as NumPy
        return self.session.run({"input_ids": ids, "attention_mask": mask, "global_attention_mask": glob})


def load_exported(onnx_dir, providers=None):
    """The right runtime class for an export directory."""
    if os.path.isfile(os.path.join(onnx_dir, ENCODER_FILE)) or not os.path.isfile(os.path.join(onnx_dir, MODEL_FILE)):
        return OrtLEDForConditionalGeneration.from_pretrained(onnx_dir, providers)
    return OrtLEDModel.from_pretrained(onnx_dir, providers)


__all__ = [
    "DeviceTensor",
    "OrtLEDForConditionalGeneration",
    "OrtLEDModel",
    "OrtSession",
    "default_providers",
    "load_exported",
]

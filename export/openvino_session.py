"""bfloat16 on the CPU: an exported float32 directory run by OpenVINO's runtime (spec/SPEC.md#bfloat16-on-the-cpu).

``OpenVINOSession`` has ``OrtSession``'s interface (``path``, ``meta``, ``inputs``, ``input_dtypes``,
``output_names``, ``session.get_providers()``, ``run(feeds)``), so ``OrtLEDForConditionalGeneration`` and
``MergedBranch`` drive it with the same encode / decode / ``generate()`` code as ONNX Runtime. It reads the
float32 ``.onnx`` files as they are; nothing is exported for it.

Why OpenVINO's own runtime and not ONNX Runtime's OpenVINO provider: the ``onnxruntime-openvino`` build replaces
``onnxruntime`` (both wheels own the ``onnxruntime`` package, so it cannot sit beside the ``export`` extra) and
bundles an OpenVINO whose CPU plugin returns wrong logits from the merged decoder's cached branch; the
``onnxruntime-ep-openvino`` plugin for stock onnxruntime lists no device on AMD CPUs (its device discovery accepts
Intel's vendor id only). docs/deployment.md#bfloat16 has the details.

Rules (each measured with ``python -m tools.bench.bf16``):

- ``INFERENCE_PRECISION_HINT`` is always set. OpenVINO's CPU plugin computes in bfloat16 **by default** on a CPU
  with native bfloat16 (AVX512_BF16 or AMX), so ``precision="float32"`` must ask for f32 to get it; the compiled
  model's hint is read back and must be what was asked for.
- bfloat16 is refused on a CPU whose OpenVINO capabilities lack ``BF16``: emulated bfloat16 would be slower than
  float32, and a silent float32 run must never report itself as bfloat16.
- Weight constants are stored as float16 in memory (OpenVINO's own weight compression, what its model converter
  does by default) and the FP32 originals are released: the compiled model keeps its source model's constants, so
  float32 weights would be held twice (float32 + the plugin's packed bfloat16 copy). bfloat16 computation rounds
  them to bfloat16 either way. float32 runs keep float32 weights.
- No int8 dynamic quantization of activations (``DYNAMIC_QUANTIZATION_GROUP_SIZE`` 0): bfloat16 means bfloat16.
- Decoders compile without Snippets (``SNIPPETS_MODE`` DISABLE): the CPU plugin otherwise fuses each
  cross-attention (one query against the whole encoder length) into a generated Subgraph kernel that took half of
  a decoding step's time; its oneDNN path is faster there (``led-ref bench --precision bf16``).
- The decoder's key/value cache, self- and cross-attention, is held in bfloat16 between steps (``Bf16Tensor``):
  every step returns its presents as bfloat16 and takes the past as bfloat16. A decoding step reads the whole cache,
  so float32 inputs would be converted (and read twice over) on every step, and float32 self-attention inputs whose
  length grows by one each step cost the plugin a float32 concatenation and conversions re-planned at every new
  length. It loses nothing: the graph computes the keys and values in bfloat16, so their float32 outputs are
  bfloat16 values already (tests/export/test_bf16.py holds the cached path to the float32-held one).
- Each decoder graph runs once on the smallest inputs when it is loaded (``warm_up``): the CPU plugin packs the
  weights and builds its kernels at a graph's first run, which would otherwise land on the first document's first
  decoding steps. The encoder is not warmed up: at one token it would pack a second, small-input copy of its weights
  that stays in memory beside the one a document's run packs.
- Inputs are shared with OpenVINO (no copy); outputs are copied out of the request (the next run reuses its
  buffers). One infer request per session: a session is not thread-safe, as ``OrtLEDForConditionalGeneration``.
"""

import os

import numpy as np

from . import runtime_options as _runtime
from .session_checks import HostView, check_feeds, check_graph_metadata, missing_file_error

PRECISIONS = ("float32", "bf16")
_HINT = {"float32": "f32", "bf16": "bf16"}
INSTALL_HINT = "pip install 'led-ref[openvino]' (Python >= 3.10)"

_NUMPY = {
    "i64": np.int64,
    "i32": np.int32,
    "f32": np.float32,
    "f16": np.float16,
    "f64": np.float64,
    "boolean": np.bool_,
}
_ONNX_TYPE = {"i64": "int64", "i32": "int32", "f32": "float", "f16": "float16", "f64": "double", "boolean": "bool"}


class UnsupportedCPUError(ValueError):
    """``precision="bf16"`` on a CPU without native bfloat16 (no AVX512_BF16 / AMX-BF16)."""


def import_openvino(option="precision='bf16'"):
    """The ``openvino`` module; ImportError naming ``option`` and the extra when it is not installed."""
    try:
        import openvino
    except ImportError:
        raise ImportError(f"{option} runs on OpenVINO, which is not installed: {INSTALL_HINT}") from None
    return openvino


def check_precision(precision, option="precision"):
    """``precision`` if it is one of PRECISIONS, else a one-line ValueError naming ``option``."""
    if precision not in PRECISIONS:
        raise ValueError(f"{option}={precision!r}: expected one of {', '.join(map(repr, PRECISIONS))}")
    return precision


def bf16_missing(core=None):
    """None when OpenVINO's CPU plugin computes bfloat16 natively here, else why not (one line)."""
    ov = import_openvino()
    core = core or ov.Core()
    caps = list(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
    if "BF16" in caps:
        return None
    return (
        "this CPU has no native bfloat16: OpenVINO's CPU capabilities are "
        f"{', '.join(caps)} (bfloat16 needs the AVX512_BF16 or AMX-BF16 instructions: /proc/cpuinfo flag "
        "avx512_bf16 or amx_bf16)"
    )


def to_bf16_bits(arr):
    """float32 -> bfloat16 bit patterns (uint16), rounded to nearest even, as OpenVINO rounds."""
    u = np.ascontiguousarray(arr, dtype=np.float32).view(np.uint32)
    rounded = (u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)
    # NaN stays NaN (the rounding could carry a NaN's payload into the exponent and make it inf)
    bits = np.where(np.isnan(arr), np.uint32(0x7FC0), rounded).astype(np.uint16)
    return bits.reshape(np.shape(arr))


def bf16_bits_to_float32(bits):
    """bfloat16 bit patterns (uint16) -> float32, exactly."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << np.uint32(16)).view(np.float32)


class Bf16Tensor(HostView):
    """A bfloat16 tensor kept in OpenVINO's format between decoding steps (the key/value cache): ``shape``,
    ``ndim``, ``len``; ``dtype`` is float32, the dtype it reads as: ``np.asarray(t)``, ``t.numpy()`` and ``t[idx]``
    give float32 copies (exact: every bfloat16 value is a float32)."""

    __slots__ = ("bits", "value")

    def __init__(self, bits):
        ov = import_openvino()
        self.bits = np.ascontiguousarray(bits, dtype=np.uint16)
        self.value = ov.Tensor(self.bits, list(self.bits.shape), ov.Type.bf16)  # shares self.bits' memory

    @classmethod
    def from_float(cls, arr):
        return cls(to_bf16_bits(arr))

    @property
    def shape(self):
        return self.bits.shape

    @property
    def dtype(self):
        return np.dtype(np.float32)

    @property
    def ndim(self):
        return self.bits.ndim

    def numpy(self):
        return bf16_bits_to_float32(self.bits)

    def __repr__(self):
        return f"Bf16Tensor(shape={self.shape})"

    def __reduce__(self):  # pickled as its bits (the OpenVINO tensor is a view of them)
        return (Bf16Tensor, (self.bits,))


class _Port:
    """What OrtSession reads from an onnxruntime NodeArg: ``name``, ``type`` ('tensor(float)'), ``shape``."""

    def __init__(self, name, port):
        self.name = name
        self.type = f"tensor({_ONNX_TYPE.get(port.get_element_type().get_type_name(), '?')})"
        self.shape = [d.get_length() if d.is_static else None for d in port.get_partial_shape()]


class _Providers:
    """``session.get_providers()`` of an OpenVINO session: one entry naming the engine, device and precision."""

    def __init__(self, name):
        self.name = name

    def get_providers(self):
        return [self.name]


def _onnx_name(port):
    """The ONNX tensor name of a port of the model as read: after transformations a port can carry several names
    (``attention_mask`` also as ``/encoder/Cast_output_0``), of which the ONNX one has no '/'."""
    names = sorted(port.get_names())
    plain = [n for n in names if "/" not in n]
    return (plain or names)[0]


def _meta(model):
    """The led-ref metadata of an ONNX file read by OpenVINO (ONNX metadata_props land under rt_info 'framework')."""
    meta = {}
    for key in ("led_ref.file", "led_ref.fingerprint", "led_ref.head", "led_ref.fp16", "led_ref.quantized"):
        if model.has_rt_info(["framework", key]):
            meta[key] = model.get_rt_info(["framework", key]).astype(str)
    return meta


def _is_cache(name):
    return name.startswith(("past_key_values.", "present."))


class OpenVINOSession:
    """One exported graph compiled by OpenVINO for the CPU in ``precision`` ("float32" or "bf16")."""

    def __init__(
        self,
        path,
        precision="bf16",
        threads=None,
        expect_fingerprint=None,
        expect_file=None,
        cache_dir=None,
        core=None,
        warm_up=None,
    ):
        ov = import_openvino(f"precision={precision!r}")
        check_precision(precision)
        if not os.path.isfile(path):
            raise missing_file_error(path)
        core = core or ov.Core()
        if precision == "bf16":
            why = bf16_missing(core)
            if why is not None:
                raise UnsupportedCPUError(f"precision='bf16': {why}; use precision='float32'")
        try:
            model = core.read_model(path)
        except Exception as exc:  # OpenVINO raises its own exception types
            raise ValueError(
                f"{path}: OpenVINO cannot read it as an ONNX model ({exc}); re-export it with python -m led_ref export"
            ) from None
        self.meta = _meta(model)
        check_graph_metadata(path, self.meta, expect_fingerprint, expect_file)
        if precision == "bf16":
            for key, what in (("led_ref.fp16", "float16"), ("led_ref.quantized", "int8")):
                if self.meta.get(key, "0") not in ("0", ""):
                    raise ValueError(
                        f"precision='bf16' needs a float32 export, but {path} is a {what} graph ({key} = "
                        f"{self.meta[key]}); load the float32 export it was made from, or drop precision='bf16'"
                    )
        in_names = [_onnx_name(p) for p in model.inputs]
        out_names = [_onnx_name(p) for p in model.outputs]
        # bfloat16: the key/value cache enters and leaves as bfloat16 (see the module docstring)
        self.bf16_inputs = frozenset(n for n in in_names if precision == "bf16" and _is_cache(n))
        bf16_outputs = [n for n in out_names if precision == "bf16" and _is_cache(n)]
        if self.bf16_inputs or bf16_outputs:
            from openvino.preprocess import PrePostProcessor

            ppp = PrePostProcessor(model)
            for n in self.bf16_inputs:
                ppp.input(n).tensor().set_element_type(ov.Type.bf16)
            for n in bf16_outputs:
                ppp.output(n).tensor().set_element_type(ov.Type.bf16)
            model = ppp.build()
        if precision == "bf16":
            _compress_weights(model)
        config = {
            "INFERENCE_PRECISION_HINT": _HINT[precision],  # always: the CPU default is bf16 where the CPU has it
            "PERFORMANCE_HINT": "LATENCY",
            "NUM_STREAMS": 1,
            "INFERENCE_NUM_THREADS": int(threads or _runtime.cpu_threads()),
            "DYNAMIC_QUANTIZATION_GROUP_SIZE": 0,  # never int8 activations
        }
        decoder = self.meta.get("led_ref.file", expect_file) != "encoder"
        if decoder:  # no Snippets subgraphs (see the module docstring)
            config["SNIPPETS_MODE"] = "DISABLE"
        if cache_dir:
            config["CACHE_DIR"] = os.fspath(cache_dir)
        self.compiled = core.compile_model(model, "CPU", config)
        del model  # the compiled model holds what it needs
        got = self.compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        if got != _HINT[precision]:
            raise RuntimeError(f"{path}: OpenVINO compiled it for {got}, not {_HINT[precision]} as asked")
        self.request = self.compiled.create_infer_request()
        self.path, self.precision = path, precision
        self.session = _Providers(f"OpenVINO-CPU-{precision}")
        ports = self.compiled.inputs  # compilation keeps the order of the model's inputs and outputs
        self._in_ports = dict(zip(in_names, ports))
        self.inputs = {n: _Port(n, p) for n, p in self._in_ports.items()}
        # what callers feed: float32 for the bfloat16 cache inputs too (converted, or already a Bf16Tensor)
        self.input_dtypes = {
            n: np.float32 if n in self.bf16_inputs else _NUMPY[p.get_element_type().get_type_name()]
            for n, p in self._in_ports.items()
        }
        self.output_names = out_names
        self._out_ports = dict(zip(out_names, self.compiled.outputs))
        self._bf16_outputs = frozenset(bf16_outputs)
        if warm_up is None:
            warm_up = decoder  # default: the decoder graphs (see warm_up)
        if warm_up:
            self.warm_up()

    def warm_up(self):
        """One run on the smallest inputs (every dynamic size 1); by default at load for the decoder graphs. The CPU
        plugin packs the weights into its kernels' layout and builds those kernels on a graph's first run, not at
        compile time (ONNX Runtime prepacks when the session is created), so without this the first decoding steps
        of the first document pay it."""
        feeds = {}
        for n, spec in self.inputs.items():
            shape = [1 if d is None else d for d in spec.shape]
            fill = 1 if n.endswith("attention_mask") else 0  # a real token (id 0) and no fully masked row
            feeds[n] = np.full(shape, fill, dtype=self.input_dtypes[n])
        self.run(feeds)

    def run(self, feeds, device_outputs=None):
        """Run with ``feeds`` {name: array or Bf16Tensor}; returns {output name: array or Bf16Tensor}.
        ``device_outputs`` (ONNX Runtime's IO binding) does not apply: inputs are read in place already."""
        checked = check_feeds(os.path.basename(self.path), self.inputs, self.input_dtypes, feeds, (Bf16Tensor,))
        bound = {}
        for n, value in checked.items():
            if n in self.bf16_inputs:
                value = value if isinstance(value, Bf16Tensor) else Bf16Tensor.from_float(value)
                bound[self._in_ports[n]] = value.value
            elif isinstance(value, Bf16Tensor):
                raise TypeError(f"{os.path.basename(self.path)}: input {n!r} takes a float32 array, not a Bf16Tensor")
            else:
                bound[self._in_ports[n]] = value
        res = self.request.infer(bound, share_inputs=True, share_outputs=False)
        out = {}
        for n in self.output_names:
            value = res[self._out_ports[n]]
            out[n] = Bf16Tensor(np.asarray(value).view(np.uint16)) if n in self._bf16_outputs else value
        return out

    def to_device(self, arr, name=None):
        """How this session keeps an input between runs: a Bf16Tensor for the bfloat16 cache inputs, else the
        array itself (already in host memory, read in place)."""
        if name in self.bf16_inputs and not isinstance(arr, Bf16Tensor):
            return Bf16Tensor.from_float(arr)
        return arr

    def release_memory(self):
        """Give the activations' memory back (OpenVINO keeps it after a run; the encoder's is large)."""
        self.compiled.release_memory()


def _compress_weights(model):
    """Store the weight constants as float16 in ``model`` (OpenVINO's weight compression, its converter's default;
    see the module docstring). Its home is a private OpenVINO module: where it is missing the weights stay float32
    (more memory, same results up to bfloat16 rounding)."""
    try:
        from openvino._offline_transformations import compress_model_transformation
    except ImportError:
        return
    compress_model_transformation(model)

"""LED parameter trees: HF checkpoint loading/saving, random init, flatten/unflatten.

A parameter tree is the HF state_dict without the ``led.`` prefix, nested at the dots, with
numeric parts as list indices::

    params["encoder"]["layers"][0]["self_attn"]["longformer_self_attn"]["query"]["weight"]  # (out, in)

Linear weights keep HF's (out, in) layout (y = x @ W.T + b). ``shared``, ``encoder.embed_tokens``
and ``decoder.embed_tokens`` (and ``lm_head`` when ``tie_word_embeddings``) are one array object.
``head`` is a key of the head registry ``led_ref.heads`` ("base", "lm", "seq_cls", "qa"). See
``spec/SPEC.md#checkpoints``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from . import heads as _heads
from . import safetensors as st
from . import torch_pickle
from .config import CONFIG_NAME, LEDConfig, as_config
from .errors import check_allocation, read_json
from .hub import resolve_pretrained_dir

# Views of the head registry (led_ref.heads), kept under their historical names.
HEAD_CLASSES = {key: head.hf_class for key, head in _heads.HEADS.items()}
HEADS = tuple(_heads.HEADS)
PREFIX = "led."  # HF base_model_prefix of the head classes

SAFE_WEIGHTS_NAME = "model.safetensors"
SAFE_WEIGHTS_INDEX_NAME = "model.safetensors.index.json"
WEIGHTS_NAME = "pytorch_model.bin"
WEIGHTS_INDEX_NAME = "pytorch_model.bin.index.json"

# Parameters that only a head class has (never carry the led. prefix).
HEAD_KEYS = {key: head.parameters for key, head in _heads.HEADS.items()}
_ALL_HEAD_KEYS = _heads.ALL_HEAD_PARAMETERS
EMBEDDING_KEYS = ("shared.weight", "encoder.embed_tokens.weight", "decoder.embed_tokens.weight")


_NO_CONFIG = object()


def _check_head(head, config=_NO_CONFIG):
    """Checks ``head``; returns ``config`` as an LEDConfig (``as_config``: a dict or any object with HF's LEDConfig
    fields is read as one)."""
    _heads.get_head(head)
    return None if config is _NO_CONFIG else as_config(config)


def _check_dtype(dtype):
    if dtype is None:  # np.dtype(None) would silently be float64
        raise TypeError("dtype must be float32 or float64, got None")
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r:.80}") from None
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


head_for_architecture = _heads.head_for_architecture  # historical import path


# -- the parameter layout -------------------------------------------------------------------
def _linear(name, n_out, n_in, bias=True):
    out: dict[str, tuple[int, ...]] = {f"{name}.weight": (n_out, n_in)}
    if bias:
        out[f"{name}.bias"] = (n_out,)
    return out


def _layer_norm(name, d):
    return {f"{name}.weight": (d,), f"{name}.bias": (d,)}


def parameter_shapes(config: LEDConfig, head: str) -> dict[str, tuple[int, ...]]:
    """Flat parameter name (no ``led.`` prefix, tied copies included) -> shape, in HF order."""
    config = _check_head(head, config)
    d, v = config.d_model, config.vocab_size
    shapes: dict[str, tuple[int, ...]] = {}
    if head == "lm":  # a buffer of the head class itself: first in HF's state_dict
        shapes["final_logits_bias"] = (1, v)
    shapes["shared.weight"] = (v, d)
    for side, n_pos in (
        ("encoder", config.max_encoder_position_embeddings),
        ("decoder", config.max_decoder_position_embeddings),
    ):
        shapes[f"{side}.embed_tokens.weight"] = (v, d)
        shapes[f"{side}.embed_positions.weight"] = (n_pos, d)
        n_layers = config.encoder_layers if side == "encoder" else config.decoder_layers
        ffn = config.encoder_ffn_dim if side == "encoder" else config.decoder_ffn_dim
        for i in range(n_layers):
            p = f"{side}.layers.{i}"
            if side == "encoder":
                for proj in ("query", "key", "value", "query_global", "key_global", "value_global"):
                    shapes.update(_linear(f"{p}.self_attn.longformer_self_attn.{proj}", d, d))
                shapes.update(_linear(f"{p}.self_attn.output", d, d))
                shapes.update(_layer_norm(f"{p}.self_attn_layer_norm", d))
            else:
                for attn in ("self_attn", "encoder_attn"):
                    for proj in ("k_proj", "v_proj", "q_proj", "out_proj"):
                        shapes.update(_linear(f"{p}.{attn}.{proj}", d, d))
                    shapes.update(_layer_norm(f"{p}.{attn}_layer_norm", d))
            shapes.update(_linear(f"{p}.fc1", ffn, d))
            shapes.update(_linear(f"{p}.fc2", d, ffn))
            shapes.update(_layer_norm(f"{p}.final_layer_norm", d))
        shapes.update(_layer_norm(f"{side}.layernorm_embedding", d))
    if head == "lm":
        shapes["lm_head.weight"] = (v, d)
    elif head == "seq_cls":
        shapes.update(_linear("classification_head.dense", d, d))
        shapes.update(_linear("classification_head.out_proj", config.num_labels, d))
    elif head == "qa":
        shapes.update(_linear("qa_outputs", 2, d))  # HF forces num_labels = 2 (start, end) for QA
    return shapes


def tied_keys(config: LEDConfig, head: str) -> tuple[str, ...]:
    """Names that are one array: the token embeddings, plus lm_head when tie_word_embeddings."""
    config = _check_head(head, config)
    if head == "lm" and config.tie_word_embeddings:
        return EMBEDDING_KEYS + ("lm_head.weight",)
    return EMBEDDING_KEYS


# -- flatten / unflatten ----------------------------------------------------------------------
def flatten(tree, prefix: str = "") -> dict[str, np.ndarray]:
    """Nested dict/list tree -> {"a.b.0.c": array}; tied arrays appear under every name."""
    out = {}
    items: Iterable[tuple[str, Any]]
    if isinstance(tree, dict):
        items = tree.items()
    elif isinstance(tree, (list, tuple)):
        items = ((str(i), v) for i, v in enumerate(tree))
    else:
        return {prefix: tree}
    for key, value in items:
        key = str(key)
        if not key or "." in key:
            raise ValueError(f"parameter tree key {key!r} under {prefix or 'the root'!r} is empty or contains '.'")
        out.update(flatten(value, f"{prefix}.{key}" if prefix else key))
    return out


def unflatten(flat: dict[str, np.ndarray]):
    """{"a.b.0.c": array} -> nested tree; numeric parts become list indices (0..n-1, no gaps)."""
    root: dict = {}
    for name, value in flat.items():
        parts = name.split(".")
        if not all(parts):
            raise ValueError(f"parameter name {name!r} has an empty part")
        node = root
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise ValueError(f"parameter name {name!r} extends {'.'.join(parts[: i + 1])!r}, which is a tensor")
            node = child
        if parts[-1] in node:
            raise ValueError(f"parameter name {name!r} clashes with another name")
        node[parts[-1]] = value

    def listify(node, path):
        if not isinstance(node, dict):
            return node
        if node and all(k.isdigit() for k in node):
            idx = sorted(int(k) for k in node)
            if idx != list(range(len(idx))):
                raise ValueError(f"parameter indices under {path!r} are {idx}, expected 0..{len(idx) - 1}")
            return [listify(node[str(i)], f"{path}.{i}") for i in idx]
        return {k: listify(v, f"{path}.{k}" if path else k) for k, v in node.items()}

    return listify(root, "")


# -- checking a tree against a config -------------------------------------------------------
def _check_flat(flat: dict[str, np.ndarray], config: LEDConfig, head: str, source: str) -> None:
    expected = parameter_shapes(config, head)
    missing = [k for k in expected if k not in flat]
    unexpected = sorted(k for k in flat if k not in expected)
    mismatched = [
        f"{k}: got {tuple(np.shape(flat[k]))}, expected {expected[k]}"
        for k in expected
        if k in flat and tuple(np.shape(flat[k])) != expected[k]
    ]

    def listed(items, sep, most=8):  # a few names, then a count: one readable line even for a wrong config
        more = f"{sep}... and {len(items) - most} more" if len(items) > most else ""
        return sep.join(items[:most]) + more

    problems = []
    if missing:
        problems.append(f"missing keys: {listed(missing, ', ')}")
    if unexpected:
        problems.append(f"unexpected keys: {listed(unexpected, ', ')}")
    if mismatched:
        problems.append(f"shape mismatches: {listed(mismatched, '; ')}")
    if problems:
        raise ValueError(
            f"{source} does not match {HEAD_CLASSES[head]} with this config "
            f"({len(missing)} missing, {len(unexpected)} unexpected, {len(mismatched)} mismatched): "
            + " | ".join(problems)
        )


def check_params(params, config: LEDConfig, head: str) -> None:
    """ValueError naming every missing/unexpected key and shape mismatch of a tree vs a config."""
    _check_flat(flatten(params), config, head, "parameter tree")


# -- random init ------------------------------------------------------------------------------
def init_params(config: LEDConfig, head: str, seed: int = 0, dtype=np.float32):
    """Deterministic random tree for ``config``/``head``; every parameter non-trivial.

    Linear weights ~ N(0, 1/fan_in) so activations stay O(1) at any size; biases, LayerNorm
    biases and ``final_logits_bias`` ~ N(0, 0.1^2); LayerNorm gains ~ 1 + N(0, 0.1^2);
    embeddings ~ N(0, 0.5^2). Values are drawn in float64 in ``parameter_shapes`` order, so
    float32 and float64 trees from one seed agree to float32 rounding.
    """
    config = as_config(config)
    dtype = _check_dtype(dtype)
    rng = np.random.default_rng(seed)
    tied = tied_keys(config, head)
    shapes = parameter_shapes(config, head)
    sizes = [math.prod(shape) for name, shape in shapes.items() if name not in tied[1:]]
    check_allocation(
        sum(sizes) * np.dtype(dtype).itemsize + max(sizes) * 8,
        f"random init of {HEAD_CLASSES[head]} (d_model={config.d_model}, vocab_size={config.vocab_size}, "
        f"{config.encoder_layers}+{config.decoder_layers} layers)",
    )
    flat: dict[str, np.ndarray] = {}
    for name, shape in shapes.items():
        if name in tied and name != tied[0]:
            flat[name] = flat[tied[0]]
            continue
        x = rng.standard_normal(shape)
        if "embed" in name or name == "shared.weight":
            x = 0.5 * x
        elif "layer_norm" in name or "layernorm" in name:
            x = 0.1 * x + (1.0 if name.endswith(".weight") else 0.0)
        elif name.endswith(".weight") and len(shape) == 2:
            x = x / np.sqrt(shape[1])
        else:
            x = 0.1 * x
        flat[name] = x.astype(dtype)
    return unflatten(flat)


def _weights_files(directory: str):
    """(kind, files, index) of the weights in ``directory``; safetensors preferred like HF.
    ``index`` is (index_path, weight_map) for a sharded checkpoint, else None."""

    def join(n):
        return os.path.join(directory, n)

    if os.path.isfile(join(SAFE_WEIGHTS_NAME)):
        return "safetensors", [join(SAFE_WEIGHTS_NAME)], None
    for index_name, kind in ((SAFE_WEIGHTS_INDEX_NAME, "safetensors"), (WEIGHTS_INDEX_NAME, "torch")):
        if os.path.isfile(join(index_name)):
            files, weight_map = _read_index(join(index_name))
            return kind, files, (join(index_name), weight_map)
    if os.path.isfile(join(WEIGHTS_NAME)):
        return "torch", [join(WEIGHTS_NAME)], None
    raise FileNotFoundError(
        f"no weights in {directory}: expected {SAFE_WEIGHTS_NAME}, {SAFE_WEIGHTS_INDEX_NAME}, "
        f"{WEIGHTS_NAME} or {WEIGHTS_INDEX_NAME}"
    )


def _read_index(index_path: str):
    """(shard paths, weight_map) of a sharded checkpoint's index JSON."""
    index = read_json(index_path, "sharded checkpoint index")
    weight_map = index.get("weight_map")
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise ValueError(f"{index_path}: expected a 'weight_map' object mapping tensor names to shard files")
    directory = os.path.dirname(index_path)
    shards = []
    for shard in sorted(set(weight_map.values())):
        # Shards live next to the index: no directories, so an index cannot point elsewhere.
        if os.path.basename(shard) != shard or shard in (".", ".."):
            raise ValueError(f"{index_path}: shard name {shard!r} must be a plain file name")
        full = os.path.join(directory, shard)
        if not os.path.isfile(full):
            raise FileNotFoundError(f"{index_path}: shard {shard} not found in {directory}")
        shards.append(full)
    return shards, weight_map


def _load_torch_file(path: str) -> dict[str, np.ndarray]:
    # torch-free: a restricted unpickler that rebuilds only tensors (no code from the file runs)
    return torch_pickle.load(path)


def load_state_dict(path) -> dict[str, np.ndarray]:
    """The raw HF state_dict (HF names, file dtypes; bf16 as float32) of a checkpoint directory
    or of one weights file (.safetensors, .bin, or a sharded index .json)."""
    path = os.fspath(path)
    index = None
    if os.path.isdir(path):
        kind, files, index = _weights_files(path)
    elif os.path.isfile(path):
        if path.endswith(".json"):
            files, weight_map = _read_index(path)
            index = (path, weight_map)
            kind = "safetensors" if all(f.endswith(".safetensors") for f in files) else "torch"
        else:
            files, kind = [path], ("safetensors" if path.endswith(".safetensors") else "torch")
    else:
        raise FileNotFoundError(f"checkpoint not found: {path}")
    state: dict[str, np.ndarray] = {}
    for file in files:
        part = st.load_file(file) if kind == "safetensors" else _load_torch_file(file)
        clash = sorted(set(part) & set(state))
        if clash:
            raise ValueError(f"{file}: tensors {', '.join(clash)} also appear in another shard")
        state.update(part)
    if index is not None:
        index_path, weight_map = index
        if set(weight_map) != set(state):
            raise ValueError(
                f"{index_path}: index and shards disagree: in the index only "
                f"{sorted(set(weight_map) - set(state))}, in the shards only {sorted(set(state) - set(weight_map))}"
            )
    return state


# -- loading ----------------------------------------------------------------------------------
def params_from_state_dict(
    state: dict[str, np.ndarray], config: LEDConfig, head: str, dtype=np.float32, source: str = "checkpoint"
):
    """HF state_dict (any LED class, with or without ``led.``) -> parameter tree for ``head``.

    Other heads' keys are dropped (like HF); tied copies may be present or absent but must agree;
    a missing ``final_logits_bias`` is zeros (HF's _keys_to_ignore_on_load_missing). Anything else
    missing, unexpected or misshaped is one ValueError naming all of it.
    """
    config = _check_head(head, config)
    dtype = _check_dtype(dtype)
    flat: dict[str, np.ndarray] = {}
    for name, value in state.items():
        if not isinstance(name, str):
            raise TypeError(f"{source}: state_dict keys must be str, got {name!r}")
        key = name[len(PREFIX) :] if name.startswith(PREFIX) else name
        if key in flat:
            raise ValueError(f"{source}: {key!r} appears both with and without the {PREFIX!r} prefix")
        flat[key] = value if isinstance(value, np.ndarray) else np.asarray(value)
    for key in _ALL_HEAD_KEYS - set(HEAD_KEYS[head]):
        flat.pop(key, None)
    tied = tied_keys(config, head)
    present = [k for k in tied if k in flat]
    for k in present[1:]:
        a, b = flat[present[0]], flat[k]
        if a.shape == b.shape and not np.array_equal(a, b):
            if k == "lm_head.weight":
                hint = "; if the checkpoint has a separate lm_head set tie_word_embeddings=false in config.json"
            else:
                hint = (
                    "; led-ref follows transformers 4.46, where the encoder/decoder embed_tokens are "
                    "always shared.weight (transformers >= 5 unties them when tie_word_embeddings=false; "
                    "checkpoints whose copies diverged are not supported)"
                )
            raise ValueError(f"{source}: {present[0]} and {k} are one tied parameter but hold different values{hint}")
    # Absent copies are the first present one (HF writes only shared.weight).
    if present:
        for k in tied:
            flat.setdefault(k, flat[present[0]])
    if head == "lm" and "final_logits_bias" not in flat:
        # Check every shape (vocab_size against the checkpoint's embeddings) before allocating
        # the zeros: a zero-stride view stands in for them, so a config.json claiming a huge
        # vocab_size is refused instead of allocated.
        _check_flat(
            {**flat, "final_logits_bias": np.broadcast_to(np.zeros((), dtype), (1, config.vocab_size))},
            config,
            head,
            source,
        )
        flat["final_logits_bias"] = np.zeros((1, config.vocab_size), dtype)
    _check_flat(flat, config, head, source)
    for name, value in flat.items():
        if value.dtype.kind != "f":
            raise ValueError(f"{source}: {name} has dtype {value.dtype}, expected a floating-point tensor")
    converted = {name: value.astype(dtype, copy=False) for name, value in flat.items()}
    for k in tied:
        converted[k] = converted[tied[0]]
    # Re-insert in HF order (parameter_shapes order) for readable trees.
    return unflatten({k: converted[k] for k in parameter_shapes(config, head)})


def load_params(path_or_dir, config: LEDConfig, head: str, dtype=np.float32):
    """Parameter tree of ``head`` from a checkpoint directory, hub id or weights file."""
    config = _check_head(head, config)
    dtype = _check_dtype(dtype)
    path = os.fspath(path_or_dir)
    if not os.path.exists(path):
        path = resolve_pretrained_dir(path)
    return params_from_state_dict(load_state_dict(path), config, head, dtype, source=path)


def load_checkpoint(path, head: str, dtype=np.float32) -> tuple[LEDConfig, dict]:
    """(config, params) of a checkpoint directory or hub id: what ``from_pretrained`` returns."""
    directory = resolve_pretrained_dir(path)
    config = LEDConfig.from_json_file(os.path.join(directory, CONFIG_NAME))
    return config, load_params(directory, config, head, dtype)


# -- saving -----------------------------------------------------------------------------------
def save_params(save_directory, params, head: str, tie_word_embeddings: bool | None = None) -> str:
    """Write ``model.safetensors`` with the HF names of ``head``'s class; returns its path.

    Tied (``tie_word_embeddings``; by default: lm_head, if any, is the shared array object): like
    HF 4.46 the token embeddings are written once, as ``shared.weight``. Untied: ``lm_head.weight``
    and also equal copies of ``encoder.embed_tokens``/``decoder.embed_tokens`` are written, because
    transformers >= 5 loads those as separate parameters then (4.46 accepts the equal copies).
    Embedding copies always equal ``shared.weight``. Metadata ``{"format": "pt"}``.
    """
    _check_head(head)
    flat = flatten(params)
    unexpected = sorted(k for k in flat if k in _ALL_HEAD_KEYS and k not in HEAD_KEYS[head])
    if unexpected:
        raise ValueError(f"params hold {', '.join(unexpected)}, which {HEAD_CLASSES[head]} does not have")
    if "shared.weight" not in flat:
        raise ValueError("params have no shared.weight")
    shared = flat["shared.weight"]
    for name, value in flat.items():
        if not isinstance(value, np.ndarray):
            raise TypeError(f"parameter {name} is a {type(value).__name__}, expected numpy.ndarray")
    if tie_word_embeddings is None:
        tie_word_embeddings = flat.get("lm_head.weight", shared) is shared
    tensors = {}
    for name, value in flat.items():
        if name in EMBEDDING_KEYS[1:] or (name == "lm_head.weight" and tie_word_embeddings):
            if value is not shared and not np.array_equal(value, shared):
                raise ValueError(
                    f"{name} differs from shared.weight, but LED ties them"
                    + (" (tie_word_embeddings is true)" if name == "lm_head.weight" else "")
                )
            if tie_word_embeddings:
                continue
        hf = name if (head == "base" or name in _ALL_HEAD_KEYS) else PREFIX + name
        tensors[hf] = value
    save_directory = os.fspath(save_directory)
    os.makedirs(save_directory, exist_ok=True)
    path = os.path.join(save_directory, SAFE_WEIGHTS_NAME)
    st.save_file(tensors, path, metadata={"format": "pt"})
    return path


def save_checkpoint(save_directory, config: LEDConfig, params, head: str) -> None:
    """``save_pretrained``: config.json (``architectures`` and ``torch_dtype`` set like HF) and
    model.safetensors. With ``config.tie_word_embeddings`` the tied arrays must be equal."""
    _check_head(head)
    check_params(params, config, head)
    flat = flatten(params)
    config = config.copy()
    config.architectures = [HEAD_CLASSES[head]]
    config.torch_dtype = {"float32": "float32", "float64": "float64"}.get(str(flat["shared.weight"].dtype))
    tie = bool(config.tie_word_embeddings)
    save_params(save_directory, params, head, tie_word_embeddings=tie)  # checks ties before writing
    config.save_pretrained(save_directory)

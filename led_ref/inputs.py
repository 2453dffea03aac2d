"""The one home of LED's input rules, used by the NumPy model, ``generate()``, the torch graph and the ONNX
Runtime backend alike (spec/SPEC.md#encoder, spec/SPEC.md#bad-input):

- mask kinds: ``attention_mask`` (1 token, 0 padding) merged with ``global_attention_mask`` (1 global, 0 local,
  -1 the tokenizer's padding value) into one kind per token, ``MaskKind`` PADDING / LOCAL / GLOBAL;
- pad-to-window: the encoder runs on the input padded to a multiple of the largest attention window;
- position ids: learned positions from 0 (no offset), the decoder continuing after its cache;
- ``shift_tokens_right``: decoder inputs from labels;
- the tensor input checks: every backend rejects the same bad input with the same exception and message.

``merge_masks`` and ``padded_length`` are plain arithmetic, so the torch graph calls them on tensors too.
"""

import enum

import numpy as np

__all__ = [
    "MaskKind",
    "GLOBAL_MASK_PAD",
    "ATTENTION_MASK_VALUES",
    "GLOBAL_ATTENTION_MASK_VALUES",
    "InputTypeError",
    "merge_masks",
    "padded_length",
    "position_ids",
    "decoder_masks_apply",
    "shift_tokens_right",
    "as_array",
    "token_ids",
    "mask",
    "encoder_inputs",
    "encoder_padded_length",
    "check_decoder_length",
    "encoder_hidden_states",
    "cross_attention_mask",
    "embeddings",
    "labels",
    "eos_positions",
    "flag",
]


class MaskKind(enum.IntEnum):
    """What a token is to Longformer self-attention (HF: attention_mask * (global_attention_mask + 1))."""

    PADDING = 0  # attends to nothing, is attended by nothing; its output row is zero
    LOCAL = 1  # attends to its window and to every global token
    GLOBAL = 2  # attends to every token and is attended by every token


GLOBAL_MASK_PAD = -1  # the value the tokenizer pads global_attention_mask with; merged with attention_mask 0
ATTENTION_MASK_VALUES = (0, 1)
GLOBAL_ATTENTION_MASK_VALUES = (GLOBAL_MASK_PAD, 0, 1)


class InputTypeError(TypeError, ValueError):
    """An input array of the wrong dtype. Both a TypeError and a ValueError: the NumPy model has always raised
    ValueError for it, generate() and the ONNX Runtime backend TypeError; one class keeps every caller working."""


# ----------------------------------------------------------------------------------------------------------------
# the rules


def merge_masks(attention_mask, global_attention_mask=None):
    """(B, S) ``MaskKind`` per token from the two masks (NumPy arrays or torch tensors of integers).

    ``attention_mask * (global_attention_mask + 1)``: a global flag on padding stays padding, and the
    tokenizer's -1 pad of global_attention_mask gives 0 (padding) whatever attention_mask says there.
    """
    if global_attention_mask is None:
        return attention_mask * MaskKind.LOCAL
    return attention_mask * (global_attention_mask + 1)


def padded_length(length, window):
    """The encoder's working length: ``length`` rounded up to a multiple of ``window`` (the largest attention
    window of the config). Python ints or 0-dim torch tensors (the torch graph computes it in the graph)."""
    return (length + (window - 1)) // window * window


def position_ids(length, past_length=0):
    """(length,) int64 learned-position ids: from ``past_length`` on (LED has no position offset)."""
    return np.arange(past_length, past_length + length, dtype=np.int64)


def decoder_masks_apply(length):
    """Whether a decoder call of ``length`` new tokens uses the causal mask and ``decoder_attention_mask``.

    HF's rule (modeling_led.LEDDecoder builds its 4-D mask only for more than one token): a single new token -- a
    cached generation step -- attends to every cached position, padded ones included, and decoder_attention_mask
    is then unused. Every backend follows it, so a continued generation equals an uninterrupted one."""
    return length > 1


def shift_tokens_right(input_ids, pad_token_id, decoder_start_token_id):
    """Decoder inputs from labels: shift right by one, start token first, -100 -> pad.

    spec/SPEC.md#shift-tokens-right.
    """
    if pad_token_id is None:
        raise ValueError("config.pad_token_id has to be defined.")
    ids = np.asarray(input_ids)
    if ids.ndim != 2:
        raise ValueError(f"input_ids must have shape (batch, sequence_length), got shape {ids.shape}")
    shifted = np.zeros_like(ids)
    shifted[:, 1:] = ids[:, :-1]
    shifted[:, 0] = decoder_start_token_id
    shifted[shifted == -100] = pad_token_id
    return shifted


# ----------------------------------------------------------------------------------------------------------------
# the checks: every bad input is a ValueError (InputTypeError for a wrong dtype) naming the argument and the limit


def as_array(name, value):
    """``np.asarray(value)``; a ragged nested list is a ValueError naming ``name``."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} must be a rectangular array (all rows the same length): {exc}") from None
    return arr


def token_ids(name, ids, vocab_size):
    """Token ids: a 2-D integer array (not bool), non-empty, every id in [0, vocab_size); returns int64."""
    arr = as_array(name, ids)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise InputTypeError(f"{name} must be an integer array of token ids, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (batch, sequence_length), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must have at least one row and one token, got shape {arr.shape}")
    if vocab_size is not None:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi >= vocab_size:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{name} contains id {bad}, outside the vocabulary [0, vocab_size={vocab_size})")
    return arr.astype(np.int64, copy=False)


def mask(name, value, shape, allowed=ATTENTION_MASK_VALUES):
    """A mask of ``shape`` holding only ``allowed`` values (integers or bool; floats holding those values are
    accepted, like HF); returns int64."""
    arr = as_array(name, value)
    if arr.dtype != bool and not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.isin(arr, allowed)):
            arr = arr.astype(np.int64)
        else:
            raise InputTypeError(f"{name} must hold integers in {set(allowed)}, got dtype {arr.dtype}")
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {arr.shape}")
    arr = arr.astype(np.int64)
    if arr.size and not np.all(np.isin(arr, allowed)):
        bad = arr[~np.isin(arr, allowed)].flat[0]
        raise ValueError(f"{name} values must be in {sorted(allowed)}, got {bad}")
    return arr


def encoder_inputs(input_ids, attention_mask=None, global_attention_mask=None, vocab_size=None):
    """Checked (input_ids, attention_mask, global_attention_mask) int64 (B, S); a missing attention_mask is all
    ones, a missing global_attention_mask stays None."""
    ids = token_ids("input_ids", input_ids, vocab_size)
    att = np.ones_like(ids) if attention_mask is None else mask("attention_mask", attention_mask, ids.shape)
    glob = None
    if global_attention_mask is not None:
        glob = mask("global_attention_mask", global_attention_mask, ids.shape, GLOBAL_ATTENTION_MASK_VALUES)
    return ids, att, glob


def encoder_padded_length(length, window, max_positions):
    """``padded_length(length, window)``; ValueError when the padded input has no position embeddings."""
    padded = padded_length(length, window)
    if padded > max_positions:
        raise ValueError(
            f"input length {length} (padded to {padded}, a multiple of attention_window={window}) exceeds "
            f"max_encoder_position_embeddings={max_positions}"
        )
    return padded


def check_decoder_length(past_length, length, max_positions):
    """ValueError when cached + new decoder positions exceed max_decoder_position_embeddings."""
    if past_length + length > max_positions:
        raise ValueError(
            f"decoder_input_ids: decoder length {past_length + length} (cached {past_length} + new {length}) exceeds "
            f"max_decoder_position_embeddings={max_positions}"
        )


def encoder_hidden_states(value, batch, d_model):
    """The encoder output fed to the decoder: float (batch, length, d_model)."""
    arr = as_array("encoder_hidden_states", value)
    if arr.ndim != 3 or arr.shape[0] != batch or arr.shape[2] != d_model:
        raise ValueError(
            f"encoder_hidden_states must have shape (batch={batch}, length, d_model={d_model}), got {arr.shape}"
        )
    if not np.issubdtype(arr.dtype, np.floating):
        raise InputTypeError(f"encoder_hidden_states must be a float array, got dtype {arr.dtype}")
    return arr


def cross_attention_mask(value, hidden_shape):
    """The encoder's attention_mask as the decoder's cross-attention mask: (batch, length) of
    encoder_hidden_states (``hidden_shape``), values in {0, 1}; returns int64."""
    shape = tuple(hidden_shape[:2])
    arr = as_array("attention_mask", value)
    if arr.shape != shape:
        raise ValueError(
            f"attention_mask must have shape {shape}, the (batch, length) of encoder_hidden_states "
            f"{tuple(hidden_shape)}, got {arr.shape}"
        )
    return mask("attention_mask", arr, shape)


def embeddings(name, value, d_model, dtype):
    """``inputs_embeds``-style input: float (batch > 0, length > 0, d_model), cast to ``dtype``."""
    arr = as_array(name, value)
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"{name} must be a float array, got dtype {arr.dtype}")
    if arr.ndim != 3 or arr.shape[-1] != d_model or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must have shape (batch>0, length>0, d_model={d_model}), got {arr.shape}")
    return arr.astype(dtype, copy=False)


def labels(name, value, shape, n_classes, ignore_index=-100):
    """Integer class labels of ``shape`` in [0, n_classes) or ``ignore_index``; returns int64."""
    arr = as_array(name, value)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be an integer array, got dtype {arr.dtype}")
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {arr.shape}")
    bad = (arr != ignore_index) & ((arr < 0) | (arr >= n_classes))
    if np.any(bad):
        raise ValueError(f"{name} contains {arr[bad].flat[0]}, outside [0, {n_classes}) and not {ignore_index}")
    return arr.astype(np.int64)


def eos_positions(input_ids, eos_token_id):
    """(B,) position of each row's last eos token, where sequence classification pools (HF 4.x): every row must
    hold the same number (>= 1) of eos tokens."""
    eos = input_ids == eos_token_id
    counts = eos.sum(axis=1)
    if np.any(counts != counts[0]):
        raise ValueError("All examples must have the same number of <eos> tokens.")
    if counts[0] == 0:
        raise ValueError(f"input_ids has no <eos> token (eos_token_id={eos_token_id}) to pool at")
    return eos.shape[1] - 1 - np.argmax(eos[:, ::-1], axis=1)


def flag(name, value, default):
    """A boolean switch (bool, 0/1 or None for ``default``)."""
    if value is None:
        return bool(default)
    if not isinstance(value, (bool, np.bool_, int, np.integer)) or value not in (0, 1):
        raise TypeError(f"{name} must be a bool or None, got {value!r}")
    return bool(value)

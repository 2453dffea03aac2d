"""LED's math written plainly: read this first (spec/SPEC.md#forward-pass is the normative text).

The whole forward pass, top to bottom: the pieces (activations, linear, layer norm, softmax), the encoder
(Longformer self-attention, the encoder layer, the stack with its embeddings), the decoder (HF's additive masks,
dense attention with the key/value cache, cross-attention, the decoder layer, the stack), the base model and the
three heads (LM, sequence classification, question answering).

Nothing here is tuned. Longformer self-attention is a masked softmax over a full S x S score matrix, one query at
a time; decoder attention is one dense softmax over all keys; activations are evaluated element by element with
Python's ``math``; layer norm and the linear layers are their formulas. The tuned code (``led_ref.attention``:
blockwise windows, O(S x window) memory, reassociated global rows, stacked decoding-step GEMVs;
``led_ref.activations``: a fast float32 GELU; ``led_ref.model``: row chunks on a thread pool) is tested equal to
these definitions (tests/unit/test_attention.py, tests/unit/test_model.py, tests/unit/test_model_reference.py)
on random shapes, windows, masks, global sets, caches and heads.

What is not here: input checks and error messages (``led_ref.inputs``, applied by ``led_ref.model``), the
``inputs_embeds`` path, losses and the HF-shaped output classes. The input *rules* (mask merge, pad-to-window,
position ids, shift right, the eos to pool at) are imported from ``led_ref.inputs``, their one home.

Shapes: B batch, S encoder length, T new decoder tokens, P cached decoder tokens, D d_model, H heads, hd = D / H,
V vocabulary. A parameter dict ``p`` holds HF's names (see ``led_ref.weights``); linear weights are (out, in).
Everything is computed in the dtype of the parameters (the tests use float64).
"""

import math

import numpy as np

from .inputs import (
    MaskKind,
    decoder_masks_apply,
    eos_positions,
    merge_masks,
    padded_length,
    position_ids,
    shift_tokens_right,
)

__all__ = [
    "ACTIVATIONS",
    "linear",
    "layer_norm",
    "softmax",
    "longformer_self_attention",
    "encoder_layer",
    "encoder",
    "causal_self_attention_bias",
    "cross_attention_bias",
    "decoder_attention",
    "decoder_layer",
    "decoder",
    "led_model",
    "lm_logits",
    "sequence_classification_logits",
    "question_answering_logits",
]


def _elementwise(f):
    def apply(x):
        x = np.asarray(x, dtype=np.float64)
        return np.array([f(float(v)) for v in x.ravel()], dtype=np.float64).reshape(x.shape)

    apply.__doc__ = f.__doc__
    return apply


def _sigmoid(v):
    return 1.0 / (1.0 + math.exp(-v)) if v >= 0 else math.exp(v) / (1.0 + math.exp(v))


def _gelu(v):
    """x Phi(x) = 0.5 x (1 + erf(x / sqrt 2))."""
    return 0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0)))


def _gelu_tanh(v):
    return 0.5 * v * (1.0 + math.tanh(math.sqrt(2.0 / math.pi) * (v + 0.044715 * v**3)))


# HF's ACT2FN names -> the definition, in float64, one element at a time (spec/SPEC.md#activations)
ACTIVATIONS = {
    name: _elementwise(f)
    for name, f in {
        "gelu": _gelu,
        "gelu_python": _gelu,
        "gelu_new": _gelu_tanh,
        "gelu_pytorch_tanh": _gelu_tanh,
        "gelu_accurate": _gelu_tanh,
        "gelu_fast": lambda v: 0.5 * v * (1.0 + math.tanh(v * 0.7978845608 * (1.0 + 0.044715 * v * v))),
        "quick_gelu": lambda v: v * _sigmoid(1.702 * v),
        "gelu_10": lambda v: min(max(_gelu(v), -10.0), 10.0),
        "laplace": lambda v: 0.5 * (1.0 + math.erf((v - 0.707107) / (0.282095 * math.sqrt(2.0)))),
        "leaky_relu": lambda v: v if v >= 0 else 0.01 * v,
        "linear": lambda v: v,
        "mish": lambda v: v * math.tanh(math.log1p(math.exp(-abs(v))) + max(v, 0.0)),  # x tanh(softplus(x))
        "relu": lambda v: max(v, 0.0),
        "relu2": lambda v: max(v, 0.0) ** 2,
        "relu6": lambda v: min(max(v, 0.0), 6.0),
        "sigmoid": _sigmoid,
        "silu": lambda v: v * _sigmoid(v),
        "swish": lambda v: v * _sigmoid(v),
        "tanh": math.tanh,
    }.items()
}


def linear(p, x):
    """y = x W^T + b: x (..., in) -> (..., out)."""
    return x @ p["weight"].T + p["bias"]


def layer_norm(p, x, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * weight + bias over the last axis (biased variance); x (..., D) -> (..., D)."""
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * p["weight"] + p["bias"]


def softmax(scores, allowed=True):
    """Softmax over the last axis restricted to ``allowed`` keys (others get weight 0); scores (..., keys)."""
    s = np.where(allowed, scores, -np.inf)
    w = np.exp(s - s.max(-1, keepdims=True))
    return w / w.sum(-1, keepdims=True)


def longformer_self_attention(p, x, kind, window, n_heads):
    """LED encoder self-attention before the output projection (spec/SPEC.md#encoder-self-attention).

    p: ``self_attn.longformer_self_attn`` parameters; x (B, S, D); kind (B, S) ``MaskKind`` per token
    (led_ref.inputs.merge_masks); window: the full window w (each local token sees w / 2 tokens on each side).

    - a LOCAL token attends, through the local projections (query, key, value), to the LOCAL tokens within
      w / 2 positions of it and to every GLOBAL token;
    - a GLOBAL token attends to every non-PADDING token through the global projections (query_global,
      key_global, value_global);
    - a PADDING token's output row is zero.

    Returns (output (B, S, D), local probabilities (B, H, S, S), global-row probabilities (B, H, S, S)), with
    probs[b, h, i, j] the weight of key j for query i (zero rows for tokens of the other kinds).
    """
    bsz, seq, dim = x.shape
    hd = dim // n_heads

    def heads(name):  # (B, S, D) -> (B, H, S, hd)
        return linear(p[name], x).reshape(bsz, seq, n_heads, hd).transpose(0, 2, 1, 3)

    q, k, v = heads("query") / math.sqrt(hd), heads("key"), heads("value")
    qg, kg, vg = heads("query_global") / math.sqrt(hd), heads("key_global"), heads("value_global")
    out = np.zeros((bsz, n_heads, seq, hd))
    local_p = np.zeros((bsz, n_heads, seq, seq))
    global_p = np.zeros((bsz, n_heads, seq, seq))
    pos = np.arange(seq)
    for b in range(bsz):
        for i in range(seq):
            if kind[b, i] == MaskKind.LOCAL:
                in_window = (kind[b] == MaskKind.LOCAL) & (np.abs(pos - i) <= window // 2)
                w = softmax(np.einsum("hd,hsd->hs", q[b, :, i], k[b]), in_window | (kind[b] == MaskKind.GLOBAL))
                local_p[b, :, i] = w
                out[b, :, i] = np.einsum("hs,hsd->hd", w, v[b])
            elif kind[b, i] == MaskKind.GLOBAL:
                w = softmax(np.einsum("hd,hsd->hs", qg[b, :, i], kg[b]), kind[b] != MaskKind.PADDING)
                global_p[b, :, i] = w
                out[b, :, i] = np.einsum("hs,hsd->hd", w, vg[b])
    return out.transpose(0, 2, 1, 3).reshape(bsz, seq, dim), local_p, global_p


def encoder_layer(p, x, kind, window, n_heads, activation="gelu"):
    """Post-LN encoder layer (spec/SPEC.md#encoder-layer): LN(x + Out(A(x))), then LN(x + fc2(act(fc1(x)))).

    x (B, S, D), kind (B, S) -> (B, S, D).
    """
    attn, _, _ = longformer_self_attention(p["self_attn"]["longformer_self_attn"], x, kind, window, n_heads)
    x = layer_norm(p["self_attn_layer_norm"], x + linear(p["self_attn"]["output"], attn))
    return layer_norm(p["final_layer_norm"], x + linear(p["fc2"], ACTIVATIONS[activation](linear(p["fc1"], x))))


def encoder(params, config, input_ids, attention_mask=None, global_attention_mask=None):
    """The LED encoder (spec/SPEC.md#encoder): input_ids (B, S) -> last hidden state (B, S, D).

    attention_mask (B, S) in {0, 1} (default all 1), global_attention_mask (B, S) in {-1, 0, 1} (default none).
    The input is padded on the right to a multiple of the largest window (pad ids, kind PADDING), embedded with
    learned positions from 0 and layer-normed, run through the layers (layer l with its own window), and cut back.
    """
    enc = params["encoder"]
    bsz, seq = input_ids.shape
    if attention_mask is None:
        attention_mask = np.ones((bsz, seq), np.int64)
    kind = merge_masks(attention_mask, global_attention_mask)  # (B, S) MaskKind
    windows = config.layer_attention_windows()
    pad = padded_length(seq, max(windows)) - seq
    ids = np.pad(input_ids, ((0, 0), (0, pad)), constant_values=config.pad_token_id)  # (B, S')
    kind = np.pad(kind, ((0, 0), (0, pad)), constant_values=MaskKind.PADDING)
    x = enc["embed_tokens"]["weight"][ids] + enc["embed_positions"]["weight"][position_ids(seq + pad)]
    x = layer_norm(enc["layernorm_embedding"], x)  # (B, S', D)
    for layer, window in zip(enc["layers"], windows):
        x = encoder_layer(layer, x, kind, window, config.encoder_attention_heads, config.activation_function)
    return x[:, :seq]


def causal_self_attention_bias(bsz, tgt, past_len, decoder_attention_mask=None, dtype=np.float64):
    """HF's additive decoder self-attention mask (spec/SPEC.md#decoder): (B, 1, T, P + T), or None when T = 1.

    Query i sits at position P + i. Only when T > 1: ``finfo.min`` on every key after the query (causal), plus
    ``finfo.min`` on every key whose decoder_attention_mask (B, P + T) is 0, so a masked future key gets
    finfo.min + finfo.min = -inf. A single new token (T = 1) attends to every cached key, decoder_attention_mask
    unused (HF semantics).
    """
    if not decoder_masks_apply(tgt):
        return None
    masked = np.finfo(dtype).min
    query_pos = past_len + np.arange(tgt)
    key_pos = np.arange(past_len + tgt)
    causal = np.where(key_pos[None, :] > query_pos[:, None], masked, 0.0).astype(dtype)  # (T, P + T)
    bias = np.broadcast_to(causal, (bsz, 1, tgt, past_len + tgt))
    if decoder_attention_mask is not None:
        with np.errstate(over="ignore"):  # finfo.min + finfo.min = -inf, as in HF
            bias = bias + np.where(decoder_attention_mask == 0, masked, 0.0).astype(dtype)[:, None, None, :]
    return bias


def cross_attention_bias(attention_mask, tgt, dtype=np.float64):
    """The encoder's attention_mask (B, S) as an additive cross-attention mask (B, 1, T, S): 0 where 1,
    ``finfo.min`` where 0, or None without a mask. A row with every key masked is then a uniform softmax."""
    if attention_mask is None:
        return None
    bias = np.where(attention_mask == 0, np.finfo(dtype).min, 0.0).astype(dtype)
    return np.broadcast_to(bias[:, None, None, :], (bias.shape[0], 1, tgt, bias.shape[1]))


def decoder_attention(p, x, n_heads, encoder_states=None, past=None, bias=None):
    """HF's LEDDecoderAttention, dense (spec/SPEC.md#decoder-attention): out_proj(softmax(q k^T + bias) v).

    p: ``self_attn`` or ``encoder_attn`` parameters; x (B, T, D) the queries' hidden states;
    q = (x Wq^T + bq) * hd^-0.5 (scaled after the projection, bias included).

    - self-attention (encoder_states None): k, v are projected from x and appended to the cached ``past``
      (k, v), each (B, H, P, hd): keys = P + T;
    - cross-attention (encoder_states (B, S, D)): k, v are projected from the encoder states, or, with a
      ``past`` (k, v), taken from it as they are: keys = S. A cached cross past may hold G rows, G dividing B
      (one per input, shared by its B / G consecutive beams, which share its mask too): row b reads past row
      b // (B / G).

    bias: additive (B, 1, T, keys) or None. Returns (output (B, T, D), probabilities (B, H, T, keys),
    present (k, v): what the cache holds after this call, (B or G, H, keys, hd) each).
    """
    bsz, tgt, dim = x.shape
    hd = dim // n_heads

    def heads(t):  # (B, L, D) -> (B, H, L, hd)
        return t.reshape(t.shape[0], t.shape[1], n_heads, hd).transpose(0, 2, 1, 3)

    q = heads(linear(p["q_proj"], x) * x.dtype.type(hd**-0.5))  # (B, H, T, hd)
    if encoder_states is None:
        k, v = heads(linear(p["k_proj"], x)), heads(linear(p["v_proj"], x))  # (B, H, T, hd)
        if past is not None:
            k, v = np.concatenate([past[0], k], axis=2), np.concatenate([past[1], v], axis=2)  # (B, H, P + T, hd)
    elif past is not None:
        k, v = past  # (G, H, S, hd)
    else:
        k, v = heads(linear(p["k_proj"], encoder_states)), heads(linear(p["v_proj"], encoder_states))
    beams = bsz // k.shape[0]
    k_rows, v_rows = np.repeat(k, beams, axis=0), np.repeat(v, beams, axis=0)  # (B, H, keys, hd)
    scores = q @ k_rows.transpose(0, 1, 3, 2)  # (B, H, T, keys)
    if bias is not None:
        with np.errstate(over="ignore"):
            scores = scores + bias
    probs = softmax(scores)
    out = (probs @ v_rows).transpose(0, 2, 1, 3).reshape(bsz, tgt, dim)  # (B, T, D)
    return linear(p["out_proj"], out), probs, (k, v)


def decoder_layer(p, x, n_heads, activation, self_bias=None, encoder_states=None, cross_bias=None, past=None):
    """Post-LN decoder layer (spec/SPEC.md#decoder-layer): x (B, T, D) -> (B, T, D).

    LN(x + SelfAttn(x)), then LN(x + CrossAttn(x, encoder_states)) (skipped without encoder states), then
    LN(x + fc2(act(fc1(x)))). past: the layer's cache (self k, self v[, cross k, cross v]) or None.
    Returns (x, present (self k, self v[, cross k, cross v]), self probabilities, cross probabilities or None).
    """
    self_past = None if past is None else past[:2]
    attn, self_probs, present = decoder_attention(p["self_attn"], x, n_heads, past=self_past, bias=self_bias)
    x = layer_norm(p["self_attn_layer_norm"], x + attn)
    cross_probs = None
    if encoder_states is not None:
        cross_past = past[2:] if past is not None and len(past) == 4 else None
        attn, cross_probs, cross_present = decoder_attention(
            p["encoder_attn"], x, n_heads, encoder_states=encoder_states, past=cross_past, bias=cross_bias
        )
        x = layer_norm(p["encoder_attn_layer_norm"], x + attn)
        present = present + cross_present
    x = layer_norm(p["final_layer_norm"], x + linear(p["fc2"], ACTIVATIONS[activation](linear(p["fc1"], x))))
    return x, present, self_probs, cross_probs


def decoder(
    params,
    config,
    decoder_input_ids,
    encoder_states=None,
    attention_mask=None,
    decoder_attention_mask=None,
    past=None,
):
    """The LED decoder with its key/value cache (spec/SPEC.md#decoder): decoder_input_ids (B, T) -> (B, T, D).

    encoder_states (B, S, D) with the encoder's attention_mask (B, S); decoder_attention_mask (B, P + T);
    past: one cache entry per layer (self k, self v, cross k, cross v), P positions cached, or None.
    Embeddings with learned positions P .. P + T - 1, layer-normed, then the layers.
    Returns (hidden (B, T, D), cache (one present per layer), self probabilities, cross probabilities).
    """
    dec = params["decoder"]
    bsz, tgt = decoder_input_ids.shape
    past_len = 0 if past is None else past[0][0].shape[2]
    n_heads = config.decoder_attention_heads
    dtype = dec["embed_tokens"]["weight"].dtype
    x = dec["embed_tokens"]["weight"][decoder_input_ids] + dec["embed_positions"]["weight"][position_ids(tgt, past_len)]
    x = layer_norm(dec["layernorm_embedding"], x)  # (B, T, D)
    self_bias = causal_self_attention_bias(bsz, tgt, past_len, decoder_attention_mask, dtype)
    cross_bias = None if encoder_states is None else cross_attention_bias(attention_mask, tgt, dtype)
    cache, self_attns, cross_attns = [], [], []
    for i, layer in enumerate(dec["layers"]):
        x, present, self_probs, cross_probs = decoder_layer(
            layer,
            x,
            n_heads,
            config.activation_function,
            self_bias,
            encoder_states,
            cross_bias,
            None if past is None else past[i],
        )
        cache.append(present)
        self_attns.append(self_probs)
        cross_attns.append(cross_probs)
    return x, tuple(cache), tuple(self_attns), tuple(cross_attns)


def led_model(
    params,
    config,
    input_ids,
    attention_mask=None,
    global_attention_mask=None,
    decoder_input_ids=None,
    decoder_attention_mask=None,
    past=None,
):
    """The base model, LEDModel (spec/SPEC.md#classes): encoder, then decoder over the encoder states.

    input_ids (B, S); decoder_input_ids (B, T), by default shift_tokens_right(input_ids)
    (spec/SPEC.md#shift-tokens-right). Cross-attention masks with the encoder's attention_mask (the global mask
    does not reach the decoder). Returns (decoder hidden (B, T, D), encoder hidden (B, S, D), cache).
    """
    if decoder_input_ids is None:
        decoder_input_ids = shift_tokens_right(input_ids, config.pad_token_id, config.decoder_start_token_id)
    encoder_states = encoder(params, config, input_ids, attention_mask, global_attention_mask)
    hidden, cache, _, _ = decoder(
        params, config, decoder_input_ids, encoder_states, attention_mask, decoder_attention_mask, past
    )
    return hidden, encoder_states, cache


def lm_logits(params, hidden):
    """The LM head (spec/SPEC.md#lm-head): decoder hidden (B, T, D) -> logits (B, T, V) =
    hidden lm_head^T + final_logits_bias (lm_head is the shared token embeddings unless tie_word_embeddings is
    false)."""
    return hidden @ params["lm_head"]["weight"].T + params["final_logits_bias"]


def sequence_classification_logits(params, config, hidden, input_ids):
    """The classification head (spec/SPEC.md#sequence-classification): decoder hidden (B, T, D) with T = S ->
    logits (B, num_labels) = out_proj(tanh(dense(h))) of each row's decoder state at its last eos of input_ids."""
    pooled = hidden[np.arange(hidden.shape[0]), eos_positions(input_ids, config.eos_token_id)]  # (B, D)
    head = params["classification_head"]
    return linear(head["out_proj"], np.tanh(linear(head["dense"], pooled)))


def question_answering_logits(params, hidden):
    """The span head (spec/SPEC.md#question-answering): decoder hidden (B, T, D) -> (start logits (B, T),
    end logits (B, T)), the two columns of qa_outputs(h)."""
    logits = linear(params["qa_outputs"], hidden)  # (B, T, 2)
    return logits[..., 0], logits[..., 1]

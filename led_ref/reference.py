"""LED's math written plainly: read this first (spec/SPEC.md#forward-pass is the normative text).

Nothing here is tuned. Longformer self-attention is a masked softmax over a full S x S score matrix, one query at
a time; activations are evaluated element by element with Python's ``math``; layer norm and the linear layers are
their formulas. The tuned code (``led_ref.attention``: blockwise windows, O(S x window) memory, reassociated global
rows; ``led_ref.activations``: a fast float32 GELU) is tested equal to these definitions (tests/unit/test_attention.py,
tests/unit/test_model.py) on random shapes, windows, masks and global sets.

Shapes: B batch, S length, D d_model, H heads, hd = D / H. A parameter dict ``p`` holds HF's names (see
``led_ref.weights``); linear weights are (out, in).
"""

import math

import numpy as np

from .inputs import MaskKind

__all__ = [
    "ACTIVATIONS",
    "linear",
    "layer_norm",
    "softmax",
    "longformer_self_attention",
    "encoder_layer",
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
    """y = x W^T + b."""
    return x @ p["weight"].T + p["bias"]


def layer_norm(p, x, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * weight + bias over the last axis (biased variance)."""
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * p["weight"] + p["bias"]


def softmax(scores, allowed):
    """Softmax over the last axis restricted to ``allowed`` keys (others get weight 0)."""
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
    """Post-LN encoder layer (spec/SPEC.md#encoder-layer): LN(x + Out(A(x))), then LN(x + fc2(act(fc1(x))))."""
    attn, _, _ = longformer_self_attention(p["self_attn"]["longformer_self_attn"], x, kind, window, n_heads)
    x = layer_norm(p["self_attn_layer_norm"], x + linear(p["self_attn"]["output"], attn))
    return layer_norm(p["final_layer_norm"], x + linear(p["fc2"], ACTIVATIONS[activation](linear(p["fc1"], x))))

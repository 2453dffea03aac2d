"""LED in torch, written to be exported to ONNX with dynamic batch, length and global count.

Module and parameter names are HF transformers' (``modeling_led.py``), so a state dict made
from led_ref's parameter tree loads with ``load_state_dict(strict=True)``: that is the
completeness check. The math is led_ref's (spec/SPEC.md#encoder-self-attention), restated
so that a traced graph has no data-dependent Python branch, no ``nonzero``-shaped tensor
and no ``as_strided``:

* padding to the window happens inside each layer, with a pad length computed in the graph;
* local attention is blockwise: blocks of w = window/2 queries against 3 key blocks
  (previous, own, next), built with reshapes and a static band mask;
* global attention uses x = max_b(#global tokens in row b) "slots" (x may be 0): slot s of
  row b holds that row's (s+1)-th global token; slots beyond a row's count are masked.

See spec/SPEC.md#onnx-export for the exported file layout.
"""

import math
from functools import partial

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint as _checkpoint

from led_ref import activations
from led_ref.config import layer_attention_windows as _attention_windows_rule
from led_ref.heads import ALL_HEAD_PARAMETERS, get_head
from led_ref.inputs import MaskKind, decoder_masks_apply, merge_masks, padded_length

from . import kernels

# Every activation of led_ref.activations (ACT2FN, the one table), in torch, with that module's constants;
# an alias (SAME_AS) is its target's function.
_A = activations
_TORCH_FUNCTIONS = {
    "gelu": lambda x: F.gelu(x),
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_fast": lambda x: 0.5 * x * (1.0 + torch.tanh(x * _A.GELU_FAST_SCALE * (1.0 + _A.GELU_TANH_CUBIC * x * x))),
    "quick_gelu": lambda x: x * torch.sigmoid(_A.QUICK_GELU_SCALE * x),
    "gelu_10": lambda x: torch.clamp(F.gelu(x), -_A.GELU_10_BOUND, _A.GELU_10_BOUND),
    "laplace": lambda x: 0.5 * (1.0 + torch.erf((x - _A.LAPLACE_MU) / (_A.LAPLACE_SIGMA * math.sqrt(2.0)))),
    "relu": F.relu,
    "relu2": lambda x: torch.square(F.relu(x)),
    "relu6": lambda x: torch.clamp(x, 0.0, _A.RELU6_BOUND),
    "leaky_relu": lambda x: F.leaky_relu(x, _A.LEAKY_RELU_SLOPE),
    "sigmoid": torch.sigmoid,
    "silu": F.silu,
    "mish": F.mish,
    "tanh": torch.tanh,
    "linear": lambda x: x,
}
ACTIVATIONS = {
    name: _TORCH_FUNCTIONS[_A.SAME_AS.get(name, name)]
    for name in _A.ACT2FN
    if _A.SAME_AS.get(name, name) in _TORCH_FUNCTIONS
}


def _cfg(config, name, default=None):
    value = config.get(name, default) if isinstance(config, dict) else getattr(config, name, default)
    return default if value is None else value


def layer_attention_windows(config):
    """Per-layer attention windows: led_ref.config's rule, for any config -- led_ref's LEDConfig, a
    ``transformers.LEDConfig`` (or led_ref.export.hf_models'), or a dict of the fields."""
    return _attention_windows_rule(_cfg(config, "attention_window", 512), int(_cfg(config, "encoder_layers")))


def _activation(config):
    name = _cfg(config, "activation_function", "gelu")
    if name not in ACTIVATIONS:
        raise ValueError(
            f"activation_function {name!r} has no torch graph, so this checkpoint cannot be exported "
            f"(exportable: {', '.join(sorted(ACTIVATIONS))})"
        )
    return ACTIVATIONS[name]


def _dropout(module, x, p):
    """HF's ``nn.functional.dropout(x, p, training=self.training)``; nothing in the graph in eval mode or at p=0,
    so the inference/ONNX path is unchanged (spec/SPEC.md#training)."""
    return F.dropout(x, p, True) if module.training and p > 0 else x


def _layer_dropped(module, p):
    """LayerDrop (``encoder_layerdrop``/``decoder_layerdrop``): skip the layer with probability p in training."""
    return module.training and p > 0 and bool(torch.rand([]) < p)


def check_exportable(config):
    """ValueError, before anything is built or written, for a config the torch graph cannot express."""
    _activation(config)
    layer_attention_windows(config)


def position_ids(ids_row, past_length=0):
    """(T,) positions past_length .. past_length + T - 1 of a (T,) row (only its length is read), computed in the
    graph (a cumsum keeps T dynamic); led_ref.inputs.position_ids is the rule."""
    return torch.cumsum(torch.ones_like(ids_row, dtype=torch.int64), 0) - 1 + past_length


def _shape(x, dim):
    """x.shape[dim] as a 0-dim int64 tensor, so arithmetic on it stays in the traced graph."""
    return torch._shape_as_tensor(x)[dim]


class LEDLearnedPositionalEmbedding(nn.Embedding):
    pass


class LEDEncoderSelfAttention(nn.Module):
    """Longformer self-attention: sliding window + global tokens (spec/SPEC.md#encoder-self-attention)."""

    heads_per_chunk = 1  # heads per local-attention group (see forward)
    recompute_heads = False  # set by gradient_checkpointing_enable(): per-group recompute in backward
    blocks_per_window = 2  # query blocks per one-sided window (see __init__)
    use_kernels = True  # eager calls run kernels.band_attention where it applies (False: the readable path)

    def __init__(self, config, layer_id):
        super().__init__()
        d = int(_cfg(config, "d_model"))
        self.num_heads = int(_cfg(config, "encoder_attention_heads"))
        if d % self.num_heads:
            raise ValueError(f"d_model={d} is not a multiple of encoder_attention_heads={self.num_heads}")
        self.head_dim = d // self.num_heads
        self.embed_dim = d
        self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.query_global, self.key_global, self.value_global = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.attention_dropout = float(_cfg(config, "attention_dropout", 0.0))  # HF: on local+global probs
        self.w = layer_attention_windows(config)[layer_id] // 2  # one-sided window
        self.max_window = max(layer_attention_windows(config))
        w = self.w
        # query blocks of c = w / k tokens (k the largest divisor of w up to blocks_per_window) see the
        # 2k + 1 key blocks around them: (2w + c) scores per query instead of 3w for c = w
        self.blocks = max(n for n in range(1, max(1, int(self.blocks_per_window)) + 1) if w % n == 0)
        c = w // self.blocks
        i = torch.arange(c)[:, None]
        j = torch.arange((2 * self.blocks + 1) * c)[None, :]
        # query i of a block sees key j of blocks [-k .. k] iff |(j - w) - i| <= w
        self.register_buffer("band", (j >= i) & (j <= i + 2 * w), persistent=False)

    def padded_length(self, L):
        """The working length for L tokens (a 0-dim tensor in the graph): the encoder's pad-to-window rule,
        then (a no-op whenever HF can run the config) up to a multiple of this layer's block w."""
        return padded_length(padded_length(L, self.max_window), self.w)

    def _split_heads(self, x):  # (B, L, D) -> (B, H, L, d)
        return x.reshape(x.shape[0], -1, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, h, is_local, is_masked, glob):
        """h (B, L, D); is_local/is_masked (B, L) bool; glob = (gidx, slot_valid, slot_of_pos, is_global)
        from ``global_slots``. Returns the attention output before the ``output`` projection, (B, L, D)."""
        gidx, slot_valid, slot_of_pos, is_global = glob
        w, H, d = self.w, self.num_heads, self.head_dim
        if self._inference_applies(h):
            return self._inference(h, is_local, is_masked, glob)

        q = self.query(h) / math.sqrt(d)
        k = self.key(h)
        v = self.value(h)
        # every query also sees the x global keys (local key/value projections at global positions)
        gi = gidx[:, :, None].expand(-1, -1, self.embed_dim)  # (B, x, D)
        kg, vg = torch.gather(k, 1, gi), torch.gather(v, 1, gi)  # (B, x, D)
        if self.use_kernels and kernels.band_attention_applies(
            q.dtype, q.device, self.attention_dropout, self.training
        ):
            out = kernels.band_attention(q, k, v, kg, vg, is_local, slot_valid, H, w)  # (B, L, D)
        else:
            out = self._blocked_attention(q, k, v, kg, vg, is_local, slot_valid)  # (B, L, D)
        # padding queries attend nowhere (HF zeroes their probabilities)
        out = out.masked_fill(is_masked[:, :, None], 0.0)
        if gidx.shape[1] == 0 and not kernels.exporting():
            return out  # no global token in the batch: as in HF, the global projections get no gradient (None)

        # global tokens attend to every unmasked token with their own projections
        qG = self._split_heads(self.query_global(torch.gather(h, 1, gi)) / math.sqrt(d))  # (B, H, x, d)
        og = torch.cat(self._global_rows(h, qG, is_masked), 2).transpose(1, 2)  # (B, x, H, d)
        og = og.reshape(og.shape[0], -1, self.embed_dim)  # (B, x, D)
        # scatter back by gathering from [slots..., dummy]; slot_of_pos == x for non-global tokens
        og = torch.cat([og, torch.zeros_like(h[:, :1])], 1)  # (B, x+1, D)
        og = torch.gather(og, 1, slot_of_pos[:, :, None].expand(-1, -1, self.embed_dim))  # (B, L, D)
        return torch.where(is_global[:, :, None], og, out)

    def _inference_applies(self, h):
        """Whether ``_inference`` computes this call: no autograd, the kernel applies, plain ``nn.Linear``
        projections (it reads their weights) and a length that the query blocks tile (the encoder's padding)."""
        plain = all(type(getattr(self, n)) is nn.Linear for n in ("query", "key", "value"))
        return (
            self.use_kernels
            and plain
            and not torch.is_grad_enabled()
            and h.dtype == self.query.weight.dtype
            and h.shape[1] % kernels.block_size(self.w) == 0
            and kernels.band_attention_applies(h.dtype, h.device, self.attention_dropout, self.training)
        )

    def _inference(self, h, is_local, is_masked, glob):
        """``forward`` under ``torch.no_grad()``: the same values with fewer passes over (B, L, D) tensors: the query
        scale inside its product, keys and values projected into their padded buffers, padding and global rows
        written in place into the attention output."""
        gidx, slot_valid, _, _ = glob
        w, H, d, D = self.w, self.num_heads, self.head_dim, self.embed_dim
        L = h.shape[1]
        q = kernels.scaled_linear(h, self.query, 1.0 / math.sqrt(d))  # (B, L, D)
        kpad, vpad = kernels.padded_linear(h, self.key, w), kernels.padded_linear(h, self.value, w)  # (B, L + 2w, D)
        gi = gidx[:, :, None].expand(-1, -1, D)  # (B, x, D)
        kg, vg = torch.gather(kpad[:, w : w + L], 1, gi), torch.gather(vpad[:, w : w + L], 1, gi)  # (B, x, D)
        out = kernels.band_attention_inference(q, kpad, vpad, kg, vg, is_local, slot_valid, H, w)  # (B, L, D)
        if is_masked.any():  # padding queries attend nowhere (HF zeroes their probabilities)
            out.masked_fill_(is_masked[:, :, None], 0.0)
        if gidx.shape[1] == 0:
            return out
        qG = self._split_heads(self.query_global(torch.gather(h, 1, gi)) / math.sqrt(d))  # (B, H, x, d)
        og = torch.cat(self._global_rows(h, qG, is_masked), 2).transpose(1, 2).reshape(h.shape[0], -1, D)  # (B, x, D)
        b, s = slot_valid.nonzero(as_tuple=True)
        out[b, gidx[b, s]] = og[b, s]  # each row's global tokens get their global rows
        return out

    def _blocked_attention(self, q, k, v, kg, vg, is_local, slot_valid):
        """The readable local attention (what ``kernels.band_attention`` computes; the exported graph's): q, k, v
        (B, L, D), kg/vg (B, x, D) the global keys/values -> (B, L, D)."""
        w, H, d = self.w, self.num_heads, self.head_dim
        L, length = _shape(q, 1), q.shape[1]
        kg = self._split_heads(kg)[:, :, None]  # (B, H, 1, x, d)
        vg = self._split_heads(vg)[:, :, None]

        # pad inside the graph to the encoder's pad-to-window length (led_ref.inputs.padded_length, as the NumPy
        # encoder), a multiple of the block size c: gather with clamped positions; padded keys are masked below
        # and padded queries are dropped at the end
        kb, c = self.blocks, w // self.blocks
        nb = self.padded_length(L) // c
        pos = torch.arange(nb * c, device=q.device)  # (Lp,)
        in_range = pos < L
        src = torch.minimum(pos, L - 1)
        q, k, v = (t.index_select(1, src) for t in (q, k, v))  # (B, Lp, D)
        key_ok = is_local.index_select(1, src) & in_range  # (B, Lp)

        kok = _around(key_ok.reshape(key_ok.shape[0], -1, c), 1, kb)  # (B, nb, (2kb+1)c)
        valid = self.band & kok[:, None, :, None, :]  # (B, 1, nb, c, (2kb+1)c)
        # each block's keys are [x global keys, (2kb+1)c window keys]: one matmul and one softmax, no
        # concatenation of (large) score tensors; invalid entries get the additive mask_bias
        glob_ok = slot_valid[:, None, None, None, :] & torch.ones_like(valid[..., :1])  # (B, 1, nb, c, x)
        bias = mask_bias(~torch.cat([glob_ok, valid], -1), q.dtype)  # (B, 1, nb, c, x + (2kb+1)c)
        # Heads are processed in groups of `heads_per_chunk` (a static unrolled loop): the score
        # and probability tensors (B, hc, nb, c, x + (2kb+1)c) are then H / hc times smaller than for all
        # heads at once (806 MB -> 67 MB per head at 16k tokens, led-base), which keeps the working
        # set of the exported graph linear in length with a small constant (spec/DESIGN.md#lean-encoder).
        hc = max(1, min(H, int(self.heads_per_chunk)))
        # With gradient checkpointing each head group is recomputed once more in backward (a nested
        # checkpoint), so a layer's recompute holds one group's probabilities at a time instead of all H
        # (at 4,096 tokens, led-base: 21 MB instead of 252 MB); same values, so the same gradients.
        nested = self.recompute_heads and self.training and torch.is_grad_enabled()
        outs = []
        for h0 in range(0, H, hc):
            h1 = min(H, h0 + hc)
            if nested:
                outs.append(_checkpoint(self._local_heads, q, k, v, kg, vg, bias, h0, h1, c, use_reentrant=False))
            else:
                outs.append(self._local_heads(q, k, v, kg, vg, bias, h0, h1, c))
        out = torch.cat(outs, 1) if len(outs) > 1 else outs[0]  # (B, H, nb, c, d)
        out = out.reshape(out.shape[0], H, -1, d).transpose(1, 2)  # (B, Lp, H, d)
        out = out.reshape(out.shape[0], -1, self.embed_dim).narrow(1, 0, length)  # (B, L, D)
        return out

    def _local_heads(self, q, k, v, kg, vg, bias, h0, h1, c):
        """Local attention output (B, h1 - h0, nb, c, d) of heads h0 .. h1 - 1: q, k, v (B, Lp, D), kg/vg the
        global keys/values (B, H, 1, x, d), bias (B, 1, nb, c, x + (2kb+1)c)."""
        d = self.head_dim

        def head_blocks(x):  # (B, Lp, D) -> (B, h1 - h0, nb, c, d): this group's heads only
            x = x[:, :, h0 * d : h1 * d].reshape(x.shape[0], -1, h1 - h0, d).transpose(1, 2)
            return x.reshape(x.shape[0], h1 - h0, -1, c, d)

        qb = head_blocks(q)
        nblk = qb[:, :, :, :1, :1]  # (B, hc, nb, 1, 1): broadcasts the global keys over blocks
        kx = torch.cat(
            [kg[:, h0:h1] + torch.zeros_like(nblk), _around(head_blocks(k), 2, self.blocks)], 3
        )  # (B, hc, nb, x+(2kb+1)c, d)
        vx = torch.cat([vg[:, h0:h1] + torch.zeros_like(nblk), _around(head_blocks(v), 2, self.blocks)], 3)
        probs = attention_probs(torch.matmul(qb, kx.transpose(-1, -2)), bias)  # (B, hc, nb, c, x + (2kb+1)c)
        probs = _dropout(self, probs, self.attention_dropout)
        return torch.matmul(probs, vx)  # (B, hc, nb, c, d)

    def _global_rows(self, h, qG, is_masked):
        """Outputs of the x global queries, as [reassociated rows, direct rows] (one of them empty).

        With few global tokens (H x < D + x) the key_global/value_global projections of all L tokens
        (4 L D^2 FLOPs) are not formed: q . (Wk_h h_j + bk_h) = (Wk_h^T q) . h_j + q . bk_h and
        sum_j p_j (Wv_h h_j + bv_h) = Wv_h (sum_j p_j h_j) + bv_h sum_j p_j (as led_ref does,
        spec/SPEC.md#encoder-self-attention). The choice is data-dependent, so instead of a branch
        both forms are in the graph and the unused one runs on empty tensors (0 slots / 0 rows)."""
        H, d, D = self.num_heads, self.head_dim, self.embed_dim
        masked = mask_bias(is_masked[:, None, None, :], h.dtype)  # (B, 1, 1, L)
        x, L = _shape(qG, 2), _shape(h, 1)
        zero = torch.zeros_like(x)
        # (the reassociated form reads the weights: plain nn.Linear projections only, not e.g. a PEFT wrapper)
        plain = type(self.key_global) is nn.Linear and type(self.value_global) is nn.Linear
        reassoc = x * H < D + x if plain else torch.zeros_like(x, dtype=torch.bool)
        n_re = torch.where(reassoc, x, zero)
        n_direct, rows = torch.where(reassoc, zero, x), torch.where(reassoc, zero, L)

        if plain:
            q = qG.index_select(2, torch.arange(n_re, device=h.device))  # (B, H, x_re, d)
            wk = self.key_global.weight.reshape(H, d, D)
            # the heads' rows stacked, (B, H x_re, D) against h (B, L, D): h is not broadcast over heads (whose
            # backward would form an (H, D, L) product per head before summing); sizes stay symbolic (x_re may be
            # 0 in an exported graph)
            qk = torch.matmul(q, wk).flatten(1, 2)  # (B, H x_re, D)
            s = torch.matmul(qk, h.transpose(-1, -2)).unflatten(1, (H, -1))  # (B, H, x_re, L)
            s = s + torch.matmul(q, self.key_global.bias.reshape(H, d, 1))
            p = _dropout(self, attention_probs(s, masked), self.attention_dropout)
            wv = self.value_global.weight.reshape(H, d, D).transpose(-1, -2)  # (H, D, d)
            ph = torch.matmul(p.flatten(1, 2), h).unflatten(1, (H, -1))  # (B, H, x_re, D)
            out_re = torch.matmul(ph, wv)  # (B, H, x_re, d)
            out_re = out_re + p.sum(-1, keepdim=True) * self.value_global.bias.reshape(H, 1, d)
        else:
            out_re = qG.narrow(2, 0, 0)  # (B, H, 0, d): every row is direct

        q = qG.index_select(2, torch.arange(n_direct, device=h.device))  # (B, H, x_direct, d)
        idx = torch.arange(rows, device=h.device)
        hs = h.index_select(1, idx)  # (B, L or 0, D)
        kG, vG = self._split_heads(self.key_global(hs)), self._split_heads(self.value_global(hs))
        s = torch.matmul(q, kG.transpose(-1, -2))  # (B, H, x_direct, L)
        p = attention_probs(s, mask_bias(is_masked.index_select(1, idx)[:, None, None, :], h.dtype))
        out_direct = torch.matmul(_dropout(self, p, self.attention_dropout), vG)  # (B, H, x_direct, d)
        return out_re, out_direct


# -- the float16 mask rule (spec/SPEC.md#float16-graphs): its one home, used by every attention of every graph -------
def softmax_dtype(dtype):
    """The dtype attention masks, softmaxes and LayerNorm statistics are computed in for a graph of ``dtype``:
    float32 for float16/bfloat16 graphs, the graph's own dtype for float32/float64."""
    return torch.promote_types(dtype, torch.float32)


def mask_bias(masked, dtype):
    """Additive mask for a graph of ``dtype``: 0 where attended, finfo(softmax_dtype(dtype)).min where ``masked``
    (HF's value), in softmax_dtype(dtype): for float16 graphs a float32 tensor, never float16's finfo.min (which
    overflows to -inf when a negative score is added to it; a fully masked row of -inf is NaN)."""
    d = softmax_dtype(dtype)
    return torch.zeros_like(masked, dtype=d).masked_fill(masked, torch.finfo(d).min)


def attention_probs(scores, bias):
    """softmax(scores + bias) over the last axis, computed in softmax_dtype(scores.dtype) and returned in
    scores.dtype. ``bias`` is one ``mask_bias`` in every exported graph (only the training-only
    decoder_attention_mask adds a second one, as HF's LED does). For float16 scores, a product that
    overflowed to +-inf is clamped to float16's largest finite value first, so every score + bias is finite and
    a fully masked row is uniform (as the NumPy reference), never NaN."""
    d = softmax_dtype(scores.dtype)
    s = scores.to(d)  # a no-op (no graph node) for float32/float64 graphs
    if d != scores.dtype:
        big = float(torch.finfo(scores.dtype).max)
        s = s.clamp(-big, big)
    return torch.softmax(s + bias, -1).to(scores.dtype)


class LayerNorm(nn.LayerNorm):
    """nn.LayerNorm (HF's parameter names) whose statistics are computed in softmax_dtype: float16 graphs
    normalize in float32 (a float16 variance of activations in the hundreds overflows)."""

    def forward(self, x):
        d = softmax_dtype(x.dtype)
        if d == x.dtype:
            return super().forward(x)
        return F.layer_norm(x.to(d), self.normalized_shape, self.weight.to(d), self.bias.to(d), self.eps).to(x.dtype)


def _around(x, dim, kb):
    """Blocks [i - kb .. i + kb] of every block i along ``dim`` (zero blocks beyond the ends), concatenated on
    dim + 1: (..., n, c, ...) -> (..., n, (2kb+1)c, ...)."""
    n = x.shape[dim]
    zeros = torch.zeros_like(x.narrow(dim, 0, 1))
    xp = torch.cat([zeros] * kb + [x] + [zeros] * kb, dim)  # kb zero blocks either side
    return torch.cat([xp.narrow(dim, s, n) for s in range(2 * kb + 1)], dim + 1)


def global_slots(is_global):
    """(gidx (B, x), slot_valid (B, x), slot_of_pos (B, L), is_global) for x = max global count (may be 0).

    gidx[b, s] is the position of row b's (s+1)-th global token (0 where slot s is unused);
    slot_of_pos[b, l] is the slot of global token l, or x for non-global tokens."""
    g = is_global.to(torch.int64)
    count = g.sum(1)  # (B,)
    x = count.max()
    slots = torch.arange(x, device=is_global.device)  # (x,)  -- dynamic: ONNX Range
    cum = torch.cumsum(g, 1)  # (B, L) inclusive count
    # position of the (s+1)-th global token = number of positions whose inclusive count is <= s
    gidx = (cum[:, None, :] <= slots[None, :, None]).to(torch.int64).sum(-1)  # (B, x)
    slot_valid = slots[None, :] < count[:, None]
    gidx = torch.where(slot_valid, gidx, torch.zeros_like(gidx))
    slot_of_pos = torch.where(is_global, cum - 1, x.expand_as(cum))
    return gidx, slot_valid, slot_of_pos, is_global


def longformer_attention_probs(attn, h, is_local, is_masked, glob, head_mask=None):
    """HF's ``output_attentions`` of one encoder self-attention layer (modeling_led's layout and values), computed
    beside the fast path and only when asked for: O(L (x + w)) like HF, from ``attn``'s own projections.

    attn: an LEDEncoderSelfAttention; h (B, L, D) the layer input; is_local/is_masked/glob as its forward;
    head_mask (H,) or None multiplies each head's probabilities (HF). Returns
      local (B, H, L, x + 2w + 1): the x global-key columns first (slot order), then the band, column m = key
        i - w + m; a global key is not in the band (it is attended through its column); rows of padding and of
        global tokens are zero (HF keeps the latter in ``global``);
      global (B, H, L_pad, x) or None when no token is global: what each global token attends to over the
        window-padded length L_pad (HF does not unpad these); an unused slot (a row with fewer global tokens)
        is uniform over L_pad, as HF's fully masked row.
    """
    gidx, slot_valid, slot_of_pos, is_global = glob
    B, L, _ = h.shape
    H, d, w = attn.num_heads, attn.head_dim, attn.w
    x = gidx.shape[1]
    q = attn._split_heads(attn.query(h) / math.sqrt(d))  # (B, H, L, d)
    k = attn._split_heads(attn.key(h))
    # blocks of w queries, each against the 3w keys around it: key j of block b is position b w - w + j, so
    # query i of the block is at offset j - w - i from it and the band |offset| <= w is i <= j <= i + 2w
    nb = -(-L // w)
    pad = nb * w - L
    qb = F.pad(q, (0, 0, 0, pad)).reshape(B, H, nb, w, d)
    kb = F.pad(k, (0, 0, w, pad + w)).unfold(2, 3 * w, w)  # (B, H, nb, d, 3w): a view, no copy per block
    key_ok = F.pad(is_local, (w, pad + w), value=False).unfold(1, 3 * w, w)  # (B, nb, 3w)
    i, j = torch.arange(w, device=h.device)[:, None], torch.arange(3 * w, device=h.device)[None, :]
    band_ok = (j >= i) & (j <= i + 2 * w) & key_ok[:, None, :, None, :]  # (B, 1, nb, w, 3w)
    kg = torch.gather(k, 2, gidx[:, None, :, None].expand(-1, H, -1, d))  # (B, H, x, d): local keys of the globals
    scores_g = torch.matmul(qb, kg[:, :, None].transpose(-1, -2))  # (B, H, nb, w, x)
    glob_ok = slot_valid[:, None, None, None, :].expand(-1, 1, nb, w, -1)
    scores = torch.cat([scores_g, torch.matmul(qb, kb)], -1)  # (B, H, nb, w, x + 3w)
    probs = attention_probs(scores, mask_bias(~torch.cat([glob_ok, band_ok], -1), h.dtype))
    # band columns i .. i + 2w of each block row, as HF's relative columns 0 .. 2w
    rel = (i + torch.arange(2 * w + 1, device=h.device)[None, :]).expand(B, H, nb, w, -1)
    band = torch.gather(probs[..., x:], -1, rel)
    local = torch.cat([probs[..., :x], band], -1).reshape(B, H, nb * w, x + 2 * w + 1)[:, :, :L]
    local = local.masked_fill((is_masked | is_global)[:, None, :, None], 0.0)
    scale = None if head_mask is None else head_mask.to(h.dtype)[None, :, None, None]
    if scale is not None:
        local = local * scale
    if x == 0:
        return local, None
    # global rows: the global projections of every position, over the window-padded length (masked keys get
    # mask_bias; HF pads with masked positions)
    L_pad = padded_length(L, attn.max_window)
    qG = attn._split_heads(attn.query_global(torch.gather(h, 1, gidx[:, :, None].expand(-1, -1, h.shape[-1]))))
    kG = attn._split_heads(attn.key_global(h))  # (B, H, L, d)
    s = torch.matmul(qG / math.sqrt(d), kG.transpose(-1, -2))  # (B, H, x, L)
    s = F.pad(s, (0, L_pad - L))
    masked = F.pad(is_masked, (0, L_pad - L), value=True)[:, None, None, :] | ~slot_valid[:, None, :, None]
    g = attention_probs(s, mask_bias(masked, h.dtype))  # an unused slot's row: all masked, so uniform
    if scale is not None:
        g = g * scale
    return local, g.transpose(-1, -2)


class LEDEncoderAttention(nn.Module):
    def __init__(self, config, layer_id):
        super().__init__()
        d = int(_cfg(config, "d_model"))
        self.longformer_self_attn = LEDEncoderSelfAttention(config, layer_id)
        self.output = nn.Linear(d, d)

    def forward(self, h, is_local, is_masked, glob, head_mask=None):
        """head_mask (H,) or None: HF's layer_head_mask, a factor on each head's probabilities (so on its output)."""
        a = self.longformer_self_attn(h, is_local, is_masked, glob)  # (B, L, D)
        if head_mask is not None:
            H = head_mask.shape[0]
            a = (a.unflatten(-1, (H, -1)) * head_mask.to(a.dtype)[:, None]).flatten(-2)
        return self.output(a)


class LEDEncoderLayer(nn.Module):
    def __init__(self, config, layer_id):
        super().__init__()
        d, ffn = int(_cfg(config, "d_model")), int(_cfg(config, "encoder_ffn_dim"))
        self.self_attn = LEDEncoderAttention(config, layer_id)
        self.self_attn_layer_norm = LayerNorm(d)
        self.fc1, self.fc2 = nn.Linear(d, ffn), nn.Linear(ffn, d)
        self.final_layer_norm = LayerNorm(d)
        self.act = _activation(config)
        self.dropout = float(_cfg(config, "dropout", 0.0))
        self.activation_dropout = float(_cfg(config, "activation_dropout", 0.0))

    def forward(self, h, is_local, is_masked, glob, head_mask=None):
        a = self.self_attn(h, is_local, is_masked, glob, head_mask)
        h = self.self_attn_layer_norm(self._residual(h, a))
        if self.training and self.activation_dropout > 0:
            f = self.fc2(_dropout(self, self.act(self.fc1(h)), self.activation_dropout))
        else:  # the same fc2(act(fc1(h))), keeping fc1's output only for backward
            f = kernels.act_linear(self.fc1(h), self.fc2, self.act)
        return self.final_layer_norm(self._residual(h, f))

    def _residual(self, h, a):
        """h + dropout(a); without autograd (and dropout) added in place into ``a``, a block's fresh output."""
        fresh = a.shape == h.shape and a.dtype == h.dtype
        if torch.is_grad_enabled() or (self.training and self.dropout > 0) or kernels.exporting() or not fresh:
            return h + _dropout(self, a, self.dropout)
        return a.add_(h)


class LEDEncoder(nn.Module):
    def __init__(self, config, embed_tokens):
        super().__init__()
        d = int(_cfg(config, "d_model"))
        self.embed_tokens = embed_tokens
        self.embed_positions = LEDLearnedPositionalEmbedding(int(_cfg(config, "max_encoder_position_embeddings")), d)
        self.layers = nn.ModuleList([LEDEncoderLayer(config, i) for i in range(int(_cfg(config, "encoder_layers")))])
        self.layernorm_embedding = LayerNorm(d)
        self.dropout = float(_cfg(config, "dropout", 0.0))
        self.layerdrop = float(_cfg(config, "encoder_layerdrop", 0.0))
        self.gradient_checkpointing = False

    def forward(self, input_ids, attention_mask, global_attention_mask):
        """(B, S) int64 x3 -> last_hidden_state (B, S, D) (spec/SPEC.md#encoder)."""
        return self.run(input_ids, attention_mask, global_attention_mask)[0]

    def run(
        self,
        input_ids,
        attention_mask,
        global_attention_mask,
        inputs_embeds=None,
        head_mask=None,
        output_attentions=False,
        output_hidden_states=False,
    ):
        """The encoder with HF's optional inputs and outputs: (last_hidden_state (B, S, D), hidden_states,
        attentions, global_attentions), each of the last three None unless asked for (HF's layouts;
        global_attentions also None when no token is global).

        inputs_embeds (B, S, D) replaces the token embeddings (input_ids may then be None); head_mask
        (encoder_layers, H) scales each layer's heads (HF's head_mask)."""
        # HF's merge (led_ref.inputs): a global flag on padding stays padding
        merged = merge_masks(attention_mask.to(torch.int64), global_attention_mask.to(torch.int64))
        is_masked = merged == int(MaskKind.PADDING)
        is_local = merged == int(MaskKind.LOCAL)
        is_global = merged == int(MaskKind.GLOBAL)
        emb = self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds  # (B, S, D)
        positions = position_ids(input_ids[0] if inputs_embeds is None else inputs_embeds[0, :, 0])  # (S,)
        h = self.layernorm_embedding(emb + self.embed_positions(positions))
        h = _dropout(self, h, self.dropout)
        glob = global_slots(is_global)
        _check_head_mask("head_mask", head_mask, len(self.layers))
        states, local_attns, global_attns = [], [], []
        for i, layer in enumerate(self.layers):
            if output_hidden_states:
                states.append(h)
            if _layer_dropped(self, self.layerdrop):
                continue
            layer_head_mask = None if head_mask is None else head_mask[i]
            if output_attentions:
                local, glob_probs = longformer_attention_probs(
                    layer.self_attn.longformer_self_attn, h, is_local, is_masked, glob, layer_head_mask
                )
                local_attns.append(local)
                if glob_probs is not None:
                    global_attns.append(glob_probs)
            if self.gradient_checkpointing and self.training:
                # recompute the layer in backward (HF: torch.utils.checkpoint per layer; RNG state is replayed)
                h = _checkpoint_function(self)(layer, h, is_local, is_masked, glob, layer_head_mask)
            else:
                h = layer(h, is_local, is_masked, glob, layer_head_mask)
        if output_hidden_states:
            states.append(h)
        return (
            h,
            tuple(states) if output_hidden_states else None,
            tuple(local_attns) if output_attentions else None,
            tuple(global_attns) if output_attentions and global_attns else None,
        )


def _checkpoint_function(module):
    """How ``module`` recomputes a layer in backward: HF's hook when a transformers PreTrainedModel's
    gradient_checkpointing_enable() set one (``_gradient_checkpointing_func``, with the caller's kwargs), else
    torch.utils.checkpoint without reentrancy."""
    return getattr(module, "_gradient_checkpointing_func", None) or partial(_checkpoint, use_reentrant=False)


def _check_head_mask(name, mask, layers):
    if mask is not None and (mask.dim() != 2 or mask.shape[0] != layers):
        raise ValueError(f"{name} must have shape ({layers} layers, heads), got {tuple(mask.shape)}")


class LEDDecoderAttention(nn.Module):
    def __init__(self, d, heads, dropout=0.0):
        super().__init__()
        self.dropout = float(dropout)  # HF: on the attention probabilities (config.attention_dropout)
        if d % heads:
            raise ValueError(f"d_model={d} is not a multiple of decoder_attention_heads={heads}")
        self.num_heads, self.head_dim = heads, d // heads
        self.scaling = self.head_dim**-0.5
        self.k_proj, self.v_proj, self.q_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))

    def split(self, x):  # (B, T, D) -> (B, H, T, d), contiguous: the caches are handed out as HF's are
        return x.reshape(x.shape[0], -1, self.num_heads, self.head_dim).transpose(1, 2).contiguous()

    def forward(self, h, k, v, bias):
        """h (B, T, D); k, v (B, H, S, d); bias broadcastable to (B, H, T, S) (mask_bias)."""
        return self.attend(h, k, v, bias)[0]

    def attend(self, h, k, v, bias, head_mask=None):
        """(output (B, T, D), probabilities (B, H, T, S)); head_mask (H,) or None scales each head's
        probabilities before dropout (HF's layer_head_mask; the returned probabilities include it)."""
        q = self.split(self.q_proj(h) * self.scaling)
        p = attention_probs(torch.matmul(q, k.transpose(-1, -2)), bias)
        if head_mask is not None:
            p = p * head_mask.to(p.dtype)[None, :, None, None]
        out = torch.matmul(_dropout(self, p, self.dropout), v).transpose(1, 2)  # (B, T, H, d)
        return self.out_proj(out.reshape(out.shape[0], -1, self.num_heads * self.head_dim)), p


class LEDDecoderLayer(nn.Module):
    def __init__(self, config):
        super().__init__()
        d, heads = int(_cfg(config, "d_model")), int(_cfg(config, "decoder_attention_heads"))
        ffn = int(_cfg(config, "decoder_ffn_dim"))
        attn_dropout = _cfg(config, "attention_dropout", 0.0)
        self.self_attn = LEDDecoderAttention(d, heads, attn_dropout)
        self.self_attn_layer_norm = LayerNorm(d)
        self.encoder_attn = LEDDecoderAttention(d, heads, attn_dropout)
        self.encoder_attn_layer_norm = LayerNorm(d)
        self.fc1, self.fc2 = nn.Linear(d, ffn), nn.Linear(ffn, d)
        self.final_layer_norm = LayerNorm(d)
        self.act = _activation(config)
        self.dropout = float(_cfg(config, "dropout", 0.0))
        self.activation_dropout = float(_cfg(config, "activation_dropout", 0.0))

    def forward(
        self,
        h,
        self_bias,
        cross_bias,
        past_k,
        past_v,
        cross_k,
        cross_v,
        enc,
        head_mask=None,
        cross_head_mask=None,
        output_attentions=False,
    ):
        """One decoder layer; past_k/v may be None, cross_k/v None -> computed from enc; with neither enc nor
        cross caches the cross-attention block is skipped (HF's decoder used alone; cross_k/v stay None).
        head_mask/cross_head_mask (H,) or None: HF's per-layer head masks.
        Returns (h, self_k, self_v, cross_k, cross_v) with the caches in (B, H, len, d), then, with
        output_attentions, the self- and cross-attention probabilities (B, H, T, P+T) / (B, H, T, S) or None."""
        sa = self.self_attn
        k, v = sa.split(sa.k_proj(h)), sa.split(sa.v_proj(h))
        if past_k is not None:
            k, v = torch.cat([past_k, k], 2), torch.cat([past_v, v], 2)
        a, self_probs = sa.attend(h, k, v, self_bias, head_mask)
        h = self.self_attn_layer_norm(h + _dropout(self, a, self.dropout))
        cross_probs = None
        if cross_k is not None or enc is not None:
            ca = self.encoder_attn
            if cross_k is None:
                cross_k, cross_v = ca.split(ca.k_proj(enc)), ca.split(ca.v_proj(enc))
            a, cross_probs = ca.attend(h, cross_k, cross_v, cross_bias, cross_head_mask)
            h = self.encoder_attn_layer_norm(h + _dropout(self, a, self.dropout))
        f = _dropout(self, self.act(self.fc1(h)), self.activation_dropout)
        h = self.final_layer_norm(h + _dropout(self, self.fc2(f), self.dropout))
        if output_attentions:
            return h, k, v, cross_k, cross_v, self_probs, cross_probs
        return h, k, v, cross_k, cross_v


class LEDDecoder(nn.Module):
    def __init__(self, config, embed_tokens):
        super().__init__()
        d = int(_cfg(config, "d_model"))
        self.embed_tokens = embed_tokens
        self.embed_positions = LEDLearnedPositionalEmbedding(int(_cfg(config, "max_decoder_position_embeddings")), d)
        self.layers = nn.ModuleList([LEDDecoderLayer(config) for _ in range(int(_cfg(config, "decoder_layers")))])
        self.layernorm_embedding = LayerNorm(d)
        self.dropout = float(_cfg(config, "dropout", 0.0))
        self.layerdrop = float(_cfg(config, "decoder_layerdrop", 0.0))
        self.gradient_checkpointing = False

    def forward(self, input_ids, encoder_hidden_states, encoder_attention_mask, past=None, attention_mask=None):
        """input_ids (B, T); encoder_hidden_states (B, S, D) or None when ``past`` holds the cross
        caches; past: per layer (self_k, self_v, cross_k, cross_v) or None; attention_mask (B, P+T) or None:
        the decoder padding mask (HF adds its inverted mask to the causal one when T > 1).
        Returns (hidden (B, T, D), present per layer (self_k, self_v, cross_k, cross_v))."""
        return self.run(input_ids, encoder_hidden_states, encoder_attention_mask, past, attention_mask)[:2]

    def run(
        self,
        input_ids,
        encoder_hidden_states,
        encoder_attention_mask,
        past=None,
        attention_mask=None,
        inputs_embeds=None,
        head_mask=None,
        cross_attn_head_mask=None,
        output_attentions=False,
        output_hidden_states=False,
    ):
        """The decoder with HF's optional inputs and outputs: (hidden (B, T, D), present per layer, hidden_states,
        self_attentions, cross_attentions), the last three None unless asked for.

        Without encoder_hidden_states and without cross caches in ``past`` the decoder runs alone: no
        cross-attention, caches (self_k, self_v) (HF's stand-alone decoder). encoder_attention_mask None: every
        encoder position is attended. inputs_embeds (B, T, D) replaces the token embeddings; head_mask /
        cross_attn_head_mask (decoder_layers, H) as HF's."""
        P = _shape(past[0][0], 2) if past is not None else torch.zeros((), dtype=torch.int64)
        emb = self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds  # (B, T, D)
        t = position_ids(input_ids[0] if inputs_embeds is None else inputs_embeds[0, :, 0])  # (T,) from 0: P + t
        h = self.layernorm_embedding(emb + self.embed_positions(t + P))
        dtype = h.dtype
        # query t (absolute position P + t) sees key j iff j <= P + t
        keys = torch.arange(P + _shape(t, 0), device=h.device)
        self_bias = mask_bias(keys[None, :] > (t + P)[:, None], dtype)  # (T, P+T)
        if attention_mask is not None and decoder_masks_apply(emb.shape[1]):
            # HF: causal + inverted padding mask, summed; a single new token uses neither (led_ref.inputs)
            self_bias = self_bias + mask_bias(attention_mask[:, None, None, :] == 0, dtype)  # (B, 1, T, P+T)
        if encoder_attention_mask is None:
            cross_bias = mask_bias(torch.zeros((1, 1, 1, 1), dtype=torch.bool, device=h.device), dtype)
        else:
            cross_bias = mask_bias(encoder_attention_mask[:, None, None, :] == 0, dtype)  # (B, 1, 1, S)
        h = _dropout(self, h, self.dropout)
        _check_head_mask("head_mask", head_mask, len(self.layers))
        _check_head_mask("cross_attn_head_mask", cross_attn_head_mask, len(self.layers))
        present, states, self_attns, cross_attns = [], [], [], []
        for i, layer in enumerate(self.layers):
            if output_hidden_states:
                states.append(h)
            if _layer_dropped(self, self.layerdrop):
                present.append(None)  # HF: a dropped layer has no cache entry (training only)
                continue
            pk, pv, ck, cv = (tuple(past[i]) + (None, None))[:4] if past is not None else (None, None, None, None)
            args = (h, self_bias, cross_bias, pk, pv, ck, cv, encoder_hidden_states)
            masks = (
                None if head_mask is None else head_mask[i],
                None if cross_attn_head_mask is None else cross_attn_head_mask[i],
            )
            if self.gradient_checkpointing and self.training:
                out = _checkpoint_function(self)(layer, *args, *masks, output_attentions)
            else:
                out = layer(*args, *masks, output_attentions)
            h, k, v, ck, cv = out[:5]
            present.append((k, v) if ck is None else (k, v, ck, cv))
            if output_attentions:
                self_attns.append(out[5])
                cross_attns.append(out[6])
        if output_hidden_states:
            states.append(h)
        return (
            h,
            present,
            tuple(states) if output_hidden_states else None,
            tuple(self_attns) if output_attentions else None,
            tuple(cross_attns) if output_attentions else None,
        )


def init_module(module, std):
    """HF's LEDPreTrainedModel._init_weights for one module: Linear weights and Embedding rows N(0, std)
    (config.init_std), Linear biases zero, an Embedding's padding_idx row zero; other modules (LayerNorm: 1, 0)
    keep their own initialisation."""
    with torch.no_grad():
        if isinstance(module, nn.Linear):
            module.weight.normal_(0.0, std)
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.normal_(0.0, std)
            if module.padding_idx is not None:
                module.weight[module.padding_idx].zero_()


def init_weights(root, config):
    """``init_module`` on ``root`` and every submodule with ``config.init_std`` (as HF's post_init)."""
    root.apply(partial(init_module, std=float(_cfg(config, "init_std", 0.02))))


def resolve_torch_dtype(dtype=None, torch_dtype=None, config_dtype=None):
    """The torch dtype a model loads in: ``dtype`` or HF's name for it, ``torch_dtype`` (one of them): a floating
    torch.dtype, its name ("float16"), or "auto" (the checkpoint's config.json ``torch_dtype``, float32 when it
    has none); float32 by default."""
    if dtype is not None and torch_dtype is not None and dtype != torch_dtype:
        raise ValueError(f"give dtype or torch_dtype (HF's name for it), not both: got {dtype!r} and {torch_dtype!r}")
    value = torch_dtype if torch_dtype is not None else dtype
    if value == "auto":
        value = config_dtype or torch.float32
    if isinstance(value, str):
        value = getattr(torch, value[len("torch.") :] if value.startswith("torch.") else value, value)
    if value is None:
        return torch.float32
    if not isinstance(value, torch.dtype) or not value.is_floating_point:
        raise TypeError(f"torch_dtype must be a floating torch.dtype such as torch.float32 (or 'auto'), got {value!r}")
    return value


class _TrainingAPI:
    """HF's training-facing methods shared by the four classes (spec/SPEC.md#training)."""

    @classmethod
    def from_pretrained(cls, model_dir, dtype=None, torch_dtype=None):
        """Load an HF-format checkpoint directory (or hub id) into this class, in eval mode with gradients on
        (like HF's ``from_pretrained``). ``torch_dtype`` (HF's name) or ``dtype``: torch.float32 (default),
        torch.float64, "auto" (the checkpoint's), or another floating dtype (loaded as float32 and cast)."""
        from led_ref.config import LEDConfig
        from led_ref.weights import load_checkpoint

        saved = LEDConfig.from_pretrained(model_dir).torch_dtype if "auto" in (dtype, torch_dtype) else None
        dtype = resolve_torch_dtype(dtype, torch_dtype, saved)
        np_dtype = np.float64 if dtype == torch.float64 else np.float32
        config, params = load_checkpoint(model_dir, _HEAD_OF[cls.__name__], dtype=np_dtype)
        return build_torch_model(config, params, _HEAD_OF[cls.__name__], dtype).requires_grad_(True)

    def save_pretrained(self, save_directory):
        """config.json + model.safetensors in HF's format (led_ref.weights.save_checkpoint; HF loads it)."""
        from led_ref.weights import params_from_state_dict, save_checkpoint

        head = _HEAD_OF[type(self).__name__]
        state = {k: v.detach().cpu().numpy() for k, v in self.state_dict().items()}
        dtype = state[next(iter(state))].dtype
        params = params_from_state_dict(state, self.config, head, dtype if dtype == np.float64 else np.float32)
        save_checkpoint(save_directory, self.config, params, head)

    @property
    def device(self):
        """The device of the parameters (HF's ``model.device``: ``inputs.to(model.device)``)."""
        return next(self.parameters()).device

    @property
    def dtype(self):
        """The floating dtype of the parameters (HF's ``model.dtype``)."""
        return next(p.dtype for p in self.parameters() if p.is_floating_point())

    def _base(self):
        return self if isinstance(self, LEDModel) else self.led

    def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs=None):
        """Recompute each encoder and decoder layer in backward (torch.utils.checkpoint, non-reentrant) instead
        of keeping its activations; active in train() mode only, like HF. Turns the decoder cache off there."""
        self._set_checkpointing(True)

    def gradient_checkpointing_disable(self):
        self._set_checkpointing(False)

    def _set_checkpointing(self, on):
        for part in (self._base().encoder, self._base().decoder):
            part.gradient_checkpointing = on
        for layer in self._base().encoder.layers:
            layer.self_attn.longformer_self_attn.recompute_heads = on

    @property
    def is_gradient_checkpointing(self):
        return self._base().encoder.gradient_checkpointing

    def _run_checked(
        self,
        input_ids,
        attention_mask,
        global_attention_mask,
        decoder_input_ids,
        decoder_attention_mask,
        use_cache,
        output_attentions,
        output_hidden_states,
    ):
        """(checked input_ids, the base model's run(...) output) for a forward call's arguments."""
        ids, mask, glob = _encoder_inputs(self.config, input_ids, attention_mask, global_attention_mask)
        out = self._base().run(
            ids,
            mask,
            glob,
            _long("decoder_input_ids", decoder_input_ids, 2),
            _long("decoder_attention_mask", decoder_attention_mask, 2, mask=True),
            use_cache,
            *self._flags(output_attentions, output_hidden_states),
        )
        return ids, out

    def _flags(self, output_attentions, output_hidden_states):
        """HF's defaults: None means the config's output_attentions / output_hidden_states (read at call time, so
        ``model.config.output_attentions = True`` takes effect)."""
        if output_attentions is None:
            output_attentions = bool(_cfg(self.config, "output_attentions", False))
        if output_hidden_states is None:
            output_hidden_states = bool(_cfg(self.config, "output_hidden_states", False))
        return output_attentions, output_hidden_states


def _long(name, x, ndim=None, mask=False):
    """``x`` as int64, checked: a torch integer tensor of ``ndim`` dimensions; a mask (``mask=True``) may also be
    bool, as HF's ``input_ids.ne(pad)``."""
    if x is None:
        return None
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype.is_floating_point or (x.dtype == torch.bool and not mask) or x.dtype.is_complex:
        raise TypeError(f"{name} must be an integer {'or bool ' if mask else ''}tensor, got {x.dtype}")
    if ndim is not None and x.dim() != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(x.shape)}")
    return x.to(torch.int64)


def token_ids(config, name, ids):
    """``ids`` checked: a 2-D torch integer tensor with values in [0, vocab_size), as int64 (None stays None)."""
    ids = _long(name, ids, 2)
    vocab = int(_cfg(config, "vocab_size"))
    if ids is not None and ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab):
        raise ValueError(f"{name} must lie in [0, vocab_size={vocab})")
    return ids


def _encoder_inputs(config, input_ids, attention_mask, global_attention_mask):
    input_ids = token_ids(config, "input_ids", input_ids)
    if input_ids is None:
        raise ValueError("input_ids is required (inputs_embeds: the classes of led_ref.export.hf_models take them)")
    S, max_pos = input_ids.shape[1], int(_cfg(config, "max_encoder_position_embeddings"))
    if S > max_pos:
        raise ValueError(f"input_ids has {S} tokens, more than max_encoder_position_embeddings={max_pos}")
    masks = []
    for name, m, default in (
        ("attention_mask", attention_mask, 1),
        ("global_attention_mask", global_attention_mask, 0),
    ):
        m = _long(name, m, 2, mask=True)
        if m is None:
            m = torch.full_like(input_ids, default)
        elif m.shape != input_ids.shape:
            raise ValueError(f"{name} shape {tuple(m.shape)} must equal input_ids shape {tuple(input_ids.shape)}")
        masks.append(m)
    return input_ids, masks[0], masks[1]


def shift_tokens_right(input_ids, pad_token_id, decoder_start_token_id):
    """Decoder inputs from labels or input_ids in the torch graph (led_ref.inputs.shift_tokens_right's rule):
    shift right by one, the start token first, -100 -> pad."""
    if pad_token_id is None:
        raise ValueError("config.pad_token_id has to be defined.")
    start = torch.full_like(input_ids[:, :1], int(decoder_start_token_id))
    shifted = torch.cat([start, input_ids[:, :-1]], 1)
    return shifted.masked_fill(shifted == -100, int(pad_token_id))


def lm_loss(logits, labels):
    """Mean cross-entropy of logits (B, T, V) over the labels (B, T) that are not -100 (HF's LM loss)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)


def problem_type_of(num_labels, labels):
    """HF's inference of config.problem_type when unset: regression for one label, single-label classification
    for integer labels, multi-label classification otherwise."""
    if num_labels == 1:
        return "regression"
    return "single_label_classification" if labels.dtype in (torch.int64, torch.int32) else "multi_label_classification"


def classification_loss(logits, labels, problem_type):
    """HF's LEDForSequenceClassification loss for ``problem_type``: MSE (regression), cross-entropy
    (single_label_classification, labels in [0, num_labels)) or BCE with logits (multi_label_classification)."""
    n = logits.shape[-1]
    if problem_type == "regression":
        return F.mse_loss(logits.squeeze(), labels.squeeze()) if n == 1 else F.mse_loss(logits, labels)
    if problem_type == "single_label_classification":
        flat = labels.reshape(-1)
        if bool(((flat < 0) | (flat >= n)).any()):
            raise ValueError(f"labels must lie in [0, num_labels={n})")
        return F.cross_entropy(logits.reshape(-1, n), flat)
    if problem_type == "multi_label_classification":
        return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
    raise ValueError(
        f"config.problem_type={problem_type!r} is not one of regression, single_label_classification, "
        "multi_label_classification"
    )


def qa_loss(start_logits, end_logits, start_positions, end_positions):
    """Mean of the start and end cross-entropies; positions (B,) clamped to [0, T], T ignored (HF's
    out-of-sequence rule)."""
    ignored = start_logits.shape[1]
    sp = start_positions.reshape(-1).clamp(0, ignored)
    ep = end_positions.reshape(-1).clamp(0, ignored)
    return (
        F.cross_entropy(start_logits, sp, ignore_index=ignored) + F.cross_entropy(end_logits, ep, ignore_index=ignored)
    ) / 2


def last_eos_states(input_ids, h, eos_token_id):
    """(B, D): each row's decoder state at its last eos token (HF's sentence representation for classification).
    The eos positions are input_ids', so the decoder must have read as many tokens (its default inputs do)."""
    if h.shape[1] != input_ids.shape[1]:
        raise ValueError(
            f"sequence classification reads the decoder state at input_ids' last eos token, so the decoder inputs "
            f"must have input_ids' length {input_ids.shape[1]}, got {h.shape[1]}"
        )
    pos = torch.cumsum(torch.ones_like(input_ids), 1)  # 1-based positions
    last_eos = torch.argmax((input_ids == eos_token_id).to(torch.int64) * pos, 1)  # (B,)
    return torch.gather(h, 1, last_eos[:, None, None].expand(-1, 1, h.shape[-1]))[:, 0]


def check_eos_counts(input_ids, eos_token_id):
    """HF's rule for sequence classification: every row holds the same (nonzero) number of eos tokens."""
    counts = (input_ids == eos_token_id).sum(1)
    if bool((counts != counts[0]).any()) or int(counts[0]) == 0:
        raise ValueError(
            f"every row of input_ids must hold the same (nonzero) number of eos tokens (id {eos_token_id}); "
            f"got {counts.tolist()}"
        )


def _seq2seq_fields(out):
    """The LEDSeq2SeqModelOutput fields every head's output repeats (all but last_hidden_state)."""
    return {
        "past_key_values": out.past_key_values,
        "decoder_hidden_states": out.decoder_hidden_states,
        "decoder_attentions": out.decoder_attentions,
        "cross_attentions": out.cross_attentions,
        "encoder_last_hidden_state": out.encoder_last_hidden_state,
        "encoder_hidden_states": out.encoder_hidden_states,
        "encoder_attentions": out.encoder_attentions,
        "encoder_global_attentions": out.encoder_global_attentions,
    }


class LEDModel(_TrainingAPI, nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        # padding_idx as HF: the pad token's embedding row gets no gradient
        self.shared = nn.Embedding(
            int(_cfg(config, "vocab_size")), int(_cfg(config, "d_model")), padding_idx=_cfg(config, "pad_token_id")
        )
        self.encoder = LEDEncoder(config, self.shared)
        self.decoder = LEDDecoder(config, self.shared)
        init_weights(self, config)

    def shift_tokens_right(self, input_ids):
        return shift_tokens_right(
            input_ids, _cfg(self.config, "pad_token_id", 1), _cfg(self.config, "decoder_start_token_id", 2)
        )

    def run(
        self,
        input_ids,
        attention_mask,
        global_attention_mask,
        decoder_input_ids=None,
        decoder_attention_mask=None,
        use_cache=False,
        output_attentions=False,
        output_hidden_states=False,
    ):
        """LEDSeq2SeqModelOutput of torch tensors: the decoder's last hidden state (B, T, D), the encoder's
        (B, S, D), past_key_values with use_cache, attentions / hidden states (HF's layouts) when asked for.
        Without decoder_input_ids the decoder reads shift_tokens_right(input_ids), like HF's LEDModel."""
        from led_ref.outputs import LEDSeq2SeqModelOutput

        enc, enc_states, enc_attns, enc_global = self.encoder.run(
            input_ids,
            attention_mask,
            global_attention_mask,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        if decoder_input_ids is None:
            decoder_input_ids = self.shift_tokens_right(input_ids)
        dec, present, dec_states, self_attns, cross_attns = self.decoder.run(
            decoder_input_ids,
            enc,
            attention_mask,
            attention_mask=decoder_attention_mask,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        if use_cache and self.decoder.gradient_checkpointing and self.training:
            use_cache = False  # HF: use_cache=True is incompatible with gradient checkpointing
        if enc_global is not None:
            # led-ref's layout (spec/SPEC.md#encoder-self-attention): the caller's length S and unused slots 0,
            # where HF (and the encoder's run) keep the padded length and a uniform row
            merged = merge_masks(attention_mask.to(torch.int64), global_attention_mask.to(torch.int64))
            count = (merged == int(MaskKind.GLOBAL)).sum(1)  # (B,)
            used = torch.arange(enc_global[0].shape[-1], device=enc.device)[None, :] < count[:, None]  # (B, x)
            enc_global = tuple(g[:, :, : enc.shape[1]] * used[:, None, None, :] for g in enc_global)
        return LEDSeq2SeqModelOutput(
            last_hidden_state=dec,
            past_key_values=tuple(present) if use_cache else None,
            decoder_hidden_states=dec_states,
            decoder_attentions=self_attns,
            cross_attentions=cross_attns,
            encoder_last_hidden_state=enc,
            encoder_hidden_states=enc_states,
            encoder_attentions=enc_attns,
            encoder_global_attentions=enc_global,
        )

    def export_forward(self, input_ids, attention_mask, global_attention_mask):
        """Inference graph: decoder last hidden state (B, S, D) on shift_tokens_right(input_ids)."""
        return self.run(input_ids, attention_mask, global_attention_mask).last_hidden_state

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        global_attention_mask=None,
        decoder_input_ids=None,
        decoder_attention_mask=None,
        use_cache=False,
        return_dict=True,
        output_attentions=None,
        output_hidden_states=None,
    ):
        """HF's LEDModel.forward (keyword arguments as HF): LEDSeq2SeqModelOutput with last_hidden_state,
        encoder_last_hidden_state, past_key_values with use_cache, and the attentions (encoder_global_attentions
        included) / hidden states when asked for or set in the config."""
        _, out = self._run_checked(
            input_ids,
            attention_mask,
            global_attention_mask,
            decoder_input_ids,
            decoder_attention_mask,
            use_cache,
            output_attentions,
            output_hidden_states,
        )
        return out if return_dict else out.to_tuple()


class LEDForConditionalGeneration(_TrainingAPI, nn.Module):
    def __init__(self, config, tie_word_embeddings=True):
        super().__init__()
        self.config = config
        self.led = LEDModel(config)
        self.lm_head = nn.Linear(int(_cfg(config, "d_model")), int(_cfg(config, "vocab_size")), bias=False)
        if tie_word_embeddings:
            self.lm_head.weight = self.led.shared.weight
        else:
            init_weights(self.lm_head, config)
        self.register_buffer("final_logits_bias", torch.zeros(1, int(_cfg(config, "vocab_size"))))

    def logits(self, h):
        return self.lm_head(h) + self.final_logits_bias

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        global_attention_mask=None,
        decoder_input_ids=None,
        decoder_attention_mask=None,
        labels=None,
        use_cache=False,
        return_dict=True,
        output_attentions=None,
        output_hidden_states=None,
    ):
        """HF's forward: with ``labels`` (B, T) (-100 = ignored) the decoder reads shift_tokens_right(labels)
        unless decoder_input_ids are given, and ``loss`` is the mean cross-entropy over labels != -100."""
        from led_ref.outputs import LEDSeq2SeqLMOutput

        labels = _long("labels", labels, 2)
        if labels is not None:
            vocab = int(_cfg(self.config, "vocab_size"))
            bad = (labels != -100) & ((labels < 0) | (labels >= vocab))
            if bool(bad.any()):
                raise ValueError(f"labels must be -100 (ignored) or lie in [0, vocab_size={vocab})")
            use_cache = False
            if decoder_input_ids is None:
                decoder_input_ids = self.led.shift_tokens_right(labels)
        _, out = self._run_checked(
            input_ids,
            attention_mask,
            global_attention_mask,
            decoder_input_ids,
            decoder_attention_mask,
            use_cache,
            output_attentions,
            output_hidden_states,
        )
        logits = self.logits(out.last_hidden_state)  # (B, T, V)
        loss = None
        if labels is not None:
            if labels.shape != logits.shape[:2]:
                raise ValueError(
                    f"labels shape {tuple(labels.shape)} must equal the decoder's (B, T) {tuple(logits.shape[:2])}"
                )
            loss = lm_loss(logits, labels)
        out = LEDSeq2SeqLMOutput(loss=loss, logits=logits, **_seq2seq_fields(out))
        return out if return_dict else out.to_tuple()


class LEDClassificationHead(nn.Module):
    def __init__(self, d, inner, classes, dropout=0.0):
        super().__init__()
        self.dense, self.out_proj = nn.Linear(d, inner), nn.Linear(inner, classes)
        self.dropout = float(dropout)  # HF: before dense and after tanh (config.classifier_dropout)

    def forward(self, x):
        x = torch.tanh(self.dense(_dropout(self, x, self.dropout)))
        return self.out_proj(_dropout(self, x, self.dropout))


def _num_labels(config):
    n = _cfg(config, "num_labels")
    if n is None:
        n = len(_cfg(config, "id2label", {}) or {}) or 2
    return int(n)


class LEDForSequenceClassification(_TrainingAPI, nn.Module):
    def __init__(self, config):
        super().__init__()
        d = int(_cfg(config, "d_model"))
        self.config = config
        self.eos_token_id = int(_cfg(config, "eos_token_id", 2))
        self.led = LEDModel(config)
        self.classification_head = LEDClassificationHead(
            d, d, _num_labels(config), _cfg(config, "classifier_dropout", 0.0)
        )
        init_weights(self.classification_head, config)

    def _logits(self, input_ids, h):
        return self.classification_head(last_eos_states(input_ids, h, self.eos_token_id))

    def export_forward(self, input_ids, attention_mask, global_attention_mask):
        """Inference graph: logits (B, num_labels) from the decoder state at each row's last eos token."""
        return self._logits(input_ids, self.led.export_forward(input_ids, attention_mask, global_attention_mask))

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        global_attention_mask=None,
        decoder_input_ids=None,
        decoder_attention_mask=None,
        labels=None,
        use_cache=False,
        return_dict=True,
        output_attentions=None,
        output_hidden_states=None,
    ):
        """HF's forward; the loss follows config.problem_type (inferred like HF when unset): regression (MSE),
        single_label_classification (cross-entropy, int labels) or multi_label_classification (BCE with logits)."""
        from led_ref.outputs import LEDSeq2SeqSequenceClassifierOutput

        ids = _long("input_ids", input_ids, 2)
        if ids is not None:
            check_eos_counts(ids, self.eos_token_id)
        ids, out = self._run_checked(
            input_ids,
            attention_mask,
            global_attention_mask,
            decoder_input_ids,
            decoder_attention_mask,
            use_cache and labels is None,
            output_attentions,
            output_hidden_states,
        )
        logits = self._logits(ids, out.last_hidden_state)  # (B, num_labels)
        loss = None
        if labels is not None:
            if not isinstance(labels, torch.Tensor):
                raise TypeError(f"labels must be a torch.Tensor, got {type(labels).__name__}")
            kind = _cfg(self.config, "problem_type") or problem_type_of(logits.shape[-1], labels)
            loss = classification_loss(logits, labels, kind)
        out = LEDSeq2SeqSequenceClassifierOutput(loss=loss, logits=logits, **_seq2seq_fields(out))
        return out if return_dict else out.to_tuple()


class LEDForQuestionAnswering(_TrainingAPI, nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.led = LEDModel(config)
        self.qa_outputs = nn.Linear(int(_cfg(config, "d_model")), 2)
        init_weights(self.qa_outputs, config)

    def export_forward(self, input_ids, attention_mask, global_attention_mask):
        """Inference graph: (start_logits, end_logits), each (B, S)."""
        logits = self.qa_outputs(self.led.export_forward(input_ids, attention_mask, global_attention_mask))
        return logits[..., 0], logits[..., 1]

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        global_attention_mask=None,
        decoder_input_ids=None,
        decoder_attention_mask=None,
        start_positions=None,
        end_positions=None,
        use_cache=False,
        return_dict=True,
        output_attentions=None,
        output_hidden_states=None,
    ):
        """HF's forward; with both positions (B,) the loss is the mean of the start and end cross-entropies,
        positions clamped to [0, T] and T ignored (HF's out-of-sequence rule)."""
        from led_ref.outputs import LEDSeq2SeqQuestionAnsweringModelOutput

        with_loss = start_positions is not None and end_positions is not None
        _, out = self._run_checked(
            input_ids,
            attention_mask,
            global_attention_mask,
            decoder_input_ids,
            decoder_attention_mask,
            use_cache and not with_loss,
            output_attentions,
            output_hidden_states,
        )
        logits = self.qa_outputs(out.last_hidden_state)  # (B, T, 2)
        start, end = logits[..., 0].contiguous(), logits[..., 1].contiguous()
        loss = None
        if with_loss:
            sp, ep = _long("start_positions", start_positions), _long("end_positions", end_positions)
            loss = qa_loss(start, end, sp, ep)
        out = LEDSeq2SeqQuestionAnsweringModelOutput(
            loss=loss, start_logits=start, end_logits=end, **_seq2seq_fields(out)
        )
        return out if return_dict else out.to_tuple()


MODEL_CLASSES = {
    "base": LEDModel,
    "lm": LEDForConditionalGeneration,
    "seq_cls": LEDForSequenceClassification,
    "qa": LEDForQuestionAnswering,
}

HEAD_KEYS = frozenset(name.split(".")[0] for name in ALL_HEAD_PARAMETERS)  # top-level modules of the heads
_HEAD_OF = {cls.__name__: head for head, cls in MODEL_CLASSES.items()}


def _flatten(tree, prefix=""):
    if isinstance(tree, dict):
        items = tree.items()
    elif isinstance(tree, (list, tuple)):
        items = enumerate(tree)
    else:
        return {prefix[:-1]: tree}
    out = {}
    for k, v in items:
        out.update(_flatten(v, f"{prefix}{k}."))
    return out


def state_dict_from_params(params, head):
    """HF-named torch state dict of ``MODEL_CLASSES[head]`` from a led_ref parameter tree
    (HF names without the ``led.`` prefix; spec/SPEC.md#checkpoints)."""
    flat = _flatten(params)
    out = {}
    for name, value in flat.items():
        key = name if head == "base" or name.split(".")[0] in HEAD_KEYS else "led." + name
        out[key] = torch.from_numpy(np.ascontiguousarray(value))
    prefix = "" if head == "base" else "led."
    shared = out.get(prefix + "shared.weight")
    for tied in ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight"):
        if shared is not None and prefix + tied not in out:
            out[prefix + tied] = shared
    if head == "lm" and "lm_head.weight" not in out and shared is not None:
        out["lm_head.weight"] = shared
    return out


def build_torch_model(config, params, head="lm", dtype=torch.float32):
    """The torch LED of ``head`` holding ``params`` (a led_ref tree), in eval mode.

    Loads with strict=True: a missing or unexpected parameter is an error naming it."""
    get_head(head)
    sd = state_dict_from_params(params, head)
    if head == "lm":
        # tied unless the tree holds a distinct lm_head array (tie_word_embeddings=False checkpoints)
        tied = "lm_head.weight" not in sd or torch.equal(sd["lm_head.weight"], sd["led.shared.weight"])
        model = LEDForConditionalGeneration(config, tie_word_embeddings=tied)
    else:
        model = MODEL_CLASSES[head](config)
    expected = model.state_dict()
    for k, v in sd.items():
        if k in expected and tuple(expected[k].shape) != tuple(v.shape):
            raise ValueError(f"parameter {k}: shape {tuple(v.shape)} does not match config {tuple(expected[k].shape)}")
    model = model.to(dtype)  # before loading, so float64 parameters are not rounded through float32
    model.load_state_dict(sd, strict=True)
    return model.eval().requires_grad_(False)

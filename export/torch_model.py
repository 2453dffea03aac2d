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

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from led_ref import activations
from led_ref.config import LEDConfig
from led_ref.inputs import MaskKind, merge_masks, padded_length
from led_ref.heads import ALL_HEAD_PARAMETERS, get_head

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
ACTIVATIONS = {name: _TORCH_FUNCTIONS[_A.SAME_AS.get(name, name)] for name in _A.ACT2FN
               if _A.SAME_AS.get(name, name) in _TORCH_FUNCTIONS}


def _cfg(config, name, default=None):
    value = config.get(name, default) if isinstance(config, dict) else getattr(config, name, default)
    return default if value is None else value


def layer_attention_windows(config):
    """Per-layer attention windows: led_ref.config's rule (LEDConfig.layer_attention_windows); ``config`` is an
    LEDConfig or a dict of its fields."""
    if isinstance(config, dict):
        config = LEDConfig.from_dict(config)
    return config.layer_attention_windows()


def _activation(config):
    name = _cfg(config, "activation_function", "gelu")
    if name not in ACTIVATIONS:
        raise ValueError(f"activation_function {name!r} has no torch graph, so this checkpoint cannot be exported "
                         f"(exportable: {', '.join(sorted(ACTIVATIONS))})")
    return ACTIVATIONS[name]


def check_exportable(config):
    """ValueError, before anything is built or written, for a config the torch graph cannot express."""
    _activation(config)
    layer_attention_windows(config)


def position_ids(ids_row, past_length=0):
    """(T,) positions past_length .. past_length + T - 1 of a (T,) row, computed in the graph (a cumsum keeps
    T dynamic); led_ref.inputs.position_ids is the rule."""
    return torch.cumsum(torch.ones_like(ids_row), 0) - 1 + past_length


def _shape(x, dim):
    """x.shape[dim] as a 0-dim int64 tensor, so arithmetic on it stays in the traced graph."""
    return torch._shape_as_tensor(x)[dim]


class LEDLearnedPositionalEmbedding(nn.Embedding):
    pass


class LEDEncoderSelfAttention(nn.Module):
    """Longformer self-attention: sliding window + global tokens (spec/SPEC.md#encoder-self-attention)."""

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
        self.w = layer_attention_windows(config)[layer_id] // 2  # one-sided window
        self.max_window = max(layer_attention_windows(config))
        w = self.w
        i = torch.arange(w)[:, None]
        j = torch.arange(3 * w)[None, :]
        # query i of a block sees key j of [prev, own, next] blocks iff |(j - w) - i| <= w
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
        L = _shape(h, 1)
        neg = torch.finfo(h.dtype).min

        q = self.query(h) / math.sqrt(d)
        k = self.key(h)
        v = self.value(h)
        # every query also sees the x global keys (local key/value projections at global positions)
        gi = gidx[:, :, None].expand(-1, -1, self.embed_dim)  # (B, x, D)
        kg = self._split_heads(torch.gather(k, 1, gi))[:, :, None]  # (B, H, 1, x, d)
        vg = self._split_heads(torch.gather(v, 1, gi))[:, :, None]

        # pad to the window inside the graph (led_ref.inputs.padded_length, as the NumPy encoder): gather with
        # clamped positions; padded keys are masked below and padded queries are dropped at the end
        nb = self.padded_length(L) // w
        pos = torch.arange(nb * w, device=h.device)  # (Lp,)
        in_range = pos < L
        src = torch.minimum(pos, L - 1)
        q, k, v = (t.index_select(1, src) for t in (q, k, v))  # (B, Lp, D)
        key_ok = is_local.index_select(1, src) & in_range  # (B, Lp)

        def blocks(x):  # (B, H, Lp, d) -> (B, H, nb, w, d)
            return x.reshape(x.shape[0], H, -1, w, d)

        def three(x, dim):  # [previous, own, next] block along `dim`, concatenated on dim + 1
            zero = torch.zeros_like(x.narrow(dim, 0, 1))
            prev = torch.cat([zero, _drop_last(x, dim)], dim)
            nxt = torch.cat([_drop_first(x, dim), zero], dim)
            return torch.cat([prev, x, nxt], dim + 1)

        qb = blocks(self._split_heads(q))  # (B, H, nb, w, d)
        kb = three(blocks(self._split_heads(k)), 2)  # (B, H, nb, 3w, d)
        vb = three(blocks(self._split_heads(v)), 2)  # (B, H, nb, 3w, d)
        kok = three(key_ok.reshape(key_ok.shape[0], -1, w), 1)  # (B, nb, 3w)
        valid = self.band & kok[:, None, :, None, :]  # (B, 1, nb, w, 3w)
        # each block's keys are [x global keys, 3w window keys]: one matmul and one softmax, no
        # concatenation of (large) score tensors; invalid entries get an additive finfo.min
        nblk = qb[:, :, :, :1, :1]  # (B, H, nb, 1, 1): broadcasts the global keys over blocks
        kx = torch.cat([kg + torch.zeros_like(nblk), kb], 3)  # (B, H, nb, x + 3w, d)
        vx = torch.cat([vg + torch.zeros_like(nblk), vb], 3)
        glob_ok = slot_valid[:, None, None, None, :] & torch.ones_like(valid[..., :1])  # (B, 1, nb, w, x)
        bias = _bias(~torch.cat([glob_ok, valid], -1), h.dtype)  # (B, 1, nb, w, x + 3w)
        probs = torch.softmax(torch.matmul(qb, kx.transpose(-1, -2)) + bias, -1)  # (B, H, nb, w, x + 3w)
        out = torch.matmul(probs, vx)  # (B, H, nb, w, d)
        out = out.reshape(out.shape[0], H, -1, d).transpose(1, 2)  # (B, Lp, H, d)
        out = out.reshape(out.shape[0], -1, self.embed_dim).narrow(1, 0, h.shape[1])  # (B, L, D)
        # padding queries attend nowhere (HF zeroes their probabilities)
        out = out.masked_fill(is_masked[:, :, None], 0.0)

        # global tokens attend to every unmasked token with their own projections
        qG = self._split_heads(self.query_global(torch.gather(h, 1, gi)) / math.sqrt(d))  # (B, H, x, d)
        og = torch.cat(self._global_rows(h, qG, is_masked), 2).transpose(1, 2)  # (B, x, H, d)
        og = og.reshape(og.shape[0], -1, self.embed_dim)  # (B, x, D)
        # scatter back by gathering from [slots..., dummy]; slot_of_pos == x for non-global tokens
        og = torch.cat([og, torch.zeros_like(h[:, :1])], 1)  # (B, x+1, D)
        og = torch.gather(og, 1, slot_of_pos[:, :, None].expand(-1, -1, self.embed_dim))  # (B, L, D)
        return torch.where(is_global[:, :, None], og, out)


    def _global_rows(self, h, qG, is_masked):
        """Outputs of the x global queries, as [reassociated rows, direct rows] (one of them empty).

        With few global tokens (H x < D + x) the key_global/value_global projections of all L tokens
        (4 L D^2 FLOPs) are not formed: q . (Wk_h h_j + bk_h) = (Wk_h^T q) . h_j + q . bk_h and
        sum_j p_j (Wv_h h_j + bv_h) = Wv_h (sum_j p_j h_j) + bv_h sum_j p_j (as led_ref does,
        spec/SPEC.md#encoder-self-attention). The choice is data-dependent, so instead of a branch
        both forms are in the graph and the unused one runs on empty tensors (0 slots / 0 rows)."""
        H, d, D = self.num_heads, self.head_dim, self.embed_dim
        neg = torch.finfo(h.dtype).min
        x, L = _shape(qG, 2), _shape(h, 1)
        zero = torch.zeros_like(x)
        reassoc = x * H < D + x
        n_re = torch.where(reassoc, x, zero)
        n_direct, rows = torch.where(reassoc, zero, x), torch.where(reassoc, zero, L)

        q = qG.index_select(2, torch.arange(n_re, device=h.device))  # (B, H, x_re, d)
        wk = self.key_global.weight.reshape(H, d, D)
        s = torch.matmul(torch.matmul(q, wk), h[:, None].transpose(-1, -2))  # (B, H, x_re, L)
        s = s + torch.matmul(q, self.key_global.bias.reshape(H, d, 1))
        p = torch.softmax(s.masked_fill(is_masked[:, None, None, :], neg), -1)
        wv = self.value_global.weight.reshape(H, d, D).transpose(-1, -2)  # (H, D, d)
        out_re = torch.matmul(torch.matmul(p, h[:, None]), wv)  # (B, H, x_re, d)
        out_re = out_re + p.sum(-1, keepdim=True) * self.value_global.bias.reshape(H, 1, d)

        q = qG.index_select(2, torch.arange(n_direct, device=h.device))  # (B, H, x_direct, d)
        idx = torch.arange(rows, device=h.device)
        hs = h.index_select(1, idx)  # (B, L or 0, D)
        kG, vG = self._split_heads(self.key_global(hs)), self._split_heads(self.value_global(hs))
        s = torch.matmul(q, kG.transpose(-1, -2))  # (B, H, x_direct, L)
        s = s.masked_fill(is_masked.index_select(1, idx)[:, None, None, :], neg)
        out_direct = torch.matmul(torch.softmax(s, -1), vG)  # (B, H, x_direct, d)
        return out_re, out_direct


def _drop_last(x, dim):
    return x[(slice(None),) * dim + (slice(None, -1),)]


def _drop_first(x, dim):
    return x[(slice(None),) * dim + (slice(1, None),)]


def _bias(masked, dtype):
    """0 where attended, finfo(dtype).min where ``masked`` (HF's additive masks)."""
    return torch.zeros_like(masked, dtype=dtype).masked_fill(masked, torch.finfo(dtype).min)


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


class LEDEncoderAttention(nn.Module):
    def __init__(self, config, layer_id):
        super().__init__()
        d = int(_cfg(config, "d_model"))
        self.longformer_self_attn = LEDEncoderSelfAttention(config, layer_id)
        self.output = nn.Linear(d, d)

    def forward(self, h, is_local, is_masked, glob):
        return self.output(self.longformer_self_attn(h, is_local, is_masked, glob))


class LEDEncoderLayer(nn.Module):
    def __init__(self, config, layer_id):
        super().__init__()
        d, ffn = int(_cfg(config, "d_model")), int(_cfg(config, "encoder_ffn_dim"))
        self.self_attn = LEDEncoderAttention(config, layer_id)
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.fc1, self.fc2 = nn.Linear(d, ffn), nn.Linear(ffn, d)
        self.final_layer_norm = nn.LayerNorm(d)
        self.act = _activation(config)

    def forward(self, h, is_local, is_masked, glob):
        h = self.self_attn_layer_norm(h + self.self_attn(h, is_local, is_masked, glob))
        return self.final_layer_norm(h + self.fc2(self.act(self.fc1(h))))


class LEDEncoder(nn.Module):
    def __init__(self, config, embed_tokens):
        super().__init__()
        d = int(_cfg(config, "d_model"))
        self.embed_tokens = embed_tokens
        self.embed_positions = LEDLearnedPositionalEmbedding(int(_cfg(config, "max_encoder_position_embeddings")), d)
        self.layers = nn.ModuleList([LEDEncoderLayer(config, i) for i in range(int(_cfg(config, "encoder_layers")))])
        self.layernorm_embedding = nn.LayerNorm(d)

    def forward(self, input_ids, attention_mask, global_attention_mask):
        """(B, S) int64 x3 -> last_hidden_state (B, S, D) (spec/SPEC.md#encoder)."""
        # HF's merge (led_ref.inputs): a global flag on padding stays padding
        merged = merge_masks(attention_mask.to(torch.int64), global_attention_mask.to(torch.int64))
        is_masked = merged == int(MaskKind.PADDING)
        is_local = merged == int(MaskKind.LOCAL)
        is_global = merged == int(MaskKind.GLOBAL)
        positions = position_ids(input_ids[0])  # (S,)
        h = self.layernorm_embedding(self.embed_tokens(input_ids) + self.embed_positions(positions))
        glob = global_slots(is_global)
        for layer in self.layers:
            h = layer(h, is_local, is_masked, glob)
        return h


class LEDDecoderAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        if d % heads:
            raise ValueError(f"d_model={d} is not a multiple of decoder_attention_heads={heads}")
        self.num_heads, self.head_dim = heads, d // heads
        self.scaling = self.head_dim**-0.5
        self.k_proj, self.v_proj, self.q_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))

    def split(self, x):  # (B, T, D) -> (B, H, T, d)
        return x.reshape(x.shape[0], -1, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, h, k, v, bias):
        """h (B, T, D); k, v (B, H, S, d); bias broadcastable to (B, H, T, S) (0 or finfo.min)."""
        q = self.split(self.q_proj(h) * self.scaling)
        p = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) + bias, -1)
        out = torch.matmul(p, v).transpose(1, 2)  # (B, T, H, d)
        return self.out_proj(out.reshape(out.shape[0], -1, self.num_heads * self.head_dim))


class LEDDecoderLayer(nn.Module):
    def __init__(self, config):
        super().__init__()
        d, heads = int(_cfg(config, "d_model")), int(_cfg(config, "decoder_attention_heads"))
        ffn = int(_cfg(config, "decoder_ffn_dim"))
        self.self_attn = LEDDecoderAttention(d, heads)
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.encoder_attn = LEDDecoderAttention(d, heads)
        self.encoder_attn_layer_norm = nn.LayerNorm(d)
        self.fc1, self.fc2 = nn.Linear(d, ffn), nn.Linear(ffn, d)
        self.final_layer_norm = nn.LayerNorm(d)
        self.act = _activation(config)

    def forward(self, h, self_bias, cross_bias, past_k, past_v, cross_k, cross_v, enc):
        """One decoder layer; past_k/v may be None, cross_k/v None -> computed from enc.
        Returns (h, self_k, self_v, cross_k, cross_v) with the caches in (B, H, len, d)."""
        sa = self.self_attn
        k, v = sa.split(sa.k_proj(h)), sa.split(sa.v_proj(h))
        if past_k is not None:
            k, v = torch.cat([past_k, k], 2), torch.cat([past_v, v], 2)
        h = self.self_attn_layer_norm(h + sa(h, k, v, self_bias))
        ca = self.encoder_attn
        if cross_k is None:
            cross_k, cross_v = ca.split(ca.k_proj(enc)), ca.split(ca.v_proj(enc))
        h = self.encoder_attn_layer_norm(h + ca(h, cross_k, cross_v, cross_bias))
        h = self.final_layer_norm(h + self.fc2(self.act(self.fc1(h))))
        return h, k, v, cross_k, cross_v


class LEDDecoder(nn.Module):
    def __init__(self, config, embed_tokens):
        super().__init__()
        d = int(_cfg(config, "d_model"))
        self.embed_tokens = embed_tokens
        self.embed_positions = LEDLearnedPositionalEmbedding(int(_cfg(config, "max_decoder_position_embeddings")), d)
        self.layers = nn.ModuleList([LEDDecoderLayer(config) for _ in range(int(_cfg(config, "decoder_layers")))])
        self.layernorm_embedding = nn.LayerNorm(d)

    def forward(self, input_ids, encoder_hidden_states, encoder_attention_mask, past=None):
        """input_ids (B, T); encoder_hidden_states (B, S, D) or None when ``past`` holds the cross
        caches; past: per layer (self_k, self_v, cross_k, cross_v) or None.
        Returns (hidden (B, T, D), present per layer (self_k, self_v, cross_k, cross_v))."""
        P = _shape(past[0][0], 2) if past is not None else torch.zeros((), dtype=torch.int64)
        t = position_ids(input_ids[0])  # (T,) from 0; absolute positions P + t
        h = self.layernorm_embedding(self.embed_tokens(input_ids) + self.embed_positions(t + P))
        dtype = h.dtype
        # query t (absolute position P + t) sees key j iff j <= P + t
        keys = torch.arange(P + _shape(t, 0), device=h.device)
        self_bias = _bias(keys[None, :] > (t + P)[:, None], dtype)  # (T, P+T)
        cross_bias = _bias(encoder_attention_mask[:, None, None, :] == 0, dtype)  # (B, 1, 1, S)
        present = []
        for i, layer in enumerate(self.layers):
            pk, pv, ck, cv = past[i] if past is not None else (None, None, None, None)
            h, k, v, ck, cv = layer(h, self_bias, cross_bias, pk, pv, ck, cv, encoder_hidden_states)
            present.append((k, v, ck, cv))
        return h, present


class LEDModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.shared = nn.Embedding(int(_cfg(config, "vocab_size")), int(_cfg(config, "d_model")))
        self.encoder = LEDEncoder(config, self.shared)
        self.decoder = LEDDecoder(config, self.shared)

    def shift_tokens_right(self, input_ids):
        start = torch.full_like(input_ids[:, :1], int(_cfg(self.config, "decoder_start_token_id", 2)))
        shifted = torch.cat([start, input_ids[:, :-1]], 1)
        return shifted.masked_fill(shifted == -100, int(_cfg(self.config, "pad_token_id", 1)))

    def forward(self, input_ids, attention_mask, global_attention_mask):
        """Encoder + decoder on shift_tokens_right(input_ids): decoder last hidden state (B, S, D)."""
        enc = self.encoder(input_ids, attention_mask, global_attention_mask)
        dec, _ = self.decoder(self.shift_tokens_right(input_ids), enc, attention_mask)
        return dec


class LEDForConditionalGeneration(nn.Module):
    def __init__(self, config, tie_word_embeddings=True):
        super().__init__()
        self.led = LEDModel(config)
        self.lm_head = nn.Linear(int(_cfg(config, "d_model")), int(_cfg(config, "vocab_size")), bias=False)
        if tie_word_embeddings:
            self.lm_head.weight = self.led.shared.weight
        self.register_buffer("final_logits_bias", torch.zeros(1, int(_cfg(config, "vocab_size"))))

    def logits(self, h):
        return self.lm_head(h) + self.final_logits_bias


class LEDClassificationHead(nn.Module):
    def __init__(self, d, inner, classes):
        super().__init__()
        self.dense, self.out_proj = nn.Linear(d, inner), nn.Linear(inner, classes)

    def forward(self, x):
        return self.out_proj(torch.tanh(self.dense(x)))


def _num_labels(config):
    n = _cfg(config, "num_labels")
    if n is None:
        n = len(_cfg(config, "id2label", {}) or {}) or 2
    return int(n)


class LEDForSequenceClassification(nn.Module):
    def __init__(self, config):
        super().__init__()
        d = int(_cfg(config, "d_model"))
        self.eos_token_id = int(_cfg(config, "eos_token_id", 2))
        self.led = LEDModel(config)
        self.classification_head = LEDClassificationHead(d, d, _num_labels(config))

    def forward(self, input_ids, attention_mask, global_attention_mask):
        """logits (B, num_labels) from the decoder state at each row's last eos token."""
        h = self.led(input_ids, attention_mask, global_attention_mask)  # (B, S, D)
        pos = torch.cumsum(torch.ones_like(input_ids), 1)  # 1-based positions
        last_eos = torch.argmax((input_ids == self.eos_token_id).to(torch.int64) * pos, 1)  # (B,)
        rep = torch.gather(h, 1, last_eos[:, None, None].expand(-1, 1, h.shape[-1]))[:, 0]
        return self.classification_head(rep)


class LEDForQuestionAnswering(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.led = LEDModel(config)
        self.qa_outputs = nn.Linear(int(_cfg(config, "d_model")), 2)

    def forward(self, input_ids, attention_mask, global_attention_mask):
        """(start_logits, end_logits), each (B, S)."""
        logits = self.qa_outputs(self.led(input_ids, attention_mask, global_attention_mask))
        return logits[..., 0], logits[..., 1]


MODEL_CLASSES = {
    "base": LEDModel,
    "lm": LEDForConditionalGeneration,
    "seq_cls": LEDForSequenceClassification,
    "qa": LEDForQuestionAnswering,
}

HEAD_KEYS = frozenset(name.split(".")[0] for name in ALL_HEAD_PARAMETERS)  # top-level modules of the heads


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

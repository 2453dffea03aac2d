"""Training kernels of the torch graph: the same values as the readable path in ``torch_model``, with less memory
and fewer passes over it (spec/SPEC.md#training).

* ``band_attention``: the encoder's local attention (sliding window + the global keys every query also sees) as one
  autograd function that stores no score or probability tensor. Forward runs torch's fused CPU attention kernel
  (``_scaled_dot_product_flash_attention_for_cpu``: blockwise online softmax) on query blocks of ``c`` tokens, each
  against a strided *view* of its 2w + c window keys (no copy of the keys per block); the few global keys are
  scored apart and merged through the log-sum-exp. Backward recomputes the probabilities block by block from the
  stored q, k, v, output and log-sum-exp (flash-attention style), so a layer keeps O(L d) activations instead of
  O(L w). ``torch_model.LEDEncoderSelfAttention`` calls it when ``band_attention_applies`` (not while exporting,
  no attention dropout in training, float32/float64); the readable head-by-head path stays the definition and
  the tests keep both equal.
* ``band_attention_inference``: the same forward without autograd (``torch.no_grad()``), on keys and values that
  ``padded_linear`` projected straight into their window-padded buffers (no padding copy, nothing kept).
* ``act_linear``: ``fc2(act(a))`` for the feed-forward block, storing ``a`` only and recomputing ``act(a)`` in
  backward (the (L, ffn) activation output is not kept per layer).

Shapes: B batch, L (padded) length, D = H d model width, H heads of d, x global slots, w one-sided window, c query
block, K = 2w + c keys per block.
"""

import functools

import torch
from torch.nn import functional as F

_flash = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
_flash_backward = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward

KERNEL_DTYPES = (torch.float32, torch.float64)
# Target query block c (a divisor of w is taken): K = 2w + c keys per query, so 1 + c / 2w of the band is scored.
# Backward's window gradients of k and v are (L / c) K rows each, which torch's kernel allocates and zero-fills:
# a larger c scores more than the band but writes fewer rows; c = w / 2 balances the two at led-base's w = 512.
BLOCK = 256


def block_size(w, target=BLOCK):
    """The query block for one-sided window ``w``: the largest divisor of ``w`` up to ``target`` (the padded
    length is a multiple of w, so blocks tile it)."""
    return max(n for n in range(1, min(w, target) + 1) if w % n == 0)


def exporting():
    """True while torch.onnx / torch.jit trace the graph: the traced graph keeps the readable path."""
    return torch.jit.is_tracing() or torch.jit.is_scripting() or torch.onnx.is_in_onnx_export()


def band_attention_applies(dtype, device, dropout, training):
    """Whether ``band_attention`` computes this call: eager CPU, float32/float64 projections outside autocast
    (mixed precision takes the readable path), and no attention dropout in effect (the fused kernel has none; with
    dropout the readable path runs)."""
    autocast = torch.is_autocast_enabled("cpu")
    return (
        dtype in KERNEL_DTYPES
        and device.type == "cpu"
        and not (training and dropout > 0)
        and not autocast
        and not exporting()
    )


@functools.lru_cache(maxsize=16)
def _band_bias(w, c, dtype, device):
    """(c, K) additive band mask, the same for every block: 0 where |(j - w) - i| <= w, finfo.min elsewhere."""
    i = torch.arange(c, device=device)[:, None]
    j = torch.arange(2 * w + c, device=device)[None, :]
    band = (j >= i) & (j <= i + 2 * w)
    return torch.zeros(band.shape, dtype=dtype, device=device).masked_fill_(~band, torch.finfo(dtype).min)


def _band_mask(key_ok_padded, w, c, dtype):
    """Additive mask (nb, 1, c, K) of one batch row: 0 where query i of block n may see key j of the block's window
    (|(j - w) - i| <= w and the key is a local token), finfo.min elsewhere (HF's value for removed keys): the
    minimum of the block-independent band mask and each block's (K,) key mask, one pass over the output.
    key_ok_padded: (L + 2w,) bool, False on the w padding rows at either end."""
    K = 2 * w + c
    nb = (key_ok_padded.shape[0] - 2 * w) // c
    kok = key_ok_padded.as_strided((nb, K), (c, 1))  # (nb, K): the block's window keys
    key_bias = torch.zeros(kok.shape, dtype=dtype, device=kok.device).masked_fill_(~kok, torch.finfo(dtype).min)
    return torch.minimum(_band_bias(w, c, dtype, kok.device), key_bias[:, None, :])[:, None]  # (nb, 1, c, K)


def _blocks(t, H, c):
    """(L, D) -> (nb, H, c, d): the query blocks, a view."""
    L, D = t.shape
    d = D // H
    return t.as_strided((L // c, H, c, d), (c * D, d, D, 1))


def _windows(tpad, H, c, w):
    """(L + 2w, D) padded keys -> (nb, H, K, d): block n's window keys (padded rows n c .. n c + K - 1), a view."""
    Lp2, D = tpad.shape
    d = D // H
    nb = (Lp2 - 2 * w) // c
    return tpad.as_strided((nb, H, 2 * w + c, d), (c * D, d, D, 1))


def _from_blocks(t):
    """(nb, H, c, d) -> (nb c, H d)."""
    nb, H, c, d = t.shape
    return t.transpose(1, 2).reshape(nb * c, H * d)


def _fold_windows(dwin, w, c):
    """Gradient of ``_windows``: (nb, H, K, d) window gradients -> (at least L + 2w, D) rows, summing the
    overlaps (rows past L + 2w, if any, are zero)."""
    nb, H, K, d = dwin.shape
    m = -(-K // c)  # window blocks per query block: K = 2w + c, zero-padded to a multiple of c
    parts = dwin.transpose(1, 2)  # (nb, K, H, d)
    if m * c != K:
        parts = F.pad(parts, (0, 0, 0, 0, 0, m * c - K))
    parts = parts.reshape(nb, m, c, H * d)
    out = torch.zeros(nb + m - 1, c, H * d, dtype=dwin.dtype, device=dwin.device)
    for s in range(m):
        out[s : s + nb] += parts[:, s]
    return out.reshape((nb + m - 1) * c, H * d)


def _band_forward(q, kpad, vpad, kg, vg, okpad, slot_valid, H, w, c):
    """Output (B, L, D) and log-sum-exp (B, H, L) of the local attention: q (B, L, D), kpad/vpad (B, L + 2w, D)
    with w zero rows at either end, okpad (B, L + 2w) bool (False on those rows)."""
    B, L, D = q.shape
    d = D // H
    x = kg.shape[1]
    outs, lses = [], []
    for b in range(B):
        o, lse = _flash(
            _blocks(q[b], H, c),
            _windows(kpad[b], H, c, w),
            _windows(vpad[b], H, c, w),
            attn_mask=_band_mask(okpad[b], w, c, q.dtype),
            scale=1.0,
        )  # (nb, H, c, d) laid out as (nb, c, H, d); (nb, H, c)
        outs.append(_from_blocks(o))  # a view
        lses.append(lse.transpose(0, 1).reshape(H, L))
    out = outs[0][None] if B == 1 else torch.stack(outs)  # (B, L, D)
    lse = lses[0][None] if B == 1 else torch.stack(lses)  # (B, H, L)
    if x:
        # the global keys, merged through the log-sum-exp: softmax over [globals, window] jointly; in place on the
        # fresh window output (autograd sees only the function's result)
        qh = q.view(B, L, H, d).transpose(1, 2)  # (B, H, L, d)
        kgh, vgh = kg.view(B, x, H, d).transpose(1, 2), vg.view(B, x, H, d).transpose(1, 2)  # (B, H, x, d)
        sg = torch.matmul(qh, kgh.transpose(-1, -2)).add_(_slot_bias(slot_valid, q.dtype))  # (B, H, L, x)
        lse_all = torch.logaddexp(lse, torch.logsumexp(sg, -1))
        og = torch.matmul(sg.sub_(lse_all[..., None]).exp_(), vgh)  # (B, H, L, d)
        scale = lse.sub_(lse_all).exp_()[..., None]  # (B, H, L, 1): the window's share
        out.view(B, L, H, d).mul_(scale.transpose(1, 2)).add_(og.transpose(1, 2))
        lse = lse_all
    return out, lse


class _BandAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, kg, vg, key_ok, slot_valid, H, w, c):
        kpad, vpad = F.pad(k, (0, 0, w, w)), F.pad(v, (0, 0, w, w))  # (B, L + 2w, D)
        okpad = F.pad(key_ok, (w, w))  # (B, L + 2w): the padding rows are no keys
        out, lse = _band_forward(q, kpad, vpad, kg, vg, okpad, slot_valid, H, w, c)
        ctx.save_for_backward(q, kpad, vpad, kg, vg, okpad, slot_valid, out, lse)
        ctx.shape = (H, w, c)
        return out

    @staticmethod
    def backward(ctx, dout):
        q, kpad, vpad, kg, vg, okpad, slot_valid, out, lse = ctx.saved_tensors
        H, w, c = ctx.shape
        B, L, D = q.shape
        d = D // H
        x = kg.shape[1]
        dout = dout.contiguous()
        grads = []
        for b in range(B):
            dqb, dkw, dvw = _flash_backward(
                _blocks(dout[b], H, c),
                _blocks(q[b], H, c),
                _windows(kpad[b], H, c, w),
                _windows(vpad[b], H, c, w),
                _blocks(out[b], H, c),
                lse[b].view(H, L // c, c).transpose(0, 1).contiguous(),
                0.0,
                False,
                attn_mask=_band_mask(okpad[b], w, c, q.dtype),
                scale=1.0,
            )
            grads.append((_from_blocks(dqb), _fold_windows(dkw, w, c)[w : w + L], _fold_windows(dvw, w, c)[w : w + L]))
        dq, dk, dv = (g[0][None] if B == 1 else torch.stack(g) for g in zip(*grads))  # (B, L, D) each
        dkg = dvg = None
        if x:
            qh, oh, doh = (t.view(B, L, H, d).transpose(1, 2) for t in (q, out, dout))  # (B, H, L, d)
            kgh, vgh = kg.view(B, x, H, d).transpose(1, 2), vg.view(B, x, H, d).transpose(1, 2)
            p = torch.exp(torch.matmul(qh, kgh.transpose(-1, -2)) + _slot_bias(slot_valid, q.dtype) - lse[..., None])
            dvg = torch.matmul(p.transpose(-1, -2), doh)  # (B, H, x, d)
            ds = p * (torch.matmul(doh, vgh.transpose(-1, -2)) - (doh * oh).sum(-1, keepdim=True))  # (B, H, L, x)
            dq = dq + torch.matmul(ds, kgh).transpose(1, 2).reshape(B, L, D)
            dkg = torch.matmul(ds.transpose(-1, -2), qh)  # (B, H, x, d)
            dkg, dvg = (t.transpose(1, 2).reshape(B, x, D) for t in (dkg, dvg))
        return dq, dk, dv, dkg, dvg, None, None, None, None, None


def _slot_bias(slot_valid, dtype):
    """(B, x) -> (B, 1, 1, x): 0 for a row's global slots, finfo.min for slots beyond its own count."""
    bias = torch.zeros(slot_valid.shape, dtype=dtype, device=slot_valid.device)
    return bias.masked_fill_(~slot_valid, torch.finfo(dtype).min)[:, None, None, :]


def band_attention(q, k, v, kg, vg, key_ok, slot_valid, num_heads, w, c=None):
    """Local attention output (B, L, D) of every query: softmax over its window keys (|i - j| <= w with
    ``key_ok[j]``) and the row's valid global keys, jointly (spec/SPEC.md#encoder-self-attention, local rows).

    q (B, L, D) already scaled; k, v (B, L, D); kg, vg (B, x, D) the keys/values at the global positions (x may be
    0); key_ok (B, L) bool; slot_valid (B, x) bool; ``c`` the query block (default ``block_size(w)``; L is padded
    to a multiple of it, the padding being no key). Probabilities are never stored: backward recomputes them (see
    the module docstring)."""
    c = block_size(w) if c is None else int(c)
    if c < 1:
        raise ValueError(f"band_attention: query block c must be >= 1, got {c}")
    L = q.shape[1]
    tail = -L % c
    if tail:
        q, k, v = (F.pad(t, (0, 0, 0, tail)) for t in (q, k, v))
        key_ok = F.pad(key_ok, (0, tail))
    q, k, v, kg, vg = (t.contiguous() for t in (q, k, v, kg, vg))
    out = _BandAttention.apply(q, k, v, kg, vg, key_ok, slot_valid, int(num_heads), int(w), c)
    return out[:, :L] if tail else out


def padded_linear(x, linear, w):
    """``F.pad(linear(x), (0, 0, w, w))`` written straight into the padded (B, L + 2w, D_out) buffer (no copy of
    the projection): for ``band_attention_inference``, without autograd. x (B, L, D_in); ``linear`` an
    ``nn.Linear``."""
    B, L, _ = x.shape
    out = x.new_empty(B, L + 2 * w, linear.out_features)
    out[:, :w].zero_()
    out[:, w + L :].zero_()
    wt = linear.weight.t()
    for b in range(B):
        if linear.bias is None:
            torch.mm(x[b], wt, out=out[b, w : w + L])
        else:
            torch.addmm(linear.bias, x[b], wt, out=out[b, w : w + L])
    return out


def scaled_linear(x, linear, scale):
    """``linear(x) * scale`` in one product (alpha/beta of addmm), without autograd: x (B, L, D_in)."""
    x2 = x.reshape(-1, x.shape[-1])
    if linear.bias is None:
        y = torch.mm(x2, linear.weight.t()).mul_(scale)
    else:
        y = torch.addmm(linear.bias, x2, linear.weight.t(), beta=scale, alpha=scale)
    return y.view(*x.shape[:-1], linear.out_features)


def band_attention_inference(q, kpad, vpad, kg, vg, key_ok, slot_valid, num_heads, w):
    """``band_attention`` without autograd (under ``torch.no_grad()``) on keys and values already padded by w zero
    rows at either end (``padded_linear``): nothing is kept for backward and the padding is not copied. q (B, L,
    D) scaled, L a multiple of ``block_size(w)``; kpad/vpad (B, L + 2w, D); the rest as ``band_attention``."""
    c = block_size(w)
    if q.shape[1] % c:
        raise ValueError(f"band_attention_inference: length {q.shape[1]} is not a multiple of the query block {c}")
    okpad = F.pad(key_ok, (w, w))
    out, _ = _band_forward(
        q.contiguous(), kpad, vpad, kg.contiguous(), vg.contiguous(), okpad, slot_valid, int(num_heads), int(w), c
    )
    return out


class _ActLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, weight, bias, act):
        ctx.save_for_backward(a, weight)
        ctx.act = act
        ctx.has_bias = bias is not None
        return F.linear(act(a), weight, bias)

    @staticmethod
    def backward(ctx, dy):
        a, weight = ctx.saved_tensors
        with torch.enable_grad():
            a_ = a.detach().requires_grad_(True)
            g = ctx.act(a_)
        dy2 = dy.reshape(-1, dy.shape[-1])
        dweight = torch.matmul(dy2.t(), g.detach().reshape(-1, g.shape[-1]))
        dbias = dy2.sum(0) if ctx.has_bias else None
        (da,) = torch.autograd.grad(g, a_, torch.matmul(dy, weight))
        return da, dweight, dbias, None


def act_linear(a, linear, act):
    """``linear(act(a))`` that stores ``a`` only (act(a) is recomputed in backward): the feed-forward block's
    second half. Same values as the plain expression; under autocast (mixed precision) or with mixed dtypes the
    plain expression runs (autocast picks each product's dtype)."""
    autocast = torch.is_autocast_enabled("cpu") or torch.is_autocast_enabled(a.device.type)
    if not torch.is_grad_enabled() or exporting() or autocast or a.dtype != linear.weight.dtype:
        return linear(act(a))
    return _ActLinear.apply(a, linear.weight, linear.bias, act)

"""led_ref.export.kernels: the fused local attention and the feed-forward recompute give the readable torch path's
values and gradients, store less for backward, and stay out of traced (exported) graphs."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings
from hypothesis import strategies as st

from led_ref.config import LEDConfig
from led_ref.export import kernels
from led_ref.export.torch_model import ACTIVATIONS, LEDEncoderSelfAttention, global_slots
from led_ref.tolerances import GRADIENT_TOLERANCE, TOLERANCE, relative_error

pytestmark = pytest.mark.export


def _attention(window, heads=2, d_model=16, dropout=0.0):
    config = LEDConfig(
        vocab_size=40,
        d_model=d_model,
        encoder_layers=1,
        encoder_attention_heads=heads,
        attention_window=window,
        attention_dropout=dropout,
    )
    torch.manual_seed(window)
    attn = LEDEncoderSelfAttention(config, 0).to(torch.float64)
    for p in attn.parameters():  # wide weights: attention far from uniform, a wrong key shows
        torch.nn.init.normal_(p, std=0.5)
    return attn


@st.composite
def inputs(draw):
    window = draw(st.sampled_from([2, 4, 6, 8, 16]))
    B = draw(st.integers(1, 3))
    L = draw(st.integers(1, 3 * window + 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    is_masked = np.zeros((B, L), bool)
    is_global = np.zeros((B, L), bool)
    for b in range(B):
        n = L if b == 0 else int(rng.integers(1, L + 1))
        is_masked[b, n:] = True
        k = draw(st.sampled_from([0, 1, min(3, n), n]))
        is_global[b, rng.choice(n, size=k, replace=False)] = True
    return window, torch.from_numpy(is_masked), torch.from_numpy(is_global), int(rng.integers(0, 2**16))


def _run(attn, h, is_masked, is_global, use_kernels):
    attn.use_kernels = use_kernels
    attn.zero_grad(set_to_none=True)
    h = h.detach().requires_grad_(True)
    out = attn(h, ~(is_masked | is_global), is_masked, global_slots(is_global))
    g = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).reshape(out.shape)
    (out * g).sum().backward()
    grads = {n: p.grad.numpy().copy() for n, p in attn.named_parameters() if p.grad is not None}
    return out.detach().numpy(), h.grad.numpy(), grads


@settings(max_examples=40, deadline=None)
@given(case=inputs(), train=st.booleans())
def test_band_attention_equals_the_readable_path(case, train):
    """Every window size (query blocks of one or several tokens), padding, 0/1/many/all global tokens, train and
    eval: output, input gradient and every parameter gradient equal the blocked head-by-head path's (float64)."""
    window, is_masked, is_global, seed = case
    attn = _attention(window).train(train)
    h = torch.from_numpy(np.random.default_rng(seed).normal(size=(*is_masked.shape, 16)))
    assert kernels.band_attention_applies(h.dtype, h.device, attn.attention_dropout, attn.training)
    fast, slow = _run(attn, h, is_masked, is_global, True), _run(attn, h, is_masked, is_global, False)
    assert relative_error(fast[0], slow[0]) <= TOLERANCE["float64"]
    assert relative_error(fast[1], slow[1]) <= TOLERANCE["float64"]
    assert fast[2].keys() == slow[2].keys()
    for name in slow[2]:
        assert relative_error(fast[2][name], slow[2][name]) <= TOLERANCE["float64"], name


@pytest.mark.parametrize("block", [1, 3, 4, 5])
def test_band_attention_any_block_and_float32(block):
    """The query block only changes the blocking (band_attention pads the length to it; a block that does not
    divide 2w too): the same output and input gradients; float32 within its tolerance of float64."""
    torch.manual_seed(0)
    B, L, H, d, w, x = 2, 13, 2, 4, 4, 2
    q, k, v = (torch.randn(B, L, H * d, dtype=torch.float64) for _ in range(3))
    kg, vg = torch.randn(B, x, H * d, dtype=torch.float64), torch.randn(B, x, H * d, dtype=torch.float64)
    key_ok = torch.rand(B, L) > 0.3
    key_ok[:, ::2] = True
    slot_valid = torch.tensor([[True, True], [True, False]])
    inputs = [t.requires_grad_() for t in (q, k, v, kg, vg)]
    ref = kernels.band_attention(q, k, v, kg, vg, key_ok, slot_valid, H, w, c=2)
    weights = torch.randn(ref.shape, dtype=torch.float64)
    ref_grads = torch.autograd.grad((ref * weights).sum(), inputs)
    got = kernels.band_attention(q, k, v, kg, vg, key_ok, slot_valid, H, w, c=block)
    got_grads = torch.autograd.grad((got * weights).sum(), inputs)
    assert relative_error(got.detach().numpy(), ref.detach().numpy()) <= TOLERANCE["float64"]
    for name, g, r in zip("q k v kg vg".split(), got_grads, ref_grads):
        assert relative_error(g.numpy(), r.numpy()) <= GRADIENT_TOLERANCE["float64"], name
    ref = ref.detach()
    f32 = kernels.band_attention(*(t.detach().float() for t in (q, k, v, kg, vg)), key_ok, slot_valid, H, w, c=block)
    assert relative_error(f32.numpy(), ref.numpy()) <= TOLERANCE["float32"]


def test_band_attention_stores_no_band():
    """Saved for backward by one attention call in training: O(L d) with the kernel; the readable path keeps every
    head's (nb, c, x + (2kb+1)c) probabilities."""
    L, D, window = 512, 16, 64
    attn = _attention(window).train()
    h = torch.randn(1, L, D, dtype=torch.float64, requires_grad=True)
    is_global = torch.zeros(1, L, dtype=torch.bool)
    is_global[0, 0] = True
    is_masked = torch.zeros(1, L, dtype=torch.bool)
    args = (h, ~is_global, is_masked, global_slots(is_global))
    probs_bytes = 2 * L * (1 + 5 * window // 4) * 8  # H x Lp x (x + (2kb+1)c) float64, c = w / 2

    saved = {}
    for use_kernels in (True, False):
        attn.use_kernels = use_kernels
        storages = {}

        def pack(t, storages=storages):
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            attn(*args)
        saved[use_kernels] = sum(storages.values())
    assert saved[False] - saved[True] >= probs_bytes, saved
    assert saved[True] <= 24 * L * D * 8, saved  # a few (L, D) tensors: h, q, k, v, padded k/v, output


def test_the_kernel_stays_out_of_traced_graphs():
    """While torch traces (ONNX export, torch.jit.trace) band_attention_applies is False: exported graphs hold the
    readable path; with attention dropout in training, or float16, the readable path runs too."""
    seen = []

    def f(x):
        seen.append(kernels.band_attention_applies(x.dtype, x.device, 0.0, False))
        return x * 2

    torch.jit.trace(f, torch.ones(2), check_trace=False)
    assert seen == [False]
    assert kernels.band_attention_applies(torch.float32, torch.device("cpu"), 0.0, False)
    assert not kernels.band_attention_applies(torch.float32, torch.device("cpu"), 0.1, True)
    assert kernels.band_attention_applies(torch.float32, torch.device("cpu"), 0.1, False)
    assert not kernels.band_attention_applies(torch.float16, torch.device("cpu"), 0.0, False)


@pytest.mark.parametrize("name", ["gelu", "gelu_new", "relu", "silu", "quick_gelu"])
def test_act_linear_equals_the_plain_expression(name):
    """fc2(act(a)) with act(a) recomputed in backward: same value and gradients (a, weight, bias) as autograd's,
    and act(a) is not among the tensors saved for backward."""
    torch.manual_seed(0)
    act = ACTIVATIONS[name]
    fc2 = torch.nn.Linear(12, 5).double()
    a = torch.randn(2, 7, 12, dtype=torch.float64, requires_grad=True)
    g = torch.randn(2, 7, 5, dtype=torch.float64)
    results = []
    for fused in (True, False):
        fc2.zero_grad()
        a.grad = None
        y = kernels.act_linear(a, fc2, act) if fused else fc2(act(a))
        y.backward(g)
        results.append([y.detach(), a.grad.clone(), fc2.weight.grad.clone(), fc2.bias.grad.clone()])
    for got, ref in zip(*results):
        assert relative_error(got.numpy(), ref.numpy()) <= TOLERANCE["float64"]
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        kernels.act_linear(a, fc2, act)
    assert len(saved) == 2 and saved[0] is a  # a and the weight, not act(a)


def test_act_linear_under_autocast_is_the_plain_expression():
    """Mixed precision (torch.autocast, bfloat16, as led-ref finetune --bf16 and HF's Trainer bf16 run it): autocast
    picks the products' dtypes, so act_linear runs the plain expression: same bfloat16 value, and backward gives
    float32 gradients for the float32 weights."""
    torch.manual_seed(0)
    fc1, fc2 = torch.nn.Linear(12, 16), torch.nn.Linear(16, 5)
    h = torch.randn(2, 7, 12)
    results = []
    for fused in (True, False):
        fc1.zero_grad(), fc2.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            a = fc1(h)
            y = kernels.act_linear(a, fc2, torch.nn.functional.gelu) if fused else fc2(torch.nn.functional.gelu(a))
        assert y.dtype == torch.bfloat16
        y.float().square().sum().backward()
        assert fc2.weight.grad.dtype == torch.float32
        results.append([y.detach().float(), fc1.weight.grad.clone(), fc2.weight.grad.clone()])
    for got, ref in zip(*results):
        assert torch.equal(got, ref)


@settings(max_examples=40, deadline=None)
@given(case=inputs(), plain_query=st.booleans())
def test_inference_path_equals_the_readable_path(case, plain_query):
    """Under torch.no_grad() the attention takes its inference path (projections into padded buffers, global rows
    written in place) where the length is a multiple of the query block: the readable path's output (float64);
    with a wrapped query projection it runs the kernel path instead, with the same output."""
    window, is_masked, is_global, seed = case
    attn = _attention(window).eval()
    if not plain_query:
        attn.query = torch.nn.Sequential(attn.query)
    c = kernels.block_size(window // 2)
    L = -(-is_masked.shape[1] // c) * c  # the encoder pads to the window, a multiple of c
    is_masked = torch.nn.functional.pad(is_masked, (0, L - is_masked.shape[1]), value=True)
    is_global = torch.nn.functional.pad(is_global, (0, L - is_global.shape[1]))
    h = torch.from_numpy(np.random.default_rng(seed).normal(size=(*is_masked.shape, 16)))
    args = (h, ~(is_masked | is_global), is_masked, global_slots(is_global))
    assert attn._inference_applies(h) is False  # autograd on
    with torch.no_grad():
        assert attn._inference_applies(h) is plain_query
        fast = attn(*args)
        attn.use_kernels = False
        slow = attn(*args)
    assert relative_error(fast.numpy(), slow.numpy()) <= TOLERANCE["float64"]

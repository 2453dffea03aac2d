"""Memory of training with the torch graph (led_ref.export.training, README "Training step"): the per-head
recompute under gradient checkpointing, the fused AdamW (also after --resume) and the glibc heap limit that keeps
a long fine-tuning run's RSS flat."""

import copy
import json
import platform
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from led_ref.config import LEDConfig
from led_ref.export import training
from led_ref.export.torch_model import build_torch_model, global_slots
from led_ref.weights import init_params


def _saved_bytes(attn, h, is_local, is_masked, glob):
    """Bytes of the tensors autograd keeps for backward in one forward of ``attn``."""
    seen = {}

    def pack(t):
        seen[(t.untyped_storage().data_ptr(), t.dtype)] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = attn(h, is_local, is_masked, glob)
    return sum(seen.values()), out


def test_checkpointing_keeps_one_head_of_probabilities():
    """The readable path (the exported graph's; kernels.band_attention stores no probabilities at all,
    tests/export/test_kernels.py): with gradient checkpointing the local attention keeps no probabilities for
    backward (each head group is recomputed), without it all H heads' (nb, c, x + (2kb+1)c) probabilities are kept;
    gradients are the same."""
    config = LEDConfig(
        vocab_size=64,
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        attention_window=16,
        max_encoder_position_embeddings=256,
        max_decoder_position_embeddings=32,
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
    )
    model = build_torch_model(config, init_params(config, "lm", seed=0), "lm", torch.float64).requires_grad_(True)
    model.train()
    attn = model.led.encoder.layers[0].self_attn.longformer_self_attn
    attn.use_kernels = False
    L = 200
    h = torch.randn(1, L, 32, dtype=torch.float64, requires_grad=True)
    is_global = torch.zeros(1, L, dtype=torch.bool)
    is_global[0, 0] = True
    is_masked = torch.zeros(1, L, dtype=torch.bool)
    glob = global_slots(is_global)
    args = (h, ~is_global, is_masked, glob)
    # probabilities of all heads: H x Lp x (x + (2kb+1)c) float64, Lp = 208 (multiple of the 8-token window half)
    probs_bytes = 4 * 208 * (1 + 5 * 4) * 8

    plain, out_plain = _saved_bytes(attn, *args)
    model.gradient_checkpointing_enable()
    assert attn.recompute_heads
    nested, out_nested = _saved_bytes(attn, *args)
    assert plain - nested >= probs_bytes, (plain, nested, probs_bytes)
    g = torch.randn_like(out_plain)
    (grad_plain,) = torch.autograd.grad(out_plain, h, g)
    (grad_nested,) = torch.autograd.grad(out_nested, h, g)
    assert torch.equal(out_plain, out_nested) and torch.equal(grad_plain, grad_nested)
    model.gradient_checkpointing_disable()
    assert not attn.recompute_heads


def test_adamw_is_fused_and_stays_fused_after_loading_a_foreach_state():
    """The shared AdamW uses ADAMW_OPTIONS; loading an optimizer state saved by a default (foreach) AdamW, as an
    older checkpoint-last/optimizer.pt holds, keeps the fused update and the same step as the saving optimizer."""
    torch.manual_seed(0)
    p_old, p_new = torch.nn.Parameter(torch.randn(5, 3)), torch.nn.Parameter(torch.zeros(5, 3))
    old = torch.optim.AdamW([p_old], lr=0.1)
    p_old.grad = torch.randn(5, 3)
    old.step()
    new = training.adamw([p_new], lr=0.1)
    assert all(new.param_groups[0][k] == v for k, v in training.ADAMW_OPTIONS.items())
    new.load_state_dict(copy.deepcopy(old.state_dict()))  # as torch.save + torch.load
    assert new.param_groups[0]["fused"] is not True  # the saved group's options win ...
    training.restore_adamw_options(new)
    assert new.param_groups[0]["fused"] is True  # ... until restored
    with torch.no_grad():
        p_new.copy_(p_old)
    g = torch.randn(5, 3)
    p_old.grad, p_new.grad = g.clone(), g.clone()
    old.step()
    new.step()
    torch.testing.assert_close(p_new, p_old, rtol=1e-6, atol=1e-7)


# The child allocates and frees a 30 MB block (glibc then raises its mmap threshold to 30 MB), then fills and frees
# a 24 MB block and prints how much RSS the free gave back.
_HEAP_CHILD = r"""
import json, os, sys
import torch
from led_ref.export import training
if sys.argv[1] == "limit":
    assert training.limit_heap_retention()
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * page
y = torch.ones(30 * 2**18)  # 30 MB, mmapped
del y
x = torch.ones(6 * 2**20)    # 24 MB
before = rss()
del x
print(json.dumps({"freed_mb": (before - rss()) / 2**20}))
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_heap_limit_gives_freed_activations_back():
    """The cause of a long fine-tuning run's RSS creep: with glibc's dynamic threshold a freed 24 MB activation
    stays resident; after limit_heap_retention() its pages go back to the OS."""
    freed = {}
    for mode in ("default", "limit"):
        proc = subprocess.run([sys.executable, "-c", _HEAP_CHILD, mode], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        freed[mode] = json.loads(proc.stdout.strip().splitlines()[-1])["freed_mb"]
    assert freed["default"] < 4 and freed["limit"] > 20, freed

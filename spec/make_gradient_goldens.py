#!/usr/bin/env python
"""Write the gradient goldens in spec/goldens/gradients/ by running pinned HF transformers 4.46.3.

    $LED_REF_HF_PYTHON spec/make_gradient_goldens.py      # transformers 4.46.3, torch 2.13

Per case (spec/SPEC.md#training): config.json + model.safetensors (float32, seeded random weights, HF
save_pretrained), inputs.npz (the forward's keyword arguments; ``loss_weights.*`` for the LEDModel case, which has
no loss: its loss is sum(last_hidden_state * loss_weights.decoder) + sum(encoder_last_hidden_state *
loss_weights.encoder)), and grads_fp32.npz / grads_fp64.npz holding ``loss`` and ``grad.<HF parameter name>`` for
every parameter of ``named_parameters()`` (tied ones once), computed in ``train()`` mode with all dropouts 0, once
plainly and once after ``gradient_checkpointing_enable()`` (keys prefixed ``checkpointing.``). The float64 runs use
make_model_goldens.py's documented patches (encoder softmax kept in float64; 4.46.3 causal-mask dtype fix).
Checks made here: the two runs (checkpointing on/off) agree within 1e-12 in float64 and 1e-5 in float32;
a float64 rerun is bit-identical. This script is never imported by led_ref or the tests.
"""

import json
import os
import sys

import numpy as np
import torch
import transformers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_model_goldens as mg

OUT_ROOT = os.path.join(mg.HERE, "goldens", "gradients")
PAD, BOS, EOS = mg.PAD, mg.BOS, mg.EOS
assert transformers.__version__ == "4.46.3", "run with transformers 4.46.3 (spec/GOLDENS.md)"


def case_lm(rng, cfg):
    """3 rows: no global token / one (<s>) / four; right padding; labels with -100 on padded targets."""
    L, T = 13, 6
    ids, mask = mg.token_rows(rng, [13, 9, 11], L, cfg["vocab_size"])
    glob = mg.global_rows(L, [[], [0], [0, 3, 7, 10]])
    _, dec_mask = mg.decoder_rows(rng, [6, 4, 5], T, cfg["vocab_size"])
    labels = mg.lm_labels(rng, dec_mask, cfg["vocab_size"])
    return dict(input_ids=ids, attention_mask=mask, global_attention_mask=glob, labels=labels)


def case_base(rng, cfg):
    """4 heads, d 16: rows with 0, 1 and 7 global tokens (7 * 4 >= 16 + 7: HF's direct global projections);
    per-layer windows; explicit decoder_input_ids with a decoder padding mask; loss = weighted sum of outputs."""
    L, T = 17, 5
    ids, mask = mg.token_rows(rng, [17, 12, 15], L, cfg["vocab_size"])
    glob = mg.global_rows(L, [[], [5], [0, 1, 2, 6, 9, 12, 14]])
    dec, dec_mask = mg.decoder_rows(rng, [5, 3, 4], T, cfg["vocab_size"])
    return dict(
        input_ids=ids,
        attention_mask=mask,
        global_attention_mask=glob,
        decoder_input_ids=dec,
        decoder_attention_mask=dec_mask,
        **{
            "loss_weights.decoder": rng.normal(0, 1, (3, T, cfg["d_model"])),
            "loss_weights.encoder": rng.normal(0, 1, (3, L, cfg["d_model"])),
        },
    )


def _eos_rows(rng, cfg, L, lengths):
    ids, mask = mg.token_rows(rng, lengths, L, cfg["vocab_size"], eos_at=(3,))  # 2 eos per row
    return ids, mask


def case_seq_cls(rng, cfg):
    L = 12
    ids, mask = _eos_rows(rng, cfg, L, [12, 8, 10])
    glob = mg.global_rows(L, [[0], [], [0, 2, 5, 9]])
    return dict(input_ids=ids, attention_mask=mask, global_attention_mask=glob, labels=np.array([2, 0, 1], np.int64))


def case_seq_cls_multi(rng, cfg):
    L = 10
    ids, mask = _eos_rows(rng, cfg, L, [10, 7])
    glob = mg.global_rows(L, [[0, 4], [0]])
    return dict(
        input_ids=ids,
        attention_mask=mask,
        global_attention_mask=glob,
        labels=np.array([[1.0, 0.0], [1.0, 1.0]], np.float32),
    )


def case_qa(rng, cfg):
    """Positions: inside, at a padded token, and out of range (clamped to S, ignored)."""
    L = 14
    ids, mask = mg.token_rows(rng, [14, 9, 11], L, cfg["vocab_size"])
    glob = mg.global_rows(L, [[0, 1, 2], [0], []])
    return dict(
        input_ids=ids,
        attention_mask=mask,
        global_attention_mask=glob,
        start_positions=np.array([3, 12, 40], np.int64),
        end_positions=np.array([5, 2, 13], np.int64),
    )


CASES = [
    dict(name="lm_pad_globals", head="lm", seed=101, build=case_lm, config={}),
    dict(
        name="base_direct_global",
        head="base",
        seed=102,
        build=case_base,
        config=dict(
            encoder_attention_heads=4, decoder_attention_heads=4, attention_window=[4, 8], activation_function="relu"
        ),
    ),
    dict(
        name="seq_cls_single_label",
        head="seq_cls",
        seed=103,
        build=case_seq_cls,
        config=dict(num_labels=3, activation_function="gelu_new"),
    ),
    dict(
        name="seq_cls_multi_label",
        head="seq_cls",
        seed=104,
        build=case_seq_cls_multi,
        config=dict(num_labels=2, problem_type="multi_label_classification"),
    ),
    dict(name="qa_spans", head="qa", seed=105, build=case_qa, config=dict(activation_function="silu")),
]


def grads(model, inputs, dtype, checkpointing):
    """(loss, {name: grad}) of one train()-mode forward/backward."""
    model.train()
    if checkpointing:
        model.gradient_checkpointing_enable()
    else:
        model.gradient_checkpointing_disable()
    model.zero_grad(set_to_none=True)
    kwargs = {}
    for k, v in inputs.items():
        if k.startswith("loss_weights."):
            continue
        t = torch.from_numpy(v)
        kwargs[k] = t.to(dtype) if t.is_floating_point() else t
    out = model(**kwargs, use_cache=False, return_dict=True)
    if "loss_weights.decoder" in inputs:
        loss = (out.last_hidden_state * torch.from_numpy(inputs["loss_weights.decoder"]).to(dtype)).sum() + (
            out.encoder_last_hidden_state * torch.from_numpy(inputs["loss_weights.encoder"]).to(dtype)
        ).sum()
    else:
        loss = out.loss
    loss.backward()
    g = {}
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name}: no gradient"
        g[name] = p.grad.detach().numpy().copy()
    return float(loss.detach()), g


def pack(runs, np_dtype):
    out = {}
    for prefix, (loss, g) in runs.items():
        out[prefix + "loss"] = np.asarray(loss, np.float64)
        for name, v in g.items():
            out[prefix + "grad." + name] = v.astype(np_dtype)
    return out


def max_rel(a, b):
    return max(float(np.max(np.abs(a[k] - b[k])) / max(1.0, float(np.max(np.abs(b[k]))))) for k in b)


def make_case(spec):
    name, head = spec["name"], spec["head"]
    case_dir = os.path.join(OUT_ROOT, name)
    os.makedirs(case_dir, exist_ok=True)
    cfg = dict(mg.BASE_CONFIG, **spec["config"])
    config = transformers.LEDConfig(**cfg)
    torch.manual_seed(spec["seed"])
    model = getattr(transformers, mg.HEAD_CLASSES[head])(config).eval()
    mg.randomize_(model, spec["seed"])
    model.save_pretrained(case_dir, safe_serialization=True)
    gen = os.path.join(case_dir, "generation_config.json")
    if os.path.exists(gen):
        os.remove(gen)
    rng = np.random.RandomState(spec["seed"])
    inputs = spec["build"](rng, cfg)
    inputs = {k: (v.astype(np.float64) if k.startswith("loss_weights.") else v) for k, v in inputs.items()}
    np.savez_compressed(os.path.join(case_dir, "inputs.npz"), **inputs)

    meta = {
        "case": name,
        "head": head,
        "hf_class": mg.HEAD_CLASSES[head],
        "description": spec["build"].__doc__,
        "inputs": sorted(inputs),
        "seed": spec["seed"],
        "mode": "train(), every dropout and layerdrop 0",
        "files": {},
        "checks": {},
    }
    for suffix, dtype, np_dtype in (("fp32", torch.float32, np.float32), ("fp64", torch.float64, np.float64)):
        patches = mg.install_fp64_patches() if dtype == torch.float64 else None
        m = mg.load_model(case_dir, head, dtype)
        mg.SOFTMAX_UPCASTS[0] = 0
        plain = grads(m, inputs, dtype, False)
        ckpt = grads(m, inputs, dtype, True)
        if dtype == torch.float64:
            assert mg.SOFTMAX_UPCASTS[0] > 0, "softmax patch not exercised"
            again = grads(mg.load_model(case_dir, head, dtype), inputs, dtype, False)
            assert again[0] == plain[0] and all(np.array_equal(again[1][k], plain[1][k]) for k in plain[1])
            meta["checks"]["fp64_rerun_identical"] = True
        d = max_rel(ckpt[1], plain[1])
        meta["checks"][f"{suffix}_checkpointing_vs_plain_max_rel_diff"] = d
        assert d <= (1e-12 if dtype == torch.float64 else 1e-5), (name, suffix, d)
        file = f"grads_{suffix}.npz"
        np.savez_compressed(os.path.join(case_dir, file), **pack({"": plain, "checkpointing.": ckpt}, np_dtype))
        meta["files"][suffix] = mg.versions(patches, "float32" if dtype == torch.float32 else "float64", file)
        if patches:
            mg.uninstall_fp64_patches()
    meta["parameters"] = [n for n, _ in m.named_parameters()]
    with open(os.path.join(case_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    return meta


def main():
    for spec in CASES:
        meta = make_case(spec)
        print(spec["name"], json.dumps(meta["checks"]))


if __name__ == "__main__":
    main()

"""Make the generation goldens: HF transformers 4.46.3 ``LEDForConditionalGeneration.generate()`` on tiny models.

Run with the scratch venv that has transformers 4.46.3 (never a project dependency):

    $LED_REF_HF_PYTHON spec/make_generation_goldens.py [--out spec/goldens/generation]

Writes, under the output directory:
  models/<name>/       config.json + model.safetensors (HF save_pretrained, float32) [+ generation_config.json]
  inputs.npz           input_ids, attention_mask, global_attention_mask (batch 3, right padding, per-row globals)
  cases.json           [{name, model, kwargs, global_attention_mask: bool, outputs: [...]}]
  outputs.npz          <case>/sequences (int64), and for cases with output_scores: <case>/scores (steps, N, V) float32,
                       <case>/sequences_scores, <case>/beam_indices
  meta.json            versions, command, the minimum top-2 logit margin per case (how far from a tie HF was)
Everything runs in float32 on CPU; the models are random but deterministic (torch.manual_seed).
"""

import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch
import transformers
from transformers import GenerationConfig, LEDConfig, LEDForConditionalGeneration

VOCAB = 48
EOS, PAD, BOS = 2, 1, 0


def tiny_config(**overrides):
    cfg = dict(
        vocab_size=VOCAB,
        d_model=16,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_encoder_position_embeddings=64,
        max_decoder_position_embeddings=48,
        attention_window=[4, 8],
        activation_function="gelu",
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        init_std=0.2,
        pad_token_id=PAD,
        bos_token_id=BOS,
        eos_token_id=EOS,
        decoder_start_token_id=EOS,
    )
    cfg.update(overrides)
    return LEDConfig(**cfg)


def make_model(seed, eos_bias, decoder_scale=3.0):
    """A random tiny LED whose greedy/beam outputs vary and end (eos) at different steps.

    HF's plain init gives near-constant outputs (one token repeated, tied embeddings): the embedding rows are
    normalised (no token dominates the tied lm_head), the decoder's residual branches are scaled up (the next token
    depends on the prefix and the encoder), and final_logits_bias makes eos likely enough to end some hypotheses early.
    """
    torch.manual_seed(seed)
    model = LEDForConditionalGeneration(tiny_config()).eval()
    with torch.no_grad():
        w = model.led.shared.weight
        w.copy_(w / w.norm(dim=1, keepdim=True).clamp_min(1e-6))
        for layer in model.led.decoder.layers:
            for lin in (layer.fc2, layer.encoder_attn.out_proj, layer.self_attn.out_proj):
                lin.weight.mul_(decoder_scale)
        bias = torch.randn(1, VOCAB) * 0.5
        bias[0, EOS] += eos_bias
        model.final_logits_bias.copy_(bias)
    return model


def make_inputs():
    rng = np.random.default_rng(1234)
    lengths = [13, 9, 5]
    ids = np.full((3, 13), PAD, dtype=np.int64)
    mask = np.zeros((3, 13), dtype=np.int64)
    for i, n in enumerate(lengths):
        ids[i, 0] = BOS
        ids[i, 1 : n - 1] = rng.integers(3, VOCAB, size=n - 2)
        ids[i, n - 1] = EOS
        mask[i, :n] = 1
    glob = np.zeros((3, 13), dtype=np.int64)
    glob[1, 0] = 1  # row 0: no global token; row 1: <s>; row 2: two tokens
    glob[2, [0, 3]] = 1
    return ids, mask, glob


CASES = [
    # name, model, kwargs, use global mask, store scores
    ("greedy", "base", dict(max_new_tokens=14), True, True),
    ("greedy_no_global", "base", dict(max_new_tokens=14), False, False),
    ("greedy_max_length", "base", dict(max_length=9), True, False),
    (
        "greedy_processors",
        "base",
        dict(
            max_new_tokens=14,
            repetition_penalty=1.7,
            no_repeat_ngram_size=2,
            bad_words_ids=[[7], [12, 30], [2]],
            min_length=6,
        ),
        True,
        True,
    ),
    (
        "greedy_min_new_forced",
        "base",
        dict(max_new_tokens=10, min_new_tokens=4, forced_bos_token_id=0, forced_eos_token_id=2),
        True,
        False,
    ),
    ("greedy_multi_eos", "base", dict(max_new_tokens=14, eos_token_id=[2, 5]), True, True),
    ("beam4", "base", dict(max_new_tokens=14, num_beams=4), True, True),
    ("beam4_early_true", "base", dict(max_new_tokens=14, num_beams=4, early_stopping=True), True, True),
    ("beam4_never", "base", dict(max_new_tokens=14, num_beams=4, early_stopping="never"), True, True),
    (
        "beam4_never_lp_neg",
        "base",
        dict(max_new_tokens=14, num_beams=4, early_stopping="never", length_penalty=-0.5),
        True,
        False,
    ),
    ("beam4_lp2", "base", dict(max_new_tokens=14, num_beams=4, length_penalty=2.0), True, False),
    (
        "beam4_lp0_nrs3",
        "base",
        dict(max_new_tokens=14, num_beams=4, length_penalty=0.0, num_return_sequences=3),
        True,
        True,
    ),
    (
        "beam3_nrs3_early",
        "base",
        dict(max_new_tokens=12, num_beams=3, num_return_sequences=3, early_stopping=True),
        True,
        False,
    ),
    ("beam4_no_repeat", "base", dict(max_new_tokens=14, num_beams=4, no_repeat_ngram_size=2), True, False),
    ("beam4_repetition", "base", dict(max_new_tokens=14, num_beams=4, repetition_penalty=1.5), True, False),
    (
        "beam4_bad_words",
        "base",
        dict(max_new_tokens=14, num_beams=4, bad_words_ids=[[7], [12, 30], [2, 9]]),
        True,
        False,
    ),
    ("beam4_min_length", "base", dict(max_new_tokens=14, num_beams=4, min_length=9), True, False),
    ("beam4_min_new_tokens", "base", dict(max_new_tokens=14, num_beams=4, min_new_tokens=6), True, False),
    (
        "beam4_forced",
        "base",
        dict(max_length=12, num_beams=4, forced_bos_token_id=0, forced_eos_token_id=2),
        True,
        True,
    ),
    ("beam4_multi_eos", "base", dict(max_new_tokens=14, num_beams=4, eos_token_id=[2, 5]), True, False),
    ("beam4_max_length", "base", dict(max_length=7, num_beams=4), True, False),
    ("beam2_no_global", "base", dict(max_new_tokens=14, num_beams=2), False, False),
    # checkpoint defaults: generation_config.json, and config.json without it (HF from_model_config)
    ("defaults_generation_config", "gencfg", dict(), True, False),
    ("defaults_config_json", "cfgjson", dict(), True, False),
    ("defaults_generation_config_override", "gencfg", dict(num_beams=2, max_new_tokens=6), True, False),
]


def margin(scores_steps):
    """Smallest gap between the best and second-best finite score over all steps/rows (ties would be fragile)."""
    best = np.inf
    for s in scores_steps:
        s = s.astype(np.float64)
        top = -np.sort(-s, axis=-1)[:, :2]
        ok = np.isfinite(top).all(axis=1)
        if ok.any():
            best = min(best, float(np.min(top[ok, 0] - top[ok, 1])))
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "goldens", "generation"))
    args = ap.parse_args()
    out = args.out
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(os.path.join(out, "models"))
    torch.set_num_threads(1)

    models = {}
    base = make_model(seed=0, eos_bias=3.0)
    base.generation_config = GenerationConfig.from_model_config(base.config)
    d = os.path.join(out, "models", "base")
    base.save_pretrained(d, safe_serialization=True)
    os.remove(os.path.join(d, "generation_config.json"))  # defaults come from config.json (HF's fallback)
    models["base"] = LEDForConditionalGeneration.from_pretrained(d).eval()

    gencfg = make_model(seed=1, eos_bias=3.0, decoder_scale=4.0)
    d = os.path.join(out, "models", "gencfg")
    gencfg.generation_config = GenerationConfig(
        num_beams=3,
        max_length=15,
        length_penalty=2.0,
        no_repeat_ngram_size=3,
        early_stopping=True,
        bos_token_id=BOS,
        eos_token_id=EOS,
        pad_token_id=PAD,
        decoder_start_token_id=EOS,
        forced_eos_token_id=EOS,
    )
    gencfg.save_pretrained(d, safe_serialization=True)
    models["gencfg"] = LEDForConditionalGeneration.from_pretrained(d).eval()

    cfgjson = make_model(seed=1, eos_bias=4.0)
    d = os.path.join(out, "models", "cfgjson")
    cfgjson.save_pretrained(d, safe_serialization=True)
    os.remove(os.path.join(d, "generation_config.json"))
    with open(os.path.join(d, "config.json")) as f:
        cj = json.load(f)
    # what older hub checkpoints (e.g. allenai/led-large-16384-arxiv) carry in config.json
    cj.update(num_beams=2, max_length=13, min_length=4, length_penalty=1.5, no_repeat_ngram_size=2, early_stopping=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cj, f, indent=2, sort_keys=True)
    models["cfgjson"] = LEDForConditionalGeneration.from_pretrained(d).eval()

    ids, mask, glob = make_inputs()
    np.savez(os.path.join(out, "inputs.npz"), input_ids=ids, attention_mask=mask, global_attention_mask=glob)

    arrays, cases, margins = {}, [], {}
    for name, model_name, kwargs, use_glob, store in CASES:
        model = models[model_name]
        call = dict(kwargs)
        with torch.no_grad():
            res = model.generate(
                torch.from_numpy(ids),
                attention_mask=torch.from_numpy(mask),
                global_attention_mask=torch.from_numpy(glob) if use_glob else None,
                return_dict_in_generate=True,
                output_scores=True,
                **call,
            )
        seq = res.sequences.numpy().astype(np.int64)
        arrays[f"{name}/sequences"] = seq
        stacked = np.stack([s.numpy().astype(np.float32) for s in res.scores])
        margins[name] = margin([s.numpy() for s in res.scores])
        outs = ["sequences"]
        if store:
            arrays[f"{name}/scores"] = stacked
            outs.append("scores")
            if getattr(res, "sequences_scores", None) is not None:
                arrays[f"{name}/sequences_scores"] = res.sequences_scores.numpy().astype(np.float32)
                arrays[f"{name}/beam_indices"] = res.beam_indices.numpy().astype(np.int64)
                outs += ["sequences_scores", "beam_indices"]
        cases.append(dict(name=name, model=model_name, kwargs=kwargs, global_attention_mask=use_glob, outputs=outs))
        ends = [next((i for i, t in enumerate(r) if i > 0 and t in (EOS, 5)), -1) for r in seq.tolist()]
        print(f"{name:38s} {str(seq.shape):10s} eos_at={ends} margin={margins[name]:.2e}")

    np.savez_compressed(os.path.join(out, "outputs.npz"), **arrays)
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)
    meta = dict(
        transformers=transformers.__version__,
        torch=torch.__version__,
        numpy=np.__version__,
        python=sys.version.split()[0],
        dtype="float32",
        device="cpu",
        script="spec/make_generation_goldens.py",
        command="$LED_REF_HF_PYTHON spec/make_generation_goldens.py",
        note="generate(..., return_dict_in_generate=True, output_scores=True, **kwargs) per case; "
        "scores tolerance 1e-4 (float32); sequences must match token for token",
        min_top2_margin=margins,
        hf_generation_config_defaults=json.loads(GenerationConfig().to_json_string(use_diff=False)),
    )
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
    total = sum(os.path.getsize(os.path.join(r, fn)) for r, _, fs in os.walk(out) for fn in fs)
    print(f"wrote {out} ({total / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()

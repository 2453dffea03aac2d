"""Write tiny LED checkpoints with HF transformers itself, for led_ref's loader tests.

Run with a Python that has transformers 4.46.3 + torch (never a project dependency):

    $LED_REF_HF_PYTHON spec/make_checkpoint_fixtures.py            # write fixtures
    $LED_REF_HF_PYTHON spec/make_checkpoint_fixtures.py verify     # HF loads led_ref's save
    $LED_REF_HF5_PYTHON spec/make_checkpoint_fixtures.py verify     # same with transformers 5.x

``write`` (default) creates ``tests/fixtures/checkpoints/<name>/`` (config.json + weights as
HF's ``save_pretrained`` writes them) and ``<name>.npz`` next to them: HF's own state_dict
(every key, tied copies included, float32) as the reference each loaded tensor is compared to.

``verify`` (run with transformers 4.46.3 and with 5.x) is the proof that HF loads what led_ref
writes: led_ref.weights.init_params + save_checkpoint for every head, then ``<HFClass>.from_pretrained`` on the
directory, then an exact comparison of every parameter, plus HF's missing/unexpected key report (must be empty).
See spec/SPEC.md#checkpoints.
"""

import json
import os
import sys
import tempfile

import numpy as np
import torch
import transformers
from transformers import LEDConfig, LEDForConditionalGeneration, LEDForQuestionAnswering, LEDModel

try:  # absent from transformers 5.x
    from transformers import LEDForSequenceClassification
except ImportError:
    LEDForSequenceClassification = None

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "checkpoints")

TINY = dict(
    vocab_size=64,
    d_model=8,
    encoder_layers=2,
    decoder_layers=2,
    encoder_attention_heads=2,
    decoder_attention_heads=4,
    encoder_ffn_dim=12,
    decoder_ffn_dim=10,
    max_encoder_position_embeddings=64,
    max_decoder_position_embeddings=32,
    attention_window=[4, 8],
    activation_function="gelu",
)

CLASSES = {
    "base": LEDModel,
    "lm": LEDForConditionalGeneration,
    "seq_cls": LEDForSequenceClassification,
    "qa": LEDForQuestionAnswering,
}
CLASSES = {head: cls for head, cls in CLASSES.items() if cls is not None}


def build(cls, seed, **extra):
    torch.manual_seed(seed)
    config = LEDConfig(**{**TINY, **extra})
    model = cls(config).eval()
    # Make every parameter non-trivial (LayerNorm gains/biases, final_logits_bias, biases)
    # so that a loader that drops or swaps a tensor is caught.
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
        if hasattr(model, "final_logits_bias"):
            model.final_logits_bias.copy_(torch.randn_like(model.final_logits_bias))
    return model


def dump_reference(model, name):
    sd = {k: v.detach().to(torch.float32).numpy() for k, v in model.state_dict().items()}
    np.savez_compressed(os.path.join(OUT, name + ".npz"), **sd)


def write():
    os.makedirs(OUT, exist_ok=True)
    made = {}

    def save(name, model, reference=True, **kw):
        directory = os.path.join(OUT, name)
        model.save_pretrained(directory, **kw)
        if reference:
            dump_reference(model, name)
        made[name] = sorted(os.listdir(directory))

    lm = build(LEDForConditionalGeneration, 0)
    save("lm", lm)  # model.safetensors, led. prefix, tied shared/embed_tokens/lm_head
    # Same weights as "lm" (reference lm.npz): only the file layout differs.
    save("lm_sharded", lm, reference=False, max_shard_size="6KB")  # index.json + shards
    save("lm_bin", lm, reference=False, safe_serialization=False)  # pytorch_model.bin
    save("lm_fp16", build(LEDForConditionalGeneration, 1).half())
    save("lm_bf16", build(LEDForConditionalGeneration, 2).to(torch.bfloat16))
    save("lm_untied", build(LEDForConditionalGeneration, 3, tie_word_embeddings=False))
    save("base", build(LEDModel, 4))  # LEDModel: no led. prefix, no head
    save("seq_cls", build(LEDForSequenceClassification, 5, num_labels=3, problem_type="single_label_classification"))
    save("qa", build(LEDForQuestionAnswering, 6))

    # HF's LEDConfig defaults: the full to_dict() and what save_pretrained writes (diff form).
    default = LEDConfig()
    with open(os.path.join(OUT, "hf_config_default_full.json"), "w") as f:
        f.write(default.to_json_string(use_diff=False))
    with open(os.path.join(OUT, "hf_config_default.json"), "w") as f:
        f.write(default.to_json_string(use_diff=True))

    meta = {
        "script": "spec/make_checkpoint_fixtures.py",
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "tiny_config": TINY,
        "files": made,
    }
    with open(os.path.join(OUT, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(OUT) for fn in fns)
    print(f"wrote {len(made)} checkpoints to {OUT}: {total} bytes")


def verify():
    """HF loads led_ref's save_checkpoint output unchanged, every parameter equal."""
    sys.path.insert(0, ROOT)
    from led_ref.config import LEDConfig as RefConfig
    from led_ref.weights import flatten, init_params, save_checkpoint

    results = []
    for tie, dtype in ((True, np.float32), (False, np.float32), (True, np.float64)):
        for head, cls in CLASSES.items():
            extra = {"num_labels": 3} if head == "seq_cls" else {}
            config = RefConfig(**TINY, tie_word_embeddings=tie, **extra)
            params = init_params(config, head, seed=7, dtype=dtype)
            with tempfile.TemporaryDirectory() as d:
                save_checkpoint(d, config, params, head)
                # torch_dtype="auto": HF takes the dtype led_ref wrote into config.json.
                model, info = cls.from_pretrained(d, output_loading_info=True, torch_dtype="auto")
            assert model.dtype == {np.float32: torch.float32, np.float64: torch.float64}[dtype], model.dtype
            bad = {k: v for k, v in info.items() if v}
            assert not bad, f"{head}: HF loading info not clean: {bad}"
            prefix = "" if head == "base" else "led."
            flat = flatten(params)
            sd = model.state_dict()
            # Every HF parameter equals led_ref's, and every led_ref parameter is in HF.
            for key, value in sd.items():
                ours = key[len(prefix) :] if key.startswith(prefix) else key
                assert ours in flat, f"{head}: HF key {key} has no led_ref parameter"
                np.testing.assert_array_equal(value.numpy(), flat[ours], err_msg=f"{head}: {key}")
            hf_names = {k[len(prefix) :] if k.startswith(prefix) else k for k in sd}
            assert set(flat) == hf_names, f"{head}: {set(flat) ^ hf_names}"
            if head == "lm":
                same = model.lm_head.weight.data_ptr() == model.led.shared.weight.data_ptr()
                assert same == tie, f"lm: HF tie state {same} != tie_word_embeddings {tie}"
            line = f"ok: {cls.__name__} tie_word_embeddings={tie} {np.dtype(dtype).name}: {len(sd)} tensors equal"
            print(line)
            results.append(line)
    # One entry per transformers version the proof was run with (4.46.3 and 5.x).
    record = os.path.join(OUT, "hf_loads_led_ref.json")
    summary = {}
    if os.path.exists(record):
        with open(record) as f:
            summary = json.load(f)
    summary["claim"] = (
        "HF <Class>.from_pretrained loads led_ref.weights.save_checkpoint output with no "
        "missing/unexpected/mismatched keys and every parameter bit-equal"
    )
    summary["script"] = "spec/make_checkpoint_fixtures.py verify"
    summary.setdefault("runs", {})[f"transformers {transformers.__version__} / torch {torch.__version__}"] = results
    for key in ("transformers", "torch", "results"):  # older single-run layout
        summary.pop(key, None)
    with open(record, "w") as f:
        json.dump(summary, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"HF transformers {transformers.__version__} / torch {torch.__version__} loads led_ref saves unchanged")


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "write"
    {"write": write, "verify": verify}[mode]()

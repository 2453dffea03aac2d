"""HF's own trainer on led-ref's model: the documented LED fine-tuning flow (``Seq2SeqTrainer`` with
``predict_with_generate=True``, ``model.gradient_checkpointing_enable()``, ``use_cache=False``) run unchanged on
``led_ref.export.hf_models.LEDForConditionalGeneration`` and on transformers' own class, from the same seed and
weights: the same logged losses, the same trained weights, the same evaluation loss and the same generated tokens.
Tiny model, a few steps: seconds. Dropout is off so that the two runs draw no random numbers in the model (the
two graphs need not draw dropout masks in the same order)."""

import json

import pytest

transformers = pytest.importorskip("transformers", reason="needs the hf extra (transformers 4.46)")
torch = pytest.importorskip("torch", reason="needs the export extra (torch)")
pytest.importorskip("accelerate", reason="needs the hf extra (HF's Trainer needs accelerate)")

import numpy as np

from led_ref.export import hf_models as H
from led_ref.tolerances import relative_error, tolerance

pytestmark = [pytest.mark.hf]

CFG = dict(
    vocab_size=48,
    d_model=16,
    encoder_layers=2,
    decoder_layers=2,
    encoder_attention_heads=2,
    decoder_attention_heads=2,
    encoder_ffn_dim=32,
    decoder_ffn_dim=32,
    attention_window=[4, 8],
    max_encoder_position_embeddings=64,
    max_decoder_position_embeddings=32,
    dropout=0.0,
    attention_dropout=0.0,
    activation_dropout=0.0,
)
S, T = 21, 7  # input and label lengths of every (padded) example; HF pads 21 tokens to 24 for window 8


def examples(n, seed):
    """``n`` padded examples (lists, as LEDTokenizer + DataCollatorForSeq2Seq give them): random lengths, padding
    with attention_mask 0, global_attention_mask -1 and labels -100, the first token global, in some examples one
    more."""
    g = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        s, t = int(g.integers(9, S + 1)), int(g.integers(3, T + 1))
        ids = [0, *g.integers(3, CFG["vocab_size"], s - 2).tolist(), 2] + [1] * (S - s)
        glob = [1] + [0] * (s - 1) + [-1] * (S - s)  # LEDTokenizer.pad pads global_attention_mask with -1
        if i % 3 == 1:
            glob[s // 2] = 1
        labels = [*g.integers(3, CFG["vocab_size"], t - 1).tolist(), 2] + [-100] * (T - t)
        rows.append(
            {
                "input_ids": ids,
                "attention_mask": [1] * s + [0] * (S - s),
                "global_attention_mask": glob,
                "labels": labels,
            }
        )
    return rows


def run_trainer(model, out_dir):
    """The fine-tuning flow of LED's documentation, unchanged: returns (logged (loss, grad_norm) per step, trained
    state_dict, evaluation metrics, generated tokens of trainer.predict)."""
    model.config.use_cache = False
    model.gradient_checkpointing_enable()
    args = transformers.Seq2SeqTrainingArguments(
        output_dir=str(out_dir),
        per_device_train_batch_size=2,
        per_device_eval_batch_size=3,
        max_steps=5,
        learning_rate=3e-3,
        logging_steps=1,
        predict_with_generate=True,
        generation_max_length=9,
        generation_num_beams=2,
        save_strategy="no",
        report_to=[],
        seed=0,
        use_cpu=True,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    trainer = transformers.Seq2SeqTrainer(
        model=model,
        args=args,
        train_dataset=examples(10, seed=1),
        eval_dataset=examples(5, seed=2),
        data_collator=transformers.default_data_collator,
    )
    assert model.is_gradient_checkpointing
    trainer.train()
    losses = [(entry["loss"], entry["grad_norm"]) for entry in trainer.state.log_history if "loss" in entry]
    metrics = trainer.evaluate()
    predicted = trainer.predict(examples(4, seed=3))
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return np.array(losses), state, metrics, predicted.predictions


def test_seq2seq_trainer_gives_hf_losses_weights_and_generations(tmp_path):
    torch.manual_seed(0)
    theirs = transformers.LEDForConditionalGeneration(transformers.LEDConfig(**CFG))
    ours = H.LEDForConditionalGeneration(H.LEDConfig(**CFG))
    ours.load_state_dict(theirs.state_dict())
    initial = {k: v.detach().clone() for k, v in theirs.state_dict().items()}

    losses_t, state_t, metrics_t, generated_t = run_trainer(theirs, tmp_path / "hf")
    losses_o, state_o, metrics_o, generated_o = run_trainer(ours, tmp_path / "led-ref")

    assert losses_t.shape == (5, 2) and np.isfinite(losses_t).all()
    # the Trainer logs each step's loss rounded to 4 decimals, and the gradient norm (before clipping) unrounded
    np.testing.assert_allclose(losses_o[:, 0], losses_t[:, 0], rtol=0, atol=2e-4)
    np.testing.assert_allclose(losses_o[:, 1], losses_t[:, 1], rtol=tolerance("float32"))
    # every weight after 5 AdamW steps: the gradients were HF's at every step
    assert state_o.keys() == state_t.keys()
    assert not torch.equal(state_t["lm_head.weight"], initial["lm_head.weight"])  # it trained
    for name in state_t:
        err = relative_error(state_o[name].numpy(), state_t[name].numpy())
        assert err <= tolerance("float32"), f"{name}: relative error {err:.2e}"
    assert abs(metrics_o["eval_loss"] - metrics_t["eval_loss"]) <= tolerance("float32") * max(
        1.0, abs(metrics_t["eval_loss"])
    )
    # predict_with_generate: beam search on the trained model, padded with -100 by the Trainer
    assert generated_t.shape[0] == 4
    np.testing.assert_array_equal(generated_o, generated_t)


def test_training_benchmark_trainer_rows(tmp_path, capsys):
    """``python -m tools.bench.training --trainer``: both Trainer rows run (tiny shape) and are compared."""
    from tools.bench import training

    out = tmp_path / "trainer.json"
    args = ["--quick", "--trainer", "--only", "led-ref+trainer,hf+trainer", "--target-len", "8", "--json", str(out)]
    assert training.main(args) == 0
    printed = capsys.readouterr().out
    assert "led-ref+trainer vs hf+trainer: step" in printed
    data = json.loads(out.read_text())
    for name in ("led-ref+trainer", "hf+trainer"):
        row = data["rounds"][0][name]
        assert row["seconds"] > 0 and row["peak_rss"] > 0 and row["optim"] == "adamw_torch", row
    assert data["trainer_optim"] == "adamw_torch" and "--trainer" in data["command"]
    ratios = data["ratios"]["led-ref+trainer vs hf+trainer"]
    assert set(ratios) == {"step_speedup", "peak_rss_fraction", "rounds", "worst"}
    assert set(ratios["worst"]) == {"step_speedup", "peak_rss_fraction"}  # the worst round, beside the median

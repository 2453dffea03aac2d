"""The Trainer rows of the training-step benchmark (``python -m tools.bench.training --trainer``): HF's own
``Seq2SeqTrainer`` running LED's documented fine-tuning flow -- ``predict_with_generate=True``,
``model.gradient_checkpointing_enable()``, ``use_cache=False`` -- unchanged, once on transformers'
``LEDForConditionalGeneration`` (row ``hf+trainer``) and once on ``led_ref.export.hf_models``' class of the same
name (row ``led-ref+trainer``), from the same seed, in the same interpreter (it needs transformers and accelerate,
the ``hf`` extra).

A row's step is what the Trainer times between its ``on_step_begin`` and ``on_step_end`` callbacks: forward,
backward, gradient clipping (``max_grad_norm`` 1.0), the optimizer and scheduler steps and ``zero_grad``; the
data loading and collation between steps are outside it. One warm-up step, then ``steps`` timed ones (the median
is shown). The optimizer is the Trainer's ``optim`` (``adamw_torch``, its default, unless ``--trainer-optim``
says otherwise), the same for both rows; the heap setting is the benchmark's, as for every other row.
"""

ROWS = (("led-ref+trainer", "led-ref"), ("hf+trainer", "hf"))
DEFAULT_OPTIM = "adamw_torch"  # transformers 4.46's default TrainingArguments.optim

# The child: builds the model from a config dict, runs Seq2SeqTrainer.train() for 1 + steps steps on one repeated
# example (batch 1), prints one JSON line.
CHILD = r"""
import json, resource, sys, tempfile, time
spec = json.loads(sys.argv[1])
import torch
torch.manual_seed(0)
torch.set_num_threads(spec["threads"]) if spec["threads"] else None
import transformers
transformers.logging.set_verbosity_error()
cfg = spec["config"]
if spec["impl"] == "hf":
    model = transformers.LEDForConditionalGeneration(transformers.LEDConfig(**cfg))
else:
    from led_ref.export import hf_models
    model = hf_models.LEDForConditionalGeneration(hf_models.LEDConfig(**cfg))
# LED's fine-tuning flow, as its documentation's notebook has it
model.config.use_cache = False
model.gradient_checkpointing_enable()
S, T, V = spec["seq_len"], spec["target_len"], cfg["vocab_size"]
g = torch.Generator().manual_seed(0)
glob = torch.zeros(S, dtype=torch.int64); glob[0] = 1
example = {"input_ids": torch.randint(3, V, (S,), generator=g), "attention_mask": torch.ones(S, dtype=torch.int64),
           "global_attention_mask": glob, "labels": torch.randint(3, V, (T,), generator=g)}

class StepTimer(transformers.TrainerCallback):
    def __init__(self):
        self.times, self.start = [], None
    def on_step_begin(self, args, state, control, **kwargs):
        self.start = time.perf_counter()
    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter() - self.start)

timer = StepTimer()
with tempfile.TemporaryDirectory() as out:
    args = transformers.Seq2SeqTrainingArguments(
        output_dir=out, per_device_train_batch_size=1, max_steps=1 + spec["steps"], learning_rate=1e-5,
        optim=spec["optim"], predict_with_generate=True, save_strategy="no", logging_strategy="no", report_to=[],
        use_cpu=True, seed=0, disable_tqdm=True, dataloader_num_workers=0)
    trainer = transformers.Seq2SeqTrainer(model=model, args=args, train_dataset=[example] * (1 + spec["steps"]),
                                          data_collator=transformers.default_data_collator, callbacks=[timer])
    trainer.train()
times = timer.times[1:]
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": sorted(times)[len(times) // 2], "all_seconds": times, "warmup_seconds": timer.times[0],
                  "peak_rss": rss, "optim": spec["optim"], "torch": torch.__version__,
                  "transformers": transformers.__version__}))
"""


def row_spec(impl, config, seq_len, target_len, steps, threads, optim):
    """The child's arguments for one Trainer row (run by tools.bench.training.run_child with ``CHILD``)."""
    return dict(
        impl=impl,
        config=config,
        seq_len=seq_len,
        target_len=target_len,
        steps=steps,
        threads=threads,
        optim=optim,
    )

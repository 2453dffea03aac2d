"""The main job (``python -m led_ref``): tokenize a long text, run LED's encoder and generation on the
NumPy reference and on ONNX Runtime, check that the two agree, and print a short report.

With no ``--model`` it uses the bundled demo model (led_ref/data/demo-model, trained here with ``led-ref finetune``
by tools/demo_model/recipe.py): it lists the section titles of the held-out PEP that stands for the model's
typical result (``demo_data.typical_document``: ROUGE-L nearest the held-out median, from the per-document scores
the recipe stored in metrics.json), prints them beside the reference, and reports the model's ROUGE on the whole
held-out set (recomputed when rouge-score is installed, else as metrics.json records it).

``--size base`` (or ``tiny``) instead runs a deterministic led-base-shaped model with seeded random weights
(``led_ref.weights.init_params``; the generated text is meaningless, the machinery and the numbers are not), the
bundled real-size BPE vocabulary and a bundled 55 KB text (CPython's Language Reference, PSF licence; see
led_ref/data/README.md). With ``--model DIR`` (a local HF LED checkpoint) it summarizes ``--file`` with the
checkpoint's own generation defaults. ONNX Runtime runs when the ``export`` extra is installed; otherwise the
report says why it was skipped.
"""

import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from led_ref.app.benchmarks.common import BUNDLED_TEXT, DATA_DIR, LED_BASE, LED_TINY
from led_ref.app.progress import EncoderLayerBar, Progress, task
from led_ref.errors import check_output_file, read_input_text
from led_ref.tolerances import relative_error, tolerance

# What "small" and "default" mean for the random-weight model. The default input is long enough
# to show the long-document machinery (4 attention windows) and short enough for ~1-2 min on 2 cores.
SIZES = {
    "tiny": dict(shape=LED_TINY, max_input_tokens=256, max_new_tokens=8),
    "base": dict(shape=LED_BASE, max_input_tokens=4096, max_new_tokens=32),
}
DEMO_SIZE = "demo"  # --size demo (default): the bundled trained model, led_ref/data/demo-model


# ---------------------------------------------------------------- building blocks (reused by bench)


def random_model(size="base", seed=0):
    """A led-base- (or tiny-) shaped LEDForConditionalGeneration with seeded random float32 weights."""
    from led_ref.config import LEDConfig
    from led_ref.model import LEDForConditionalGeneration
    from led_ref.weights import init_params

    if size not in SIZES:
        raise ValueError(f"--size must be one of {sorted(SIZES)}, got {size!r}")
    config = LEDConfig(**SIZES[size]["shape"])
    return LEDForConditionalGeneration(config, init_params(config, "lm", seed=seed, dtype=np.float32))


def count_parameters(params):
    """Number of parameters in a tree, counting tied (shared) arrays once."""
    seen, total = set(), 0

    def walk(node):
        nonlocal total
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                walk(v)
        elif isinstance(node, np.ndarray) and id(node) not in seen:
            seen.add(id(node))
            total += node.size

    walk(params)
    return total


def export_onnx(model, out_dir):
    """Export ``model`` (config + params) to ONNX in ``out_dir`` with config.json beside the graphs.

    Raises ImportError (with the install command) when the export extra is missing.
    """
    try:
        from led_ref.export.onnx_export import export_model
    except ImportError as exc:
        raise ImportError(f"ONNX export needs the export extra ({exc}); pip install -e '.[export]'") from exc
    export_model(model.config, model.params, out_dir, head="lm", log=lambda *a, **k: None)
    model.config.save_pretrained(out_dir)
    gc = getattr(model, "generation_config", None)
    if gc is not None and hasattr(gc, "save_pretrained"):  # both backends then decode with the same defaults
        gc.save_pretrained(out_dir)
    return out_dir


def load_ort(onnx_dir):
    from led_ref.export.ort import OrtLEDForConditionalGeneration

    return OrtLEDForConditionalGeneration.from_pretrained(onnx_dir)


def _tokenizer(path):
    from led_ref import tokenizer

    cls = getattr(tokenizer, "LEDTokenizerFast", None) or tokenizer.LEDTokenizer
    return cls.from_pretrained(str(path))


def _global_first(ids):
    glob = np.zeros_like(ids)
    glob[:, 0] = 1  # LED's summarization setting: <s> attends to (and is seen by) every token
    return glob


# ---------------------------------------------------------------- CLI


def add_cli_arguments(parser):
    parser.add_argument(
        "--size",
        choices=[DEMO_SIZE] + sorted(SIZES),
        default=DEMO_SIZE,
        help="demo = the bundled trained demo model (default); base = led-base-shaped RANDOM "
        "weights (the timing run); tiny = random weights, seconds (tests)",
    )
    parser.add_argument(
        "--doc",
        type=int,
        default=None,
        metavar="N",
        help="with the demo model: which held-out document to summarize (default: the typical one, whose "
        "ROUGE-L is nearest the held-out median)",
    )
    parser.add_argument(
        "--no-rouge", action="store_true", help="with the demo model: skip the held-out ROUGE (about 30 summaries)"
    )
    parser.add_argument("--model", metavar="DIR", help="a local HF LED checkpoint (config.json + weights + tokenizer)")
    parser.add_argument(
        "--file", metavar="PATH", help="text to encode/summarize (default: the bundled 55 KB Python reference excerpt)"
    )
    parser.add_argument(
        "--max-input-tokens",
        type=int,
        metavar="N",
        help="truncate the input to N tokens (default: 4096 base, 256 tiny, the model's limit with --model)",
    )
    parser.add_argument(
        "--max-new-tokens",
        type=int,
        metavar="N",
        help="tokens to generate (default: 32 base, 8 tiny, the checkpoint's defaults with --model)",
    )
    parser.add_argument(
        "--num-beams", type=int, metavar="N", help="beam search width (default: greedy / the checkpoint's)"
    )
    parser.add_argument(
        "--backends",
        metavar="LIST",
        help="comma-separated numpy,onnx (default: numpy,onnx when the export extra is installed; "
        "numpy only with --model)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights (default 0)")
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")


def _validate(args):
    if args.model is not None and not Path(args.model).is_dir():
        raise FileNotFoundError(f"--model {args.model}: no such directory (give a local HF LED checkpoint directory)")
    if args.file is not None and args.file != "-" and not Path(args.file).is_file():
        raise FileNotFoundError(f"--file {args.file}: no such file")
    if args.json:
        check_output_file(args.json, "--json")  # before the run, not after it
    for name in ("max_input_tokens", "max_new_tokens", "num_beams"):
        v = getattr(args, name)
        if v is not None and v < (2 if name == "max_input_tokens" else 1):
            raise ValueError(f"--{name.replace('_', '-')} must be >= {2 if name == 'max_input_tokens' else 1}, got {v}")
    if args.backends is None:
        backends = ["numpy"]
        if args.model is None and _onnx_available() is None:
            backends.append("onnx")
    else:
        backends = [b.strip() for b in args.backends.split(",") if b.strip()]
        bad = [b for b in backends if b not in ("numpy", "onnx")]
        if bad or not backends:
            raise ValueError(f"--backends: unknown {bad or 'empty list'}; choose from numpy,onnx")
        if "onnx" in backends and _onnx_available() is not None:
            raise ImportError(f"--backends onnx: {_onnx_available()}")
    return backends


def _onnx_available():
    """None when the ONNX backend can run, else why not (with the fix)."""
    for mod in ("onnxruntime", "torch", "led_ref.export.onnx_export", "led_ref.export.ort"):
        try:
            __import__(mod)
        except ImportError as exc:
            return f"{mod} is not importable ({exc}); install the extra: pip install -e '.[export]'"
    return None


def _read_text(path):
    if path == "-":
        return read_input_text("-", "--file"), "<stdin>"
    p = Path(path) if path else BUNDLED_TEXT
    text = read_input_text(str(p), "--file")
    if not text.strip():
        raise ValueError(f"--file {p}: the file is empty")
    return text, str(p)


def run_cli(args):
    backends = _validate(args)
    report = demo(
        size=args.size,
        model_dir=args.model,
        file=args.file,
        max_input_tokens=args.max_input_tokens,
        max_new_tokens=args.max_new_tokens,
        num_beams=args.num_beams,
        backends=backends,
        seed=args.seed,
        doc=args.doc,
        rouge=not args.no_rouge,
    )
    print_report(report)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1, default=str)
    return 0 if report.get("agree", True) else 1


# ---------------------------------------------------------------- the job


def demo(
    size="base",
    model_dir=None,
    file=None,
    max_input_tokens=None,
    max_new_tokens=None,
    num_beams=None,
    backends=("numpy",),
    seed=0,
    doc=None,
    rouge=True,
):
    """Run the main job and return the report as a dict (``print_report`` formats it). ``doc``: the held-out
    document the demo model summarizes (None: the typical one, ``demo_data.typical_document``)."""
    rep = {"backends": list(backends), "steps": {}}
    heldout = None
    if size == DEMO_SIZE and model_dir is None:
        from led_ref.app import demo_data

        model_dir = demo_data.DEMO_MODEL_DIR
        rep["demo_model"] = {"rouge": rouge}
        if file is None:
            heldout = demo_data.heldout_examples()
            stored = demo_data.stored_heldout_scores(heldout)  # (means, per document) or None
            if stored is not None:
                rep["demo_model"].update(stored_rouge=stored[0], heldout_docs=len(heldout))
            if doc is None and stored is not None:
                doc = demo_data.typical_document(stored[1])
                rep["demo_model"]["typical"] = {
                    "rougeL": stored[1][doc]["rougeL"],
                    "median_rougeL": statistics.median(d["rougeL"] for d in stored[1]),
                }
            elif doc is None:
                doc = 0  # a checkpoint without per-document scores: the first document
            if not 0 <= doc < len(heldout):
                raise ValueError(f"--doc {doc}: there are {len(heldout)} held-out documents (0..{len(heldout) - 1})")
            rep["demo_model"].update(doc=doc, doc_id=heldout[doc]["id"], reference=heldout[doc]["summary"])
            if stored is not None:
                rep["demo_model"]["doc_stored_rougeL"] = stored[1][doc]["rougeL"]
    if heldout is not None:
        text, source = heldout[doc]["text"], f"held-out document {doc} ({heldout[doc]['id']}, bundled PEP)"
    else:
        text, source = _read_text(file)
    if file is None and heldout is None:
        source = "bundled led_ref/data/" + BUNDLED_TEXT.name
    rep["input"] = {"source": source, "bytes": len(text.encode("utf-8"))}

    # model + tokenizer
    t0 = time.perf_counter()
    if model_dir is None:
        with task(f"building the {size} model (seeded random weights)"):
            model = random_model(size, seed=seed)
        tok = _tokenizer(DATA_DIR)
        rep["model"] = {"kind": "random", "size": size, "seed": seed}
        limit = max_input_tokens or SIZES[size]["max_input_tokens"]
        new_tokens = max_new_tokens or SIZES[size]["max_new_tokens"]
        gen_kwargs = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, num_beams=num_beams or 1)
    else:
        from led_ref.model import LEDForConditionalGeneration

        with task(f"loading {model_dir}"):
            model = LEDForConditionalGeneration.from_pretrained(model_dir)
            tok = _tokenizer(model_dir)
        rep["model"] = {"kind": "checkpoint", "path": str(model_dir)}
        limit = max_input_tokens or model.config.max_encoder_position_embeddings
        gen_kwargs = {}  # the checkpoint's generation defaults ...
        if max_new_tokens:  # ... unless overridden
            gen_kwargs["max_new_tokens"] = max_new_tokens
        if num_beams:
            gen_kwargs["num_beams"] = num_beams
    model.encoder_layer_callback = EncoderLayerBar()  # a per-layer bar for long inputs (terminals only)
    cfg = model.config
    if limit > cfg.max_encoder_position_embeddings:
        raise ValueError(
            f"--max-input-tokens {limit} exceeds the model's max_encoder_position_embeddings "
            f"({cfg.max_encoder_position_embeddings}); pass a smaller value"
        )
    rep["model"].update(
        d_model=cfg.d_model,
        encoder_layers=cfg.encoder_layers,
        decoder_layers=cfg.decoder_layers,
        heads=cfg.encoder_attention_heads,
        ffn=cfg.encoder_ffn_dim,
        attention_window=max(cfg.layer_attention_windows()),
        vocab_size=cfg.vocab_size,
        parameters=count_parameters(model.params) if hasattr(model, "params") else None,
        load_seconds=time.perf_counter() - t0,
    )

    # tokenize
    with task("tokenizing") as t:
        ids = tok(text)["input_ids"]
    rep["input"].update(tokens=len(ids), tokenize_seconds=t.seconds, tokens_per_s=len(ids) / max(t.seconds, 1e-9))
    if len(ids) > limit:
        ids = ids[: limit - 1] + [ids[-1]]  # keep </s> last, as truncation=True does
    rep["input"]["used_tokens"] = len(ids)
    input_ids = np.asarray([ids], dtype=np.int64)
    attention_mask = np.ones_like(input_ids)
    global_mask = _global_first(input_ids)

    # NumPy reference
    res = {}
    if "numpy" in backends:
        res["numpy"] = _run_backend("numpy", model, input_ids, attention_mask, global_mask, gen_kwargs)
    onnx_tmp = None
    try:
        if "onnx" in backends:
            onnx_tmp = tempfile.mkdtemp(prefix="led-ref-demo-")
            with task("exporting to ONNX (one-off)") as t:
                export_onnx(model, os.path.join(onnx_tmp, "onnx"))
                ort_model = load_ort(os.path.join(onnx_tmp, "onnx"))
            res["onnx"] = _run_backend("onnx", ort_model, input_ids, attention_mask, global_mask, gen_kwargs)
            res["onnx"]["export_seconds"] = t.seconds
    finally:
        if onnx_tmp:
            shutil.rmtree(onnx_tmp, ignore_errors=True)

    for name, r in res.items():
        r["text"] = tok.decode(r.pop("sequence"), skip_special_tokens=True)
        hidden = r.pop("hidden")
        r["hidden_shape"] = list(hidden.shape)
        res[name]["_hidden"] = hidden
    if "numpy" in res and "onnx" in res:
        err = relative_error(res["onnx"]["_hidden"], res["numpy"]["_hidden"])
        tol = tolerance("float32")
        a, b = res["numpy"]["tokens"], res["onnx"]["tokens"]
        same = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)
        rep["agreement"] = {
            "encoder_max_error": err,
            "tolerance": tol,
            "encoder_ok": err <= tol,
            "tokens_identical": a == b,
            "first_token_difference": same,
        }
        rep["agree"] = bool(err <= tol and a == b)
    for r in res.values():
        r.pop("_hidden")
    rep["steps"] = res
    if "demo_model" in rep and rouge and heldout is not None:
        rep["demo_model"].update(_heldout_rouge(model_dir, heldout, doc))
    return rep


def _heldout_rouge(model_dir, heldout, doc):
    """ROUGE of the demo model on every held-out document (and the ROUGE-L of document ``doc``), or why it was
    skipped (rouge-score missing)."""
    from led_ref.app import demo_data

    try:
        import rouge_score  # noqa: F401 (imported to check that it is installed)
    except ImportError:
        from led_ref.app.finetune import ROUGE_HINT

        return {"rouge_skipped": f"rouge-score is not installed: {ROUGE_HINT}"}
    bar = Progress(total=len(heldout), desc="held-out ROUGE", unit="docs")
    try:
        scores, per_document, _ = demo_data.heldout_rouge(
            model_dir, heldout, progress=lambda done, total: bar.update(1)
        )
    finally:
        bar.close()
    return {"heldout_rouge": scores, "heldout_docs": len(heldout), "doc_rougeL": per_document[doc]["rougeL"]}


class _TimedSteps:
    """A Seq2SeqStepModel around a backend that times generate()'s one encoder pass and keeps its output,
    so the demo runs the encoder once per backend."""

    def __init__(self, name, steps):
        self._steps, self._name = steps, name
        self.config = steps.config
        self.generation_config = getattr(steps, "generation_config", None)
        self.encoder_seconds = self.hidden = None

    def encode(self, input_ids, attention_mask, global_attention_mask):
        with task(f"[{self._name}] encoder on {input_ids.shape[1]} tokens") as t:
            hidden, mask = self._steps.encode(input_ids, attention_mask, global_attention_mask)
        self.encoder_seconds, self.hidden = t.seconds, np.asarray(hidden)
        return hidden, mask

    def decode(self, *args, **kwargs):
        return self._steps.decode(*args, **kwargs)


def _run_backend(name, model, input_ids, attention_mask, global_mask, gen_kwargs):
    """generate() on one backend: encoder time and output, decoding time per step, the generated ids."""
    from led_ref.generation import as_step_model, generate

    steps = _TimedSteps(name, as_step_model(model))
    bar = Progress(desc=f"[{name}] generate", unit="steps")
    stamps = []  # time after each decoding step: the per-step cost without the encoder pass

    def on_step(done, total):
        stamps.append(time.perf_counter())
        _advance(bar, done, total)

    t0 = time.perf_counter()
    try:
        seq = generate(
            steps,
            input_ids,
            attention_mask=attention_mask,
            global_attention_mask=global_mask,
            step_callback=on_step,
            **gen_kwargs,
        )
    finally:
        bar.close()
    t_gen = time.perf_counter() - t0
    seq = np.asarray(getattr(seq, "sequences", seq))
    tokens = [int(x) for x in seq[0]]
    ms = 1000 * (stamps[-1] - stamps[0]) / (len(stamps) - 1) if len(stamps) > 1 else None
    return dict(
        encoder_seconds=steps.encoder_seconds,
        generate_seconds=t_gen,
        new_tokens=len(tokens) - 1,
        tokens=tokens,
        sequence=tokens,
        ms_per_token=ms,
        hidden=steps.hidden,
    )


def _advance(bar, done, total):
    bar.total = total
    bar.update(done - bar.n)


def _fmt_s(x):
    if x is None:
        return "-"
    return f"{x:.2f} s" if x >= 1 else f"{1000 * x:.1f} ms"


def _title_list(text):
    """One title per line (the demo model's output and references) as "A | B | C" for a one-line report."""
    return " | ".join(t.strip() for t in text.split("\n") if t.strip())


def print_report(rep, file=None):
    """The short human report of ``demo()``."""
    file = sys.stdout if file is None else file
    m, inp, steps = rep["model"], rep["input"], rep["steps"]

    def p(*a):
        print(*a, file=file)

    p(
        "led-ref: the main job -- encode + generate on a long text, NumPy reference"
        + (" vs ONNX Runtime" if "onnx" in steps else "")
    )
    shape = (
        f"d_model {m['d_model']}, {m['encoder_layers']}+{m['decoder_layers']} layers, {m['heads']} heads, "
        f"ffn {m['ffn']}, window {m['attention_window']}, vocab {m['vocab_size']}"
    )
    nparams = f", {m['parameters'] / 1e6:.1f} M parameters" if m.get("parameters") else ""
    if "demo_model" in rep:
        p(f"model     : the bundled DEMO MODEL ({shape}){nparams}, trained here with `led-ref finetune` to list")
        p("            a document's section titles in order (led_ref/data/demo-model/README.md)")
    elif m["kind"] == "random":
        p(f"model     : {'led-base' if m['size'] == 'base' else 'tiny'} shape ({shape}){nparams}")
        p(f"            SEEDED RANDOM WEIGHTS (led_ref.weights.init_params, seed {m['seed']}): the generated text is")
        p("            meaningless; timings and NumPy/ONNX agreement are real. Use --model DIR for a checkpoint.")
    else:
        p(f"model     : {m['path']} ({shape}){nparams}, loaded in {m['load_seconds']:.1f} s")
    p(
        f"input     : {inp['source']} ({inp['bytes']:,} bytes) -> {inp['tokens']:,} tokens"
        + (f", truncated to {inp['used_tokens']:,}" if inp["used_tokens"] < inp["tokens"] else "")
    )
    typical = rep.get("demo_model", {}).get("typical")
    if typical:
        p(
            f"            the typical held-out document: its ROUGE-L {typical['rougeL']:.3f} is the nearest to the "
            f"median {typical['median_rougeL']:.3f} (--doc N shows another)"
        )
    p(f"tokenizer : {inp['tokenize_seconds']:.2f} s ({inp['tokens_per_s'] / 1e3:.1f} k tokens/s)")
    if "onnx" not in rep["backends"]:
        why = _onnx_available()
        p(f"onnx      : skipped ({why or 'not requested: add --backends numpy,onnx to compare with ONNX Runtime'})")
    p("")
    names = list(steps)
    p(f"{'step':<34}" + "".join(f"{n:>14}" for n in names))
    if "onnx" in steps:
        p(f"{'ONNX export (one-off)':<34}" + "".join(f"{_fmt_s(steps[n].get('export_seconds')):>14}" for n in names))
    p(
        f"{'encoder, ' + str(inp['used_tokens']) + ' tokens':<34}"
        + "".join(f"{_fmt_s(steps[n]['encoder_seconds']):>14}" for n in names)
    )
    p(
        f"{'generate (incl. the encoder pass)':<34}"
        + "".join(f"{_fmt_s(steps[n]['generate_seconds']):>14}" for n in names)
    )
    p(f"{'  tokens generated':<34}" + "".join(f"{steps[n]['new_tokens']:>14}" for n in names))
    p(
        f"{'  ms per decoding step':<34}"
        + "".join(
            f"{'-' if steps[n]['ms_per_token'] is None else format(steps[n]['ms_per_token'], '.1f'):>14}" for n in names
        )
    )
    if "agreement" in rep:
        a = rep["agreement"]
        p("")
        p(
            f"agreement : encoder max error {a['encoder_max_error']:.2e} (relative to max(1, max |h|); bound "
            f"{a['tolerance']:.0e}) {'OK' if a['encoder_ok'] else 'FAILED'}"
        )
        if a["tokens_identical"]:
            p("            generated tokens identical: yes")
        else:
            p(
                "            generated tokens identical: NO (first difference at position "
                f"{a['first_token_difference']})"
            )
        p(f"            => {'NumPy and ONNX Runtime agree' if rep['agree'] else 'DISAGREEMENT: please report it'}")
    p("")
    d = rep.get("demo_model")
    for n in names:
        # the demo model writes one title per line: shown as "A | B | C"
        txt = _title_list(steps[n]["text"]) if d is not None else steps[n]["text"].replace("\n", " ")
        p(f"output ({n}): {txt[:300]!r}{' ...' if len(txt) > 300 else ''}")
    d = d or {}
    if "reference" in d:
        p(f"reference   : {_title_list(d['reference'])!r}  (the document's section titles, in order)")
    # scores recomputed in this run when rouge-score is installed, else as the recipe recorded them beside the model
    live = "heldout_rouge" in d
    source = "recomputed in this run" if live else "recorded in the model's metrics.json"
    doc_score = d.get("doc_rougeL" if live else "doc_stored_rougeL")
    if doc_score is not None:
        p(f"this document: ROUGE-L {doc_score:.3f} ({source})")
    r = d.get("heldout_rouge" if live else "stored_rouge")
    if r is not None:
        p(
            f"held-out ROUGE ({d['heldout_docs']} documents never trained on): ROUGE-1 {r['rouge1']:.3f}  "
            f"ROUGE-2 {r['rouge2']:.3f}  ROUGE-L {r['rougeL']:.3f}  ({source})"
        )
    if "rouge_skipped" in d:
        p(f"held-out ROUGE: not recomputed ({d['rouge_skipped']})")

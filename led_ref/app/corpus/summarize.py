"""``led-ref summarize``: summarize a corpus (JSONL file or directory of .txt files) into a JSONL file.

Batched by a token budget over length-sorted documents, resumable (``--resume``), every input id written exactly
once (bad records get an ``error`` line), on this machine or on a Ray cluster (``--engine ray``). See the README
section "Summarize and evaluate a corpus".
"""

import os
import sys
import time

from ...errors import read_json
from ..progress import Progress
from .engine import (
    DEFAULT_BATCH_TOKENS,
    JobSpec,
    Prepared,
    Summarizer,
    checked_generation_config,
    make_batches,
    prepare,
)
from .output import check_output, open_output
from .records import DEMO_CORPUS, DEMO_REFERENCE_FIELD, DEMO_TEXT_FIELD, error_line, read_documents

__all__ = ["summarize_corpus", "add_cli_arguments", "run_cli", "DEMO_CORPUS"]


def _result_line(doc, result):
    if "error" in result:
        return error_line(doc, result["error"])
    return {"id": doc.id, **result}


class _Tally:
    """Counts for the progress bar and the summary line."""

    def __init__(self, bar):
        self.bar, self.ok, self.failed, self.tokens, self.generated = bar, 0, 0, 0, 0
        self.start = time.perf_counter()

    def add(self, lines):
        for line in lines:
            if "error" in line:
                self.failed += 1
            else:
                self.ok += 1
                self.tokens += line["input_tokens"]
                self.generated += line["generated_tokens"]
        rate = self.tokens / max(time.perf_counter() - self.start, 1e-9)
        self.bar.set_description(f"summarize ({rate:,.0f} tok/s)")
        self.bar.update(len(lines))


def summarize_corpus(
    input_path,
    output_path,
    spec: JobSpec,
    *,
    engine="local",
    id_field="id",
    text_field="text",
    max_input_tokens=None,
    truncate=True,
    batch_tokens=DEFAULT_BATCH_TOKENS,
    one_at_a_time=False,
    resume=False,
    overwrite=False,
    num_actors=2,
    ray_address=None,
    ray_timeout=30.0,
    ray_num_cpus=None,
    ray_cpus_per_actor=1,
    progress=None,
    log=None,
    _fault=None,
):
    """Run the job; returns a dict of counts (documents, ok, failed, skipped, input_tokens, seconds, tokens_per_s).

    ``_fault``: test hook for the Ray engine (see ray_engine.run_batches).
    """
    log = log or (lambda msg: print(msg, file=sys.stderr))
    if engine not in ("local", "ray"):
        raise ValueError(f"--engine must be local or ray, got {engine!r}")
    if batch_tokens is None or batch_tokens < 1:
        raise ValueError(f"--batch-tokens must be >= 1, got {batch_tokens}")
    if engine == "ray":
        for flag, value in (("--num-actors", num_actors), ("--ray-cpus-per-actor", ray_cpus_per_actor)):
            if value is None or value < 1:
                raise ValueError(f"{flag} must be >= 1, got {value}")
        if ray_timeout is None or not ray_timeout > 0:
            raise ValueError(f"--ray-timeout must be > 0 seconds, got {ray_timeout}")
    if not os.path.isdir(spec.model_dir):
        raise FileNotFoundError(f"--model {spec.model_dir}: not a directory (expected a checkpoint directory)")
    from ..genflags import check_precision

    check_precision(spec.backend, spec.precision)  # bf16: the extra and the CPU, before any work
    if engine == "ray":
        from .ray_engine import check_address, require_ray

        require_ray()  # one line with the install command, before any work
        # the driver does not load the model: check here what the actors would otherwise fail on
        if spec.backend == "onnx" and spec.dtype != "float32":
            raise ValueError("--dtype applies to the numpy backend only (the ONNX export fixes its dtype)")
        check_address(ray_address, ray_timeout)
    check_output(output_path, resume, overwrite)  # refuse before reading INPUT and loading the model
    if engine == "ray" and spec.backend == "onnx":  # a checkpoint is exported here, once: the actors find it cached
        from ..onnx_cache import onnx_export_dir

        onnx_export_dir(spec.model_dir)
    docs = read_documents(input_path, id_field, text_field)
    if engine == "local":
        worker = Summarizer(spec)
        tokenizer, gc = worker.tokenizer, worker.gc
    else:  # the driver only tokenizes; the actors load the model
        from ...tokenizer import LEDTokenizerFast

        gc = checked_generation_config(spec)
        tokenizer = LEDTokenizerFast.from_pretrained(spec.model_dir)
    model_limit = read_json(os.path.join(spec.model_dir, "config.json"), "config file (config.json)").get(
        "max_encoder_position_embeddings"
    )
    limit = max_input_tokens if max_input_tokens is not None else model_limit  # 0 is refused, not "unset"
    if limit is not None and limit < 2:
        raise ValueError(f"--max-input-tokens must be >= 2, got {limit}")
    if max_input_tokens and model_limit and max_input_tokens > model_limit:
        raise ValueError(
            f"--max-input-tokens {max_input_tokens} exceeds the model's max_encoder_position_embeddings={model_limit}"
        )

    out, written, torn = open_output(output_path, resume=resume, overwrite=overwrite)
    with out:
        known = {d.key for d in docs}
        stray = written - known
        if stray:
            raise ValueError(
                f"OUTPUT {output_path} holds ids that are not in INPUT (e.g. {sorted(stray)[0][1]!r}): "
                "another job's output? Use --overwrite to start over"
            )
        if torn:
            log(f"led-ref summarize: dropped a torn last line ({torn} bytes) from {output_path}")
        pending = [d for d in docs if d.key not in written]
        if written:
            log(f"led-ref summarize: resuming: {len(written)} of {len(docs)} documents already in {output_path}")

        bar = Progress(total=len(pending), desc="summarize", unit="docs", enable=progress)
        tally = _Tally(bar)
        try:
            # bad records first: one write, nothing to compute
            early = [error_line(d, d.error) for d in pending if d.error]
            prepared, by_index = [], {}
            for i, d in enumerate(pending):
                if d.error:
                    continue
                try:
                    ids, truncated = prepare(tokenizer, d.text, limit, truncate)
                except ValueError as exc:
                    early.append(error_line(d, str(exc)))
                    continue
                prepared.append(Prepared(i, ids, truncated))
                by_index[i] = d
            out.write_lines(early)
            tally.add(early)
            batches = make_batches(prepared, batch_tokens, one_at_a_time or bool(gc.do_sample))

            def write(results):
                lines = [_result_line(by_index[i], r) for i, r in results]
                out.write_lines(lines)
                tally.add(lines)

            if engine == "local":
                for batch in batches:
                    write(worker.run_batch_safe(batch))
            else:
                from .ray_engine import run_batches

                fault = None
                if _fault:  # test hook: ids -> document indices
                    fault = {
                        k: [i for i, d in enumerate(pending) if d.id in _fault.get(k, ())] for k in ("always", "once")
                    }
                    fault["marker_dir"] = _fault.get("marker_dir")
                run_batches(
                    spec,
                    batches,
                    write,
                    num_actors=num_actors,
                    address=ray_address,
                    num_cpus=ray_num_cpus,
                    cpus_per_actor=ray_cpus_per_actor,
                    log=log,
                    _fault=fault,
                )
        finally:
            bar.close()
    seconds = time.perf_counter() - tally.start
    stats = {
        "documents": len(docs),
        "ok": tally.ok,
        "failed": tally.failed,
        "skipped": len(docs) - len(pending),
        "input_tokens": tally.tokens,
        "generated_tokens": tally.generated,
        "seconds": round(seconds, 3),
        "tokens_per_s": round(tally.tokens / seconds, 1) if seconds > 0 else 0.0,
    }
    done = f" ({stats['skipped']} were already in OUTPUT)" if written else ""
    log(
        f"led-ref summarize: {len(pending)} documents: {tally.ok} ok, {tally.failed} failed{done}; "
        f"{tally.tokens:,} input tokens in {seconds:.1f} s = {stats['tokens_per_s']:,.0f} tokens/s -> {output_path}"
    )
    return stats


# ---------------------------------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------------------------------
def add_cli_arguments(parser) -> None:
    from ..genflags import add_generation_arguments, add_model_arguments

    parser.add_argument(
        "input",
        metavar="INPUT",
        nargs="?",
        default=None,
        help="JSONL file (one document a line: id, text) or a directory of .txt files (id = file "
        "name); default: the bundled demo corpus (16 PEPs, led_ref/data/peps-demo.jsonl)",
    )
    parser.add_argument("-o", "--output", required=True, metavar="OUTPUT.jsonl", help="results, one line a document")
    from ..demo_data import DEMO_MODEL_DIR

    add_model_arguments(
        parser,
        "checkpoint directory (config.json, model.safetensors, tokenizer files; --backend onnx "
        "exports it once into a cache, or give an exported directory); default: the bundled demo model "
        "(led_ref/data/demo-model, trained on another task: its ROUGE here is low)",
        default=DEMO_MODEL_DIR,
    )
    parser.add_argument("--id-field", default="id", help="JSONL field holding the document id (default: id)")
    parser.add_argument("--text-field", default="text", help="JSONL field holding the text (default: text)")
    add_generation_arguments(parser, skip=("--num-return-sequences",))
    parser.add_argument(
        "--max-input-tokens",
        type=int,
        default=None,
        help="truncate longer inputs to this many tokens (default: max_encoder_position_embeddings)",
    )
    parser.add_argument(
        "--no-truncation",
        action="store_true",
        help="write an error line for a document longer than --max-input-tokens instead of truncating it",
    )
    parser.add_argument(
        "--batch-tokens",
        type=int,
        default=DEFAULT_BATCH_TOKENS,
        help=f"token budget of a batch: documents x longest length (default {DEFAULT_BATCH_TOKENS})",
    )
    parser.add_argument("--one-at-a-time", action="store_true", help="one document per batch (no batching)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted OUTPUT: skip ids in it")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT")
    parser.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local (this process) or ray (Ray Data actor pool; needs the scale extra)",
    )
    parser.add_argument("--num-actors", type=int, default=2, help="Ray: actors, each holding one model (default 2)")
    parser.add_argument(
        "--ray-address",
        default=None,
        metavar="HOST:PORT",
        help="Ray: cluster to join (e.g. 10.0.0.1:6379 or auto); default: a local Ray on this machine",
    )
    parser.add_argument(
        "--ray-timeout",
        type=float,
        default=30.0,
        help="Ray: seconds to wait for the cluster at --ray-address (default 30)",
    )
    parser.add_argument(
        "--ray-num-cpus", type=int, default=None, help="Ray: CPUs of the local Ray instance (default: --num-actors)"
    )
    parser.add_argument(
        "--ray-cpus-per-actor",
        type=int,
        default=1,
        help="Ray: CPUs each actor reserves (and its ONNX Runtime threads; default 1)",
    )
    parser.add_argument("--evaluate", action="store_true", help="then score OUTPUT with ROUGE (led-ref evaluate)")
    parser.add_argument(
        "--references",
        default=None,
        metavar="FILE",
        help="--evaluate: reference summaries (id, summary); default: INPUT with --references-field",
    )
    parser.add_argument(
        "--references-field",
        default=None,
        metavar="FIELD",
        help="--evaluate: field holding the reference summary (default: summary; demo corpus: abstract)",
    )
    parser.add_argument("--allow-missing", action="store_true", help="--evaluate: skip ids missing on either side")
    parser.add_argument("--json", default=None, metavar="FILE", help="--evaluate: write the ROUGE report to FILE")


def run_cli(args) -> int:
    from ..genflags import generation_kwargs

    input_path, text_field, ref_field = args.input, args.text_field, args.references_field
    if input_path is None:
        input_path, text_field = DEMO_CORPUS, DEMO_TEXT_FIELD
        ref_field = ref_field or DEMO_REFERENCE_FIELD
    if args.evaluate:
        from .evaluate import require_rouge

        require_rouge()  # before the long job, not after it
        if args.references is None and os.path.isdir(input_path):
            raise ValueError("--evaluate with a directory INPUT needs --references FILE (JSONL with id, summary)")
    spec = JobSpec(
        model_dir=args.model,
        backend=args.backend,
        dtype=args.dtype,
        precision=args.precision,
        gen_kwargs=generation_kwargs(args),
        global_attention=not args.no_global_attention,
        seed=args.seed,
    )
    summarize_corpus(
        input_path,
        args.output,
        spec,
        engine=args.engine,
        id_field=args.id_field,
        text_field=text_field,
        max_input_tokens=args.max_input_tokens,
        truncate=not args.no_truncation,
        batch_tokens=args.batch_tokens,
        one_at_a_time=args.one_at_a_time,
        resume=args.resume,
        overwrite=args.overwrite,
        num_actors=args.num_actors,
        ray_address=args.ray_address,
        ray_timeout=args.ray_timeout,
        ray_num_cpus=args.ray_num_cpus,
        ray_cpus_per_actor=args.ray_cpus_per_actor,
    )
    if args.evaluate:
        from .evaluate import run_evaluation

        run_evaluation(args.output, args.references or input_path, ref_field, args.allow_missing, 1000, 0, args.json)
    return 0

"""``led-ref verify --candidate SPEC``: check an LED implementation against led-ref, property by property.

For each property (led_ref.testing.properties: encoder, logits, attentions, cache, loss, and generate with
``--generate``) hypothesis draws cases -- configs and weights for ``python:`` candidates, inputs for fixed models --
and the candidate's outputs are compared with the float64 reference under ``led_ref.tolerances`` (the candidate's
dtype sets the bound). Under the table a coverage summary says what the cases drew (led_ref.testing.coverage);
``--json PATH`` writes the table, the coverage and the counterexample paths. A failing property is shrunk to a
minimal counterexample, printed, saved as an ``.npz`` (in a new directory under the system temp directory unless
``--save-dir``) and given the one command that replays it (``--replay``). Exit status: 0 every property passes, 1 a
property fails or a case times out, 2 bad usage (candidate spec, import, contract: keys / shapes / dtypes / raising
on the simplest case; options).

Candidates run in a worker process so that ``--timeout`` can stop one that hangs (``--timeout 0``: in this process,
no limit).
"""

import json
import math
import multiprocessing
import os
import shlex
import sys
import tempfile
import time

import numpy as np

from ..config import LED_DEFAULTS, SHAPE_FIELDS
from .cli import CLIError
from .verify_candidates import CandidateSpecError, make_adapter, parse_spec

DEFAULT_EXAMPLES = 40
DEFAULT_TIMEOUT = 60.0
DTYPES = ("float64", "float32", "float16")
BF16 = "bfloat16"  # the tolerance row of --precision bf16 (led_ref.tolerances.TOLERANCE)

# The widest a drawn config may go: LED's own positions, and a depth past led-large's 12 layers (the defaults
# are led_ref.testing.strategies').
LIMIT_MAX_SEQ_LEN = LED_DEFAULTS["max_encoder_position_embeddings"]
LIMIT_MAX_DECODER_LEN = LED_DEFAULTS["max_decoder_position_embeddings"]
LIMIT_MAX_LAYERS = 16


def _strategies():
    try:
        from led_ref.testing import strategies
    except ImportError as exc:
        raise ImportError(
            f"led-ref verify needs hypothesis (the test extra): pip install 'led-ref[test]' ({exc})"
        ) from None
    return strategies


def add_cli_arguments(parser):
    S = _strategies()
    parser.add_argument(
        "--candidate", required=True, metavar="SPEC", help="python:MODULE:FUNCTION | hf:MODEL_DIR | onnx:EXPORT_DIR"
    )
    parser.add_argument(
        "--examples",
        type=int,
        default=DEFAULT_EXAMPLES,
        help=f"cases per property (default {DEFAULT_EXAMPLES}); one in 10, at most 4, is a hand-made boundary case "
        "(led_ref.testing.boundary_cases), the others are drawn",
    )
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed (default 0: reproducible runs)")
    parser.add_argument(
        "--dtype",
        choices=DTYPES,
        default=None,
        help="compute dtype of the candidate; sets the tolerance (default: float64 for python:, "
        "float32 for hf:, the graphs' dtype for onnx:)",
    )
    parser.add_argument(
        "--precision",
        choices=("float32", "bf16"),
        default=None,
        help="onnx: candidates: bf16 runs the float32 export in bfloat16 on OpenVINO (the openvino extra) and checks "
        "it against the bfloat16 tolerance",
    )
    parser.add_argument(
        "--outputs",
        default=None,
        metavar="LIST",
        help="comma-separated properties (encoder,logits,attentions,cache,loss,generate) and/or output names "
        "(encoder_last_hidden_state,logits,past_key_values,encoder_attentions,...,loss,sequences): an output name "
        "runs the properties that check it and compares only the named outputs (default: every property the "
        "candidate kind supports, without generate)",
    )
    parser.add_argument(
        "--generate", action="store_true", help="also check greedy generation token by token (= --outputs ...,generate)"
    )
    parser.add_argument(
        "--max-seq-len",
        type=int,
        default=None,
        metavar="N",
        help=f"longest drawn encoder input (default {S.DEFAULT_MAX_SEQ_LEN} for drawn configs, whose "
        "max_encoder_position_embeddings stays <= N; the model's max_encoder_position_embeddings for hf:/onnx:). "
        "Cost: each case's encoder time grows about linearly with its length",
    )
    parser.add_argument(
        "--max-decoder-len",
        type=int,
        default=None,
        metavar="N",
        help=f"longest drawn decoder input, cached prefix + new tokens, labels and generation (default "
        f"{S.DEFAULT_MAX_DECODER_LEN}, at most the model's max_decoder_position_embeddings). Cost: each case's "
        "decoder time grows with its length (generate: each new token is a step)",
    )
    parser.add_argument(
        "--max-layers",
        type=int,
        default=None,
        metavar="N",
        help=f"python: candidates: most encoder / decoder layers of a drawn config (default {S.DEFAULT_MAX_LAYERS}). "
        "Cost: each case's time grows about linearly with its layers",
    )
    parser.add_argument(
        "--json",
        default=None,
        metavar="PATH",
        help="also write the results as JSON: per property the cases, worst error, verdict, counterexample path "
        "and a coverage summary of what was drawn",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds per case before the candidate is stopped (default {DEFAULT_TIMEOUT:g}; "
        "0: run in this process without a limit)",
    )
    parser.add_argument(
        "--reference",
        default=None,
        metavar="CHECKPOINT_DIR",
        help="weights of the reference for hf:/onnx: candidates (default: MODEL_DIR for hf:; "
        "required for onnx:, the checkpoint the export was made from)",
    )
    parser.add_argument(
        "--save-dir",
        default=None,
        help="where counterexamples are written (created if missing; default: a new led-ref-verify-* directory "
        "under the system temp directory, never the current directory)",
    )
    parser.add_argument("--replay", default=None, metavar="CASE.npz", help="run one saved counterexample")
    parser.add_argument(
        "--hf-runnable-configs",
        action="store_true",
        help="python: candidates: draw only configs HF transformers can run (windows >= 4 that divide the largest)",
    )
    parser.add_argument(
        "--no-shrink", dest="shrink", action="store_false", help="report the first failing case as drawn (faster)"
    )


# ---------------------------------------------------------------------------------------------- worker process


class CandidateTimeout(Exception):
    pass


class CandidateRaised(Exception):
    """The candidate raised; the message is ``Type: text``."""


def _worker_main(spec, dtype, conn, path):
    sys.path[:0] = [p for p in path if p not in sys.path]
    try:
        adapter = make_adapter(spec, dtype)
    except CandidateSpecError as exc:
        conn.send(("spec_error", str(exc)))
        return
    except Exception as exc:
        conn.send(("spec_error", f"candidate {spec}: could not be loaded: {type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", (adapter.fixed, adapter.supports)))
    while True:
        try:
            op, args = conn.recv()
        except EOFError:
            return
        try:
            result = getattr(adapter, op)(*args)
            conn.send(("ok", result))
        except Exception as exc:
            conn.send(("raised", f"{type(exc).__name__}: {exc}"))


class Runner:
    """Calls the candidate adapter: in a worker process with a per-call timeout, or in-process (timeout 0)."""

    def __init__(self, spec, dtype, timeout):
        self.spec, self.dtype, self.timeout = spec, dtype, timeout
        self.process = self.conn = None
        self.adapter = None
        if timeout and timeout > 0:
            self.fixed, self.supports = self._start()
        else:
            self.adapter = make_adapter(spec, dtype)
            self.fixed, self.supports = self.adapter.fixed, self.adapter.supports

    def _start(self):
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_worker_main, args=(self.spec, self.dtype, child, list(sys.path)), daemon=True
        )
        self.process.start()
        child.close()
        self.conn = parent
        # loading (imports, a checkpoint) gets a longer allowance than one case
        if not parent.poll(max(120.0, self.timeout)):
            self.close()
            raise CandidateSpecError(f"candidate {self.spec}: did not load within {max(120.0, self.timeout):g} s")
        try:
            status, payload = parent.recv()
        except EOFError:
            raise CandidateSpecError(f"candidate {self.spec}: the worker process died while loading it") from None
        if status != "ready":
            self.close()
            raise CandidateSpecError(payload)
        return payload

    def call(self, op, *args):
        if self.adapter is not None:
            try:
                return getattr(self.adapter, op)(*args)
            except Exception as exc:
                raise CandidateRaised(f"{type(exc).__name__}: {exc}") from exc
        if self.process is None or not self.process.is_alive():
            self._start()
        self.conn.send((op, args))
        if not self.conn.poll(self.timeout):
            self.close()  # stop the hanging candidate; the next call starts a fresh worker
            raise CandidateTimeout(f"no answer within --timeout {self.timeout:g} s")
        try:
            status, payload = self.conn.recv()
        except EOFError:
            self.close()
            raise CandidateRaised("the worker process died (crash in native code?)") from None
        if status == "raised":
            raise CandidateRaised(payload)
        return payload

    def close(self):
        if self.process is not None:
            if self.process.is_alive():
                self.process.kill()
            self.process.join(5)
            self.process = None
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# ---------------------------------------------------------------------------------------------- evaluation


class CaseFailure(Exception):
    def __init__(self, message, error=math.inf):
        super().__init__(message)
        self.error = error


class Verifier:
    """Evaluates cases of one candidate against the reference."""

    def __init__(self, runner, dtype, fixed_config=None, fixed_params=None, generation_dir=None, keys=None):
        self.runner, self.dtype = runner, dtype
        # the weights the candidate holds: a bf16 run reads the float32 export (bfloat16 is how it computes)
        self.params_dtype = "float32" if dtype == BF16 else dtype
        self.fixed_config, self.fixed_params = fixed_config, fixed_params
        self.generation_dir = generation_dir
        self.keys = dict(keys or {})  # property -> the outputs it compares (default: all of OUTPUT_KEYS[property])

    def evaluate(self, case):
        """-> worst relative error of the case; CaseFailure with a one-line report when it fails."""
        from led_ref import testing as T

        params = T.case_params(case, self.params_dtype, self.fixed_params)
        if case.prop == "generate":
            return self._generate(case, params)
        inputs = T.candidate_inputs(case, params)
        flat = None if self.runner.fixed else T.hf_state_dict(params)
        ref = T.reference_outputs(case.config, params, inputs)
        try:
            got = self.runner.call("call", case.config, flat, inputs)
        except CandidateRaised as exc:
            raise CaseFailure(f"the candidate raised {exc}") from None
        keys = self.keys.get(case.prop, T.OUTPUT_KEYS[case.prop])
        if not isinstance(got, dict):
            raise CaseFailure(f"the candidate returned {type(got).__name__}, expected a dict of HF-named outputs")
        try:
            return T.assert_matches_reference(got, ref, self.dtype, keys)
        except T.MismatchError as exc:
            raise CaseFailure(str(exc), max(r[2] for r in exc.report)) from None

    def _generate(self, case, params):
        from led_ref import testing as T
        from led_ref.generation import GenerationConfig, generate
        from led_ref.model import LEDForConditionalGeneration
        from led_ref.tolerances import tolerance

        inputs = {k: case.arrays[k] for k in ("input_ids", "attention_mask", "global_attention_mask")}
        model = LEDForConditionalGeneration(case.config, T.params_tree(params, case.config, np.float64))
        if self.generation_dir is not None:
            model.generation_config = GenerationConfig.for_model(self.generation_dir)
        kwargs = dict(max_new_tokens=case.max_new_tokens, do_sample=False)
        if self.generation_dir is None:
            kwargs["num_beams"] = 1
        ref = generate(model, inputs["input_ids"], inputs["attention_mask"], inputs["global_attention_mask"], **kwargs)
        flat = None if self.runner.fixed else T.hf_state_dict(params)
        try:
            got = np.asarray(self.runner.call("generate", case.config, flat, inputs, case.max_new_tokens))
        except CandidateRaised as exc:
            raise CaseFailure(f"the candidate raised {exc}") from None
        if got.shape == ref.shape and np.array_equal(got, ref):
            return 0.0
        if got.ndim != 2 or got.shape[0] != ref.shape[0]:
            raise CaseFailure(f"sequences: shape {got.shape}, reference {ref.shape}")
        # first differing token; a tie in the reference's logits (within the tolerance) is no error
        n = min(got.shape[1], ref.shape[1])
        diff = np.nonzero(got[:, :n] != ref[:, :n])
        if len(diff[0]) == 0:
            raise CaseFailure(
                f"sequences: candidate length {got.shape[1]}, reference {ref.shape[1]} (stopping differs)"
            )
        row, pos = int(diff[0][0]), int(diff[1][0])
        num_beams = getattr(model.generation_config, "num_beams", 1) if self.generation_dir else 1
        if num_beams == 1 and pos > 0:
            out = model(**{k: v[row : row + 1] for k, v in inputs.items()}, decoder_input_ids=got[row : row + 1, :pos])
            logits = out.logits[0, -1]
            margin = float(logits.max() - logits[got[row, pos]]) / max(1.0, float(np.abs(logits).max()))
            if margin <= tolerance(self.dtype):
                return 0.0  # a tie: both tokens are argmax within the tolerance
        raise CaseFailure(
            f"sequences[{row}, {pos}]: candidate token {int(got[row, pos])}, reference "
            f"{int(ref[row, pos])} (candidate {got[row].tolist()}, reference {ref[row].tolist()})"
        )


# ---------------------------------------------------------------------------------------------- search


def search(verifier, prop, examples, seed, shrink, config=None, config_strategy=None, limits=None, boundary=()):
    """Run hypothesis for one property: ``examples - len(boundary)`` drawn cases, then (when they all pass) the
    ``boundary`` cases (led_ref.testing.boundary_cases: regions that drawing reaches only by chance; a failing one
    is reported as it is, not shrunk). Returns dict(cases, worst, failure=(case, message) or None, timeout,
    boundary_failure, coverage) where coverage (led_ref.testing.coverage.Coverage) holds the cases counted in
    ``cases``: those run before the first failure, and the failure itself (not the shrinking attempts).
    ``limits``: keyword arguments of ``led_ref.testing.cases`` (max_seq_len, max_decoder_len)."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hseed

    from led_ref import testing as T
    from led_ref.testing.coverage import Coverage

    state = {"cases": 0, "worst": 0.0, "failure": None, "timeout": None, "coverage": Coverage()}
    state["boundary_failure"] = False
    boundary = list(boundary)[: max(0, examples - 1)]
    phases = (Phase.generate, Phase.shrink) if shrink else (Phase.generate,)

    def count(case):
        if state["failure"] is None:
            state["cases"] += 1
            state["coverage"].add(case)

    @settings(
        max_examples=examples - len(boundary),
        database=None,
        deadline=None,
        derandomize=False,
        phases=phases,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        report_multiple_bugs=False,
        print_blob=False,
    )
    @hseed(seed)
    @given(T.cases(prop, config=config, config_strategy=config_strategy, **(limits or {})))
    def run(case):
        if state["timeout"] is not None:
            raise CandidateTimeout("stopped after a timeout")  # fail fast: no shrinking of a hang
        try:
            err = verifier.evaluate(case)
        except CaseFailure as exc:
            count(case)
            state["worst"] = max(state["worst"], exc.error)
            state["failure"] = (case, str(exc))  # the last failing call is hypothesis' minimal example
            raise AssertionError(str(exc)) from None
        except CandidateTimeout as exc:
            state["timeout"] = (case, str(exc))
            raise
        count(case)
        state["worst"] = max(state["worst"], err)

    try:
        run()
    except (AssertionError, CandidateTimeout):
        pass
    except Exception:
        if state["failure"] is None and state["timeout"] is None:
            raise
    for case in boundary:
        if state["failure"] is not None or state["timeout"] is not None:
            break
        try:
            err = verifier.evaluate(case)
        except CaseFailure as exc:
            count(case)
            state["worst"] = max(state["worst"], exc.error)
            state["failure"], state["boundary_failure"] = (case, str(exc)), True
            break
        except CandidateTimeout as exc:
            state["timeout"] = (case, str(exc))
            break
        count(case)
        state["worst"] = max(state["worst"], err)
    return state


# ---------------------------------------------------------------------------------------------- CLI


def _select(args, supports):
    """(properties to run in order, {property: outputs to compare} for those narrowed by output names).

    ``--outputs`` names properties (all their outputs compared) and/or outputs: an output name runs the property
    that checks it first-hand (led_ref.testing.OUTPUT_PROPERTY) and that property compares only the named outputs
    among its own (``logits,past_key_values``: the cache property compares both)."""
    from led_ref.testing import OUTPUT_KEYS, OUTPUT_PROPERTY

    chosen, outputs = {}, set()
    if args.outputs is None:
        chosen = dict.fromkeys(supports)
    else:
        names = [n.strip() for n in args.outputs.split(",") if n.strip()]
        if not names:
            raise CLIError(
                f"--outputs: name at least one property ({','.join(OUTPUT_KEYS)}) "
                f"or output ({','.join(OUTPUT_PROPERTY)})"
            )
        for name in names:
            if name in OUTPUT_PROPERTY:  # "logits" and "loss" are both: the output narrows the cache / loss checks
                outputs.add(name)
            if name in OUTPUT_KEYS:
                chosen[name] = "all"
            elif name in OUTPUT_PROPERTY:
                chosen.setdefault(OUTPUT_PROPERTY[name], "some")
            else:
                raise CLIError(
                    f"--outputs {name}: unknown name; expected properties {','.join(OUTPUT_KEYS)} "
                    f"or outputs {','.join(OUTPUT_PROPERTY)}"
                )
    if args.generate:
        chosen["generate"] = "all"
    for prop in chosen:
        if prop != "generate" and prop not in supports:
            raise CLIError(
                f"--outputs {prop}: candidate {args.candidate} does not provide it (it supports "
                f"{','.join(supports)},generate)"
            )
    props = [p for p in OUTPUT_KEYS if p in chosen]
    keys = {p: tuple(k for k in OUTPUT_KEYS[p] if k in outputs) for p in props if chosen[p] == "some"}
    return props, keys


def _limits(args, S, config, spec):
    """(keyword arguments of testing.cases, config strategy or None, the limits to report, the config of the
    boundary cases and the contract check) from --max-seq-len, --max-decoder-len, --max-layers: a fixed model
    (``config``) caps the drawn lengths at its positions; drawn configs stay within the limits."""

    def check(option, value, low, high, why):
        if value is not None and not low <= value <= high:
            raise CLIError(f"{option} {value}: {why}; allowed {low}..{high}")

    if config is not None:
        if args.max_layers is not None:
            raise CLIError(
                f"--max-layers: applies to drawn configs (python: candidates); {spec} keeps its own "
                f"{config.encoder_layers} encoder and {config.decoder_layers} decoder layers"
            )
        enc, dec = int(config.max_encoder_position_embeddings), int(config.max_decoder_position_embeddings)
        check("--max-seq-len", args.max_seq_len, 1, enc, "beyond the model's max_encoder_position_embeddings")
        check("--max-decoder-len", args.max_decoder_len, 2, dec, "beyond the model's max_decoder_position_embeddings")
        seq = S.longest_encoder_input(config, args.max_seq_len)
        decoder = min(dec, S.DEFAULT_MAX_DECODER_LEN) if args.max_decoder_len is None else args.max_decoder_len
        shown = {"max_seq_len": seq, "max_decoder_len": decoder, "max_layers": None}
        return {"max_seq_len": seq, "max_decoder_len": decoder}, None, shown, config
    low_seq = 4 if args.hf_runnable_configs else 2
    check("--max-seq-len", args.max_seq_len, low_seq, LIMIT_MAX_SEQ_LEN, "outside the drawn configs' range")
    check("--max-decoder-len", args.max_decoder_len, 2, LIMIT_MAX_DECODER_LEN, "outside the drawn configs' range")
    check("--max-layers", args.max_layers, 1, LIMIT_MAX_LAYERS, "outside the drawn configs' range")
    shown = {
        "max_seq_len": S.DEFAULT_MAX_SEQ_LEN if args.max_seq_len is None else args.max_seq_len,
        "max_decoder_len": S.DEFAULT_MAX_DECODER_LEN if args.max_decoder_len is None else args.max_decoder_len,
        "max_layers": S.DEFAULT_MAX_LAYERS if args.max_layers is None else args.max_layers,
    }
    drawn = dict(
        max_seq_len=shown["max_seq_len"], max_decoder_len=shown["max_decoder_len"], max_layers=shown["max_layers"]
    )
    strategy = S.configs(hf_runnable=args.hf_runnable_configs, **drawn)
    return {}, strategy, shown, S.boundary_config(hf_runnable=args.hf_runnable_configs, **drawn)


def _fixed_model(args, kind, directory):
    """(config, params float64, generation dir) of an hf:/onnx: candidate."""
    from led_ref.config import LEDConfig
    from led_ref.weights import load_params

    config = LEDConfig.from_pretrained(directory)
    weights = args.reference or (directory if kind == "hf" else None)
    if weights is None:
        raise CLIError(
            f"candidate {args.candidate}: an ONNX export holds no readable weights; pass "
            "--reference CHECKPOINT_DIR (the checkpoint it was exported from)"
        )
    if args.reference:
        ref_config = LEDConfig.from_pretrained(args.reference)

        def fields(c):
            return {k: getattr(c, k) for k in _MODEL_FIELDS}

        if fields(ref_config) != fields(config):
            raise CLIError(
                f"--reference {args.reference}: its config.json describes another model than {directory}/config.json"
            )
    return config, load_params(weights, config, "lm", dtype=np.float64), directory


# the fields that must agree between --reference's config.json and the candidate's
_MODEL_FIELDS = SHAPE_FIELDS + ("activation_function",)


def _smoke_case(config, fixed):
    """The simplest case (batch 2, length W + 1, one padded row, a global first token) for the contract check, on
    the candidate's fixed config or the boundary config of drawn ones."""
    from led_ref.testing import Case

    w = max(config.layer_attention_windows())
    seq = min(w + 1, _strategies().longest_encoder_input(config))
    rng = np.random.default_rng(0)
    ids = rng.integers(3, int(config.vocab_size), size=(2, seq)).astype(np.int64)
    mask = np.ones_like(ids)
    mask[1, max(1, seq - 2) :] = 0
    ids[mask == 0] = int(config.pad_token_id)
    glob = np.zeros_like(ids)
    glob[:, 0] = 1
    dec = np.full((2, min(2, int(config.max_decoder_position_embeddings))), int(config.decoder_start_token_id))
    arrays = {"input_ids": ids, "attention_mask": mask, "global_attention_mask": glob, "decoder_input_ids": dec}
    return Case("logits", config, None if fixed else 0, arrays)


def _check_contract(verifier, props, config, fixed, spec):
    """Exit-2 errors: the candidate raises on the simplest case, or its keys / nesting / shapes / dtypes are wrong."""
    from led_ref import testing as T

    case = _smoke_case(config, fixed)
    params = T.case_params(case, verifier.params_dtype, verifier.fixed_params)
    inputs = T.candidate_inputs(case, params)
    keys = [
        k for p in props if p in ("encoder", "logits", "attentions") for k in verifier.keys.get(p, T.OUTPUT_KEYS[p])
    ]
    if "attentions" in props:
        inputs["output_attentions"] = True
    ref = T.reference_outputs(case.config, params, inputs)
    what = f"the simplest case (batch 2, length {case.arrays['input_ids'].shape[1]})"
    try:
        got = verifier.runner.call("call", case.config, None if fixed else T.hf_state_dict(params), inputs)
    except CandidateRaised as exc:
        raise CLIError(f"candidate {spec} raised {exc} on {what}") from None
    except CandidateTimeout as exc:
        raise CLIError(f"candidate {spec}: {exc} on {what}") from None
    try:
        # shapes of the main outputs only: a wrong attention or cache shape on some inputs is a counterexample
        T.check_contract(got, ref, keys or None, ["encoder_last_hidden_state", "logits"])
    except T.ContractError as exc:
        raise CLIError(f"candidate {spec}: {exc}") from None


def _replay_command(args, path):
    how = ["--precision", "bf16"] if args.dtype_used == BF16 else ["--dtype", args.dtype_used]
    parts = ["led-ref", "verify", "--candidate", args.candidate, *how, "--replay", path]
    if args.reference:
        parts[4:4] = ["--reference", args.reference]
    return " ".join(shlex.quote(p) for p in parts)


def run_cli(args):
    from led_ref.errors import check_output_file
    from led_ref.tolerances import tolerance

    S = _strategies()
    if args.examples < 1:
        raise CLIError(f"--examples {args.examples}: must be >= 1")
    if args.timeout < 0:
        raise CLIError(f"--timeout {args.timeout}: must be >= 0 (0: no limit)")
    if args.json is not None:
        check_output_file(args.json, "--json")  # before the run, not after it
    if args.save_dir is not None and os.path.exists(args.save_dir) and not os.path.isdir(args.save_dir):
        raise CLIError(f"--save-dir {args.save_dir}: is a file, expected a directory (created if missing)")
    try:
        kind, spec_args = parse_spec(args.candidate)
    except CandidateSpecError as exc:
        raise CLIError(str(exc)) from None
    dtype = args.dtype
    config = params = gen_dir = None
    if args.precision == "bf16":
        if kind != "onnx":
            raise CLIError(f"--precision bf16: applies to onnx: candidates (an export run on OpenVINO), not {kind}:")
        if dtype not in (None, BF16):
            raise CLIError(
                f"--dtype {dtype} with --precision bf16: a bf16 run is checked against the {BF16} tolerance; "
                "leave --dtype out"
            )
        from led_ref.export.openvino_session import UnsupportedCPUError, bf16_missing, import_openvino

        try:
            import_openvino("--precision bf16")
            why = bf16_missing()
        except ImportError as exc:
            raise CLIError(str(exc)) from None
        if why is not None:
            raise UnsupportedCPUError(f"--precision bf16: {why}")
        dtype = BF16
    if kind in ("hf", "onnx"):
        if dtype is None:
            # HF checkpoints run in float32 (HF's LED cannot run in float64: its float32 mask constants
            # overflow); an export in its graphs' dtype
            dtype = "float16" if kind == "onnx" and _onnx_is_fp16(spec_args[0]) else "float32"
        config, params, gen_dir = _fixed_model(args, kind, spec_args[0])
    dtype = dtype or "float64"
    args.dtype_used = dtype
    limits = _limits(args, S, config, args.candidate) if not args.replay else None
    try:
        runner = Runner(args.candidate, dtype, args.timeout)
    except CandidateSpecError as exc:
        raise CLIError(str(exc)) from None
    try:
        verifier = Verifier(runner, dtype, config, params, gen_dir)
        if args.replay:
            return _replay(args, verifier)
        props, verifier.keys = _select(args, runner.supports)
        _check_contract(verifier, props, limits[3], runner.fixed, args.candidate)
        return _verify(args, verifier, props, config, dtype, tolerance(dtype), limits)
    finally:
        runner.close()


def _onnx_is_fp16(directory):
    try:
        import onnx

        from led_ref.export.onnx_export import ENCODER_FILE

        model = onnx.load(os.path.join(directory, ENCODER_FILE), load_external_data=False)
        return any(m.key == "led_ref.fp16" and m.value == "1" for m in model.metadata_props)
    except Exception:
        return False


def _error_value(err):
    """A worst error for JSON: a number, or None when it is not finite (missing output, shape, NaN)."""
    return float(err) if math.isfinite(err) else None


def _verify(args, verifier, props, config, dtype, bound, limits):
    from led_ref.testing import OUTPUT_KEYS, boundary_cases, save_case
    from led_ref.testing.coverage import Coverage

    case_limits, strategy, shown, boundary_config = limits
    print(f"led-ref verify: candidate {args.candidate}")
    print(
        f"dtype {dtype} (tolerance {bound:g} on relative_error), {args.examples} examples per property, "
        f"seed {args.seed}" + ("" if verifier.runner.fixed else ", drawn configs and weights")
    )
    layers = "" if shown["max_layers"] is None else f", layers <= {shown['max_layers']}"
    print(
        f"limits: encoder length <= {shown['max_seq_len']}, decoder length <= {shown['max_decoder_len']}{layers} "
        "(--max-seq-len, --max-decoder-len" + (", --max-layers)" if layers else ")")
    )
    print()
    print(f"{'property':<12}{'cases':>6}  {'worst error':>11}  verdict")
    results, failures = {}, []
    t0 = time.perf_counter()
    n_boundary = min(4, args.examples // 10)  # one hand-made boundary case per 10 examples, at most 4
    for prop in props:
        t_prop = time.perf_counter()
        boundary = boundary_cases(prop, boundary_config, None if verifier.runner.fixed else 0, **case_limits)
        state = search(
            verifier, prop, args.examples, args.seed, args.shrink, config, strategy, case_limits, boundary[:n_boundary]
        )
        if state["timeout"] is not None:
            verdict = "TIMEOUT"
            failures.append((prop, state["timeout"][0], f"the candidate was stopped: {state['timeout'][1]}", False))
        elif state["failure"] is not None:
            verdict = "FAIL"
            failures.append((prop, *state["failure"], state["boundary_failure"]))
        else:
            verdict = "pass"
        worst = "exact" if prop == "generate" and verdict == "pass" else f"{state['worst']:.3e}"
        print(f"{prop:<12}{state['cases']:>6}  {worst:>11}  {verdict}", flush=True)
        results[prop] = {
            "cases": state["cases"],
            "worst_error": _error_value(state["worst"]),
            "verdict": verdict,
            "outputs": list(verifier.keys.get(prop, OUTPUT_KEYS[prop])),
            "counterexample": None,
            "message": None,
            "seconds": round(time.perf_counter() - t_prop, 3),
            "coverage": state["coverage"],
        }
    seconds = time.perf_counter() - t0
    print(f"\n{len(props) - len(failures)}/{len(props)} properties pass ({seconds:.1f} s)")
    print("\nwhat the cases drew (cases per property; T: decoder length, P: cached prefix):")
    print(Coverage.HEADER)
    for prop, result in results.items():
        print(result["coverage"].short(prop))
    save_dir = None
    for prop, case, message, at_boundary in failures:
        if save_dir is None:
            save_dir = _save_dir(args)
        path = os.path.join(save_dir, f"{prop}.npz")
        save_case(path, case, candidate=args.candidate, dtype=dtype, message=message)
        results[prop].update(counterexample=os.path.abspath(path), message=message)
        print(f"\nFAIL {prop}: {message}")
        if at_boundary:
            print("counterexample (a hand-made boundary case; the drawn cases passed):")
        else:
            print(f"minimal counterexample ({'shrunk' if args.shrink else 'as drawn'}):")
        print("  " + case.summary().replace("\n", "\n  "))
        print(f"saved: {path}")
        print(f"replay: {_replay_command(args, path)}")
    if args.json is not None:
        report = {
            "candidate": args.candidate,
            "dtype": dtype,
            "tolerance": bound,
            "examples": args.examples,
            "seed": args.seed,
            "drawn_configs": not verifier.runner.fixed,
            "limits": shown,
            "seconds": round(seconds, 3),
            "passed": not failures,
            "properties": {p: {**r, "coverage": r["coverage"].summary()} for p, r in results.items()},
        }
        _write_json(args.json, report)
        print(f"\nwrote {args.json}")
    return 1 if failures else 0


def _save_dir(args):
    """The counterexample directory: --save-dir (created), else a new one under the system temp directory, so a
    failing run never writes into the user's working tree."""
    if args.save_dir is not None:
        os.makedirs(args.save_dir, exist_ok=True)
        return args.save_dir
    return tempfile.mkdtemp(prefix="led-ref-verify-")


def _write_json(path, report):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1, allow_nan=False)
        f.write("\n")


def _replay(args, verifier):
    from led_ref.testing import OUTPUT_KEYS, load_case
    from led_ref.testing.coverage import Coverage

    if not os.path.isfile(args.replay):
        raise FileNotFoundError(f"--replay {args.replay}: no such file")
    case, meta = load_case(args.replay)
    if verifier.runner.fixed != (case.param_seed is None):
        raise CLIError(
            f"--replay {args.replay}: saved for candidate {meta.get('candidate')}, whose weights are "
            f"{'fixed' if case.param_seed is None else 'drawn'}; {args.candidate} differs"
        )
    if verifier.fixed_config is not None and case.param_seed is None:
        case.config = verifier.fixed_config
    print(f"led-ref verify: replaying {args.replay} on {args.candidate} (dtype {verifier.dtype})")
    print("  " + case.summary().replace("\n", "\n  "))
    err, message = 0.0, None
    try:
        err = verifier.evaluate(case)
    except CaseFailure as exc:
        err, message, verdict = exc.error, str(exc), "FAIL"
    except CandidateTimeout as exc:
        err, message, verdict = math.inf, str(exc), "TIMEOUT"
    else:
        verdict = "pass"
    print(f"{verdict} {case.prop}: {message}" if message else f"pass {case.prop}: worst error {err:.3e}")
    if args.json is not None:
        coverage = Coverage()
        coverage.add(case)
        result = {
            "cases": 1,
            "worst_error": _error_value(err),
            "verdict": verdict,
            "outputs": list(OUTPUT_KEYS[case.prop]),
            "counterexample": os.path.abspath(args.replay),
            "message": message,
            "coverage": coverage.summary(),
        }
        report = {
            "candidate": args.candidate,
            "dtype": verifier.dtype,
            "replay": os.path.abspath(args.replay),
            "passed": verdict == "pass",
            "properties": {case.prop: result},
        }
        _write_json(args.json, report)
    return 0 if verdict == "pass" else 1

"""``led-ref verify --candidate SPEC``: check an LED implementation against led-ref, property by property.

For each property (led_ref.testing.properties: encoder, logits, attentions, cache, loss, and generate with
``--generate``) hypothesis draws cases -- configs and weights for ``python:`` candidates, inputs for fixed models --
and the candidate's outputs are compared with the float64 reference under ``led_ref.tolerances`` (the candidate's
dtype sets the bound). A failing property is shrunk to a minimal counterexample, printed, saved as an ``.npz`` and
given the one command that replays it (``--replay``). Exit status: 0 every property passes, 1 a property fails or a
case times out, 2 bad usage (candidate spec, import, contract: keys / shapes / dtypes / raising on the simplest
case).

Candidates run in a worker process so that ``--timeout`` can stop one that hangs (``--timeout 0``: in this process,
no limit).
"""

import math
import multiprocessing
import os
import shlex
import sys
import time

import numpy as np

from .cli import CLIError
from .verify_candidates import CandidateSpecError, make_adapter, parse_spec

DEFAULT_EXAMPLES = 40
DEFAULT_TIMEOUT = 60.0
DTYPES = ("float64", "float32", "float16")
BF16 = "bfloat16"  # the tolerance row of --precision bf16 (led_ref.tolerances.TOLERANCE)


def add_cli_arguments(parser):
    parser.add_argument(
        "--candidate", required=True, metavar="SPEC", help="python:MODULE:FUNCTION | hf:MODEL_DIR | onnx:EXPORT_DIR"
    )
    parser.add_argument(
        "--examples", type=int, default=DEFAULT_EXAMPLES, help=f"drawn cases per property (default {DEFAULT_EXAMPLES})"
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
        help="comma-separated properties among encoder,logits,attentions,cache,loss "
        "(default: all the candidate kind supports)",
    )
    parser.add_argument("--generate", action="store_true", help="also check greedy generation token by token")
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
        default="verify-counterexamples",
        help="where counterexamples are written (default ./verify-counterexamples)",
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

    def __init__(self, runner, dtype, fixed_config=None, fixed_params=None, generation_dir=None):
        self.runner, self.dtype = runner, dtype
        # the weights the candidate holds: a bf16 run reads the float32 export (bfloat16 is how it computes)
        self.params_dtype = "float32" if dtype == BF16 else dtype
        self.fixed_config, self.fixed_params = fixed_config, fixed_params
        self.generation_dir = generation_dir

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
        keys = T.OUTPUT_KEYS[case.prop]
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


def search(verifier, prop, examples, seed, shrink, config=None, config_strategy=None):
    """Run hypothesis for one property. Returns dict(cases, worst, failure=(case, message) or None, timeout)."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hseed

    from led_ref import testing as T

    state = {"cases": 0, "worst": 0.0, "failure": None, "timeout": None}
    phases = (Phase.generate, Phase.shrink) if shrink else (Phase.generate,)

    @settings(
        max_examples=examples,
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
    @given(T.cases(prop, config=config, config_strategy=config_strategy))
    def run(case):
        if state["timeout"] is not None:
            raise CandidateTimeout("stopped after a timeout")  # fail fast: no shrinking of a hang
        try:
            err = verifier.evaluate(case)
        except CaseFailure as exc:
            state["worst"] = max(state["worst"], exc.error)
            state["failure"] = (case, str(exc))  # the last failing call is hypothesis' minimal example
            raise AssertionError(str(exc)) from None
        except CandidateTimeout as exc:
            state["timeout"] = (case, str(exc))
            raise
        if state["failure"] is None:
            state["cases"] += 1
        state["worst"] = max(state["worst"], err)

    try:
        run()
    except (AssertionError, CandidateTimeout):
        pass
    except Exception:
        if state["failure"] is None and state["timeout"] is None:
            raise
    if state["failure"] is not None:
        state["cases"] += 1
    return state


# ---------------------------------------------------------------------------------------------- CLI


def _select(args, supports):
    wanted = list(supports) if args.outputs is None else [p.strip() for p in args.outputs.split(",") if p.strip()]
    known = ("encoder", "logits", "attentions", "cache", "loss")
    for p in wanted:
        if p not in known:
            raise CLIError(f"--outputs: unknown property {p!r}; expected some of {','.join(known)}")
        if p not in supports:
            raise CLIError(
                f"--outputs {p}: candidate {args.candidate} does not provide it (it supports {','.join(supports)})"
            )
    if not wanted:
        raise CLIError("--outputs: name at least one property")
    if args.generate:
        wanted.append("generate")
    return wanted


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


_MODEL_FIELDS = (
    "vocab_size",
    "d_model",
    "encoder_layers",
    "decoder_layers",
    "encoder_attention_heads",
    "decoder_attention_heads",
    "encoder_ffn_dim",
    "decoder_ffn_dim",
    "attention_window",
    "activation_function",
    "max_encoder_position_embeddings",
    "max_decoder_position_embeddings",
)


def _smoke_case(config, fixed):
    """The simplest case (batch 2, length W + 1, one padded row, a global first token) for the contract check."""
    from led_ref.testing import Case

    if config is None:
        from led_ref.config import LEDConfig

        config = LEDConfig(
            vocab_size=32,
            d_model=8,
            encoder_layers=2,
            decoder_layers=1,
            encoder_attention_heads=2,
            decoder_attention_heads=2,
            encoder_ffn_dim=12,
            decoder_ffn_dim=12,
            attention_window=[4, 6],
            max_encoder_position_embeddings=24,
            max_decoder_position_embeddings=8,
            pad_token_id=1,
            bos_token_id=0,
            eos_token_id=2,
            decoder_start_token_id=2,
        )
    w = max(config.layer_attention_windows())
    seq = min(w + 1, (int(config.max_encoder_position_embeddings) // w) * w)
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
    keys = [k for p in props if p in ("encoder", "logits", "attentions") for k in T.OUTPUT_KEYS[p]]
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
    from led_ref.tolerances import tolerance

    if args.examples < 1:
        raise CLIError(f"--examples {args.examples}: must be >= 1")
    if args.timeout < 0:
        raise CLIError(f"--timeout {args.timeout}: must be >= 0 (0: no limit)")
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
    try:
        runner = Runner(args.candidate, dtype, args.timeout)
    except CandidateSpecError as exc:
        raise CLIError(str(exc)) from None
    try:
        verifier = Verifier(runner, dtype, config, params, gen_dir)
        if args.replay:
            return _replay(args, verifier)
        props = _select(args, runner.supports)
        _check_contract(verifier, props, config, runner.fixed, args.candidate)
        return _verify(args, verifier, props, config, dtype, tolerance(dtype))
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


def _verify(args, verifier, props, config, dtype, bound):
    print(f"led-ref verify: candidate {args.candidate}")
    print(
        f"dtype {dtype} (tolerance {bound:g} on relative_error), {args.examples} examples per property, "
        f"seed {args.seed}" + ("" if verifier.runner.fixed else ", drawn configs and weights")
    )
    print()
    print(f"{'property':<12}{'cases':>6}  {'worst error':>11}  verdict")
    failures = []
    t0 = time.perf_counter()
    for prop in props:
        strategy = None
        if args.hf_runnable_configs and config is None:
            from led_ref.testing.strategies import configs

            strategy = configs(hf_runnable=True)
        state = search(verifier, prop, args.examples, args.seed, args.shrink, config, strategy)
        if state["timeout"] is not None:
            verdict = "TIMEOUT"
            failures.append((prop, state["timeout"][0], f"the candidate was stopped: {state['timeout'][1]}"))
        elif state["failure"] is not None:
            verdict = "FAIL"
            failures.append((prop, *state["failure"]))
        else:
            verdict = "pass"
        worst = "exact" if prop == "generate" and verdict == "pass" else f"{state['worst']:.3e}"
        print(f"{prop:<12}{state['cases']:>6}  {worst:>11}  {verdict}", flush=True)
    print(f"\n{len(props) - len(failures)}/{len(props)} properties pass ({time.perf_counter() - t0:.1f} s)")
    for prop, case, message in failures:
        os.makedirs(args.save_dir, exist_ok=True)
        from led_ref.testing import save_case

        path = os.path.join(args.save_dir, f"{prop}.npz")
        save_case(path, case, candidate=args.candidate, dtype=dtype, message=message)
        shrunk = "shrunk" if args.shrink else "as drawn"
        print(f"\nFAIL {prop}: {message}")
        print(f"minimal counterexample ({shrunk}):")
        print("  " + case.summary().replace("\n", "\n  "))
        print(f"saved: {path}")
        print(f"replay: {_replay_command(args, path)}")
    return 1 if failures else 0


def _replay(args, verifier):
    from led_ref.testing import load_case

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
    try:
        err = verifier.evaluate(case)
    except CaseFailure as exc:
        print(f"FAIL {case.prop}: {exc}")
        return 1
    except CandidateTimeout as exc:
        print(f"TIMEOUT {case.prop}: {exc}")
        return 1
    print(f"pass {case.prop}: worst error {err:.3e}")
    return 0

#!/usr/bin/env python3
"""Run HF transformers' own LED tests against led-ref's classes, with HF itself as the control.

The measure: HF's ``tests/models/led/test_modeling_led.py`` and ``test_tokenization_led.py`` (transformers
v4.46.3) run out of tree with only their imports of LED classes switched to led-ref's (the rewrite table below),
against the same files run unchanged on HF transformers (the control), on the same machine and Python
environment. Reported per file: how many tests HF passes, how many of *those* pass on led-ref, the percentage, and
each failing test with its first error line.

    python -m tools.hf_tests.run --transformers PATH                  # control + led-ref, compare
    python -m tools.hf_tests.run --transformers PATH --which modeling # one file
    python -m tools.hf_tests.run --transformers PATH --control        # control only
    python -m tools.hf_tests.run --transformers PATH --junit out/     # keep the junit XML
    python -m tools.hf_tests.run --transformers PATH --control-junit out/  # reuse a saved control run
    python -m tools.hf_tests.run --transformers PATH --hub-stand-in led_ref/data  # tokenizer tests offline

Getting the tests (HF's test code is never copied into this repository): ``PATH`` is a transformers checkout at
the release the classes follow,

    git clone --branch v4.46.3 --depth 1 https://github.com/huggingface/transformers

(where the network allows; the PyPI sdist is not enough, it ships only the top-level tests/*.py), or any directory
holding its ``tests/`` tree (``tests/__init__.py``, ``tests/*.py``, ``tests/models/led``, ``tests/generation``,
``tests/pipelines``, ``tests/utils``, ``tests/fixtures``) plus ``utils/test_module`` and, optionally, the root
``conftest.py``. The files are copied into a temporary directory for each run and deleted afterwards (``--keep``
keeps them).

The Python that runs this needs transformers 4.46.3 (the tests' release), torch, pytest < 8 (HF 4.46 pins
``pytest>=7.2,<8``; pytest 8 counts unittest subTests differently) and HF's test dependencies. A venv recipe,
from the repository root (torch first, so that pip cannot pull a CUDA build):

    python3 -m venv venv-hf
    venv-hf/bin/pip install torch==2.13.0
    venv-hf/bin/pip install transformers==4.46.3 'pytest>=7.2,<8' parameterized hypothesis timeout-decorator \
        pytest-timeout psutil 'datasets!=2.5.0,<4' 'accelerate>=0.26' protobuf
    venv-hf/bin/pip install -e '.[export,hf]'

datasets is imported by tests/pipelines at module level (without it the model file does not collect); accelerate
and protobuf are in HF's test extras. No network is used: HF_HUB_OFFLINE=1 and TRANSFORMERS_OFFLINE=1 are set
(``--online`` leaves them alone), so tests that download from the hub fail in the control too and do not count;
``--hub-stand-in DIR`` serves DIR's vocab.json + merges.txt as the hub tokenizer the tokenizer tests load.

Only the standard library is used here (argparse, ast, xml.etree, subprocess); transformers and pytest are
imported only to report their versions.
"""

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import OrderedDict

# ----------------------------------------------------------------------------------------------------------------
# The rewrite table: LED name imported by HF's test files -> the led-ref module that provides it. A change of
# led-ref's layout is a one-line edit of CONFIG, TOKENIZERS or TORCH. Names the test files import that are not
# listed stay HF's.
# ----------------------------------------------------------------------------------------------------------------
CONFIG = "led_ref.export.hf_models"  # LEDConfig as a transformers PretrainedConfig
TOKENIZERS = "led_ref"  # LEDTokenizer / LEDTokenizerFast
TORCH = "led_ref.export.hf_models"  # the torch classes as transformers PreTrainedModels
LED_NAMES = {
    "LEDConfig": CONFIG,
    "LEDTokenizer": TOKENIZERS,
    "LEDTokenizerFast": TOKENIZERS,
    "VOCAB_FILES_NAMES": "led_ref.tokenizer",
    "LEDModel": TORCH,
    "LEDForConditionalGeneration": TORCH,
    "LEDForSequenceClassification": TORCH,
    "LEDForQuestionAnswering": TORCH,
    "LEDEncoder": TORCH,
    "LEDDecoder": TORCH,
    "LEDPreTrainedModel": TORCH,
}
# Only `from <module> import <LED name>` where <module> is one of these is rewritten; every other import
# (BatchEncoding, MODEL_FOR_QUESTION_ANSWERING_MAPPING, testing_utils, ...) stays HF's.
HF_LED_MODULES = (
    "transformers",
    "transformers.models.led",
    "transformers.models.led.modeling_led",
    "transformers.models.led.configuration_led",
    "transformers.models.led.tokenization_led",
    "transformers.models.led.tokenization_led_fast",
)
# The two test files, by --which key.
TEST_FILES = OrderedDict(
    [
        ("modeling", "tests/models/led/test_modeling_led.py"),
        ("tokenization", "tests/models/led/test_tokenization_led.py"),
    ]
)
EXPECTED_TRANSFORMERS = "4.46.3"  # the release the test files are taken from
# Top-level directories of tests/ that the two files need (directly or through the mixins).
NEEDED_TEST_DIRS = ("generation", "pipelines", "utils", "fixtures")
# Hub repositories the test files load (tokenizer files only). With --hub-stand-in DIR, an offline hub cache is
# made in which each of these holds DIR's vocab.json + merges.txt, so the tests that load them run without network
# (in the control too: only tests that then pass on HF count). Ids differ from the real vocabularies'.
STAND_IN_REPOS = ("allenai/led-base-16384",)
STAND_IN_FILES = ("vocab.json", "merges.txt")
# pytest markers registered by HF's pyproject.toml (not copied), to keep the output free of warnings.
MARKERS = ("generate", "flash_attn_test", "bitsandbytes")


def rewrite_imports(source, table=None):
    """``source`` with every ``from <HF LED module> import <LED name>`` pointed at led-ref (``table``:
    name -> module, default LED_NAMES). Names not in the table stay imported from HF, on their own line.
    Indentation (imports under ``if is_torch_available():``) is kept. Returns (new source, rewritten names)."""
    table = LED_NAMES if table is None else table
    lines = source.splitlines(keepends=True)
    edits = []  # (first line index, last line index, replacement text)
    rewritten = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in HF_LED_MODULES):
            continue
        ours = [a for a in node.names if a.name in table]
        if not ours:
            continue
        theirs = [a for a in node.names if a.name not in table]
        indent = " " * node.col_offset
        out = []
        if theirs:
            out.append(f"{indent}from {node.module} import {', '.join(_alias(a) for a in theirs)}\n")
        by_module = OrderedDict()
        for a in ours:
            by_module.setdefault(table[a.name], []).append(a)
            rewritten.append(a.name)
        for module, names in by_module.items():
            out.append(
                f"{indent}from {module} import {', '.join(_alias(a) for a in names)}  # hf_tests: was {node.module}\n"
            )
        edits.append((node.lineno - 1, node.end_lineno - 1, "".join(out)))
    for first, last, text in sorted(edits, reverse=True):
        lines[first : last + 1] = [text]
    return "".join(lines), rewritten


def _alias(a):
    return a.name if a.asname is None else f"{a.name} as {a.asname}"


def _ignore_other_models(tests_root):
    """copytree ignore function: under tests/models keep only __init__.py and led/; skip caches."""
    models = os.path.join(tests_root, "models")

    def ignore(directory, names):
        skip = {n for n in names if n in ("__pycache__", ".pytest_cache")}
        if os.path.abspath(directory) == os.path.abspath(models):
            skip |= {n for n in names if n not in ("__init__.py", "led")}
        return skip

    return ignore


def prepare_tree(transformers_path, workdir, control):
    """Copy what the LED tests need into ``workdir`` and (unless ``control``) rewrite their LED imports.
    Returns {which: rewritten names}."""
    src_tests = os.path.join(transformers_path, "tests")
    for rel in TEST_FILES.values():
        if not os.path.isfile(os.path.join(transformers_path, rel)):
            sys.exit(f"error: {rel} not found under --transformers {transformers_path}")
    dst_tests = os.path.join(workdir, "tests")
    os.makedirs(os.path.join(dst_tests, "models"))
    for name in os.listdir(src_tests):  # top-level files: __init__.py, test_*_common.py, test_pipeline_mixin.py
        path = os.path.join(src_tests, name)
        if os.path.isfile(path):
            shutil.copy2(path, dst_tests)
    for name in NEEDED_TEST_DIRS:
        if os.path.isdir(os.path.join(src_tests, name)):
            shutil.copytree(
                os.path.join(src_tests, name), os.path.join(dst_tests, name), ignore=_ignore_other_models(src_tests)
            )
    shutil.copy2(os.path.join(src_tests, "models", "__init__.py"), os.path.join(dst_tests, "models"))
    shutil.copytree(
        os.path.join(src_tests, "models", "led"),
        os.path.join(dst_tests, "models", "led"),
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    # tests/utils/test_configuration_utils.py puts <root>/utils on sys.path for `test_module`
    if os.path.isdir(os.path.join(transformers_path, "utils", "test_module")):
        shutil.copytree(
            os.path.join(transformers_path, "utils", "test_module"),
            os.path.join(workdir, "utils", "test_module"),
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    if os.path.isfile(os.path.join(transformers_path, "conftest.py")):
        shutil.copy2(os.path.join(transformers_path, "conftest.py"), workdir)
    # tests/pipelines/test_pipelines_common.py and test_pipeline_mixin.py import <root>/src/transformers by
    # path: point it at the installed transformers, the library the run uses
    import transformers

    os.makedirs(os.path.join(workdir, "src"))
    os.symlink(os.path.dirname(os.path.abspath(transformers.__file__)), os.path.join(workdir, "src", "transformers"))
    with open(os.path.join(workdir, "pytest.ini"), "w") as f:
        f.write("[pytest]\nmarkers =\n" + "".join(f"    {m}: HF marker\n" for m in MARKERS))
    rewritten = {}
    if not control:
        for which, rel in TEST_FILES.items():
            path = os.path.join(workdir, rel)
            with open(path, encoding="utf-8") as f:
                new, names = rewrite_imports(f.read())
            with open(path, "w", encoding="utf-8") as f:
                f.write(new)
            rewritten[which] = names
    return rewritten


def check_targets(names):
    """The led-ref names that cannot be imported: {name: error}."""
    import importlib

    missing = {}
    for name in sorted(set(names)):
        module = LED_NAMES[name]
        try:
            getattr(importlib.import_module(module), name)
        except Exception as e:  # report whatever stops the import
            missing[name] = f"{module}.{name}: {type(e).__name__}: {e}"
    return missing


def make_stand_in_cache(cache_dir, files_dir):
    """A huggingface_hub cache (HF_HUB_CACHE layout) in which every STAND_IN_REPOS repo holds files_dir's
    STAND_IN_FILES at one fake revision; other files are recorded as known-missing."""
    revision = "0" * 40
    for repo in STAND_IN_REPOS:
        base = os.path.join(cache_dir, "models--" + repo.replace("/", "--"))
        os.makedirs(os.path.join(base, "refs"))
        with open(os.path.join(base, "refs", "main"), "w") as f:
            f.write(revision)
        snapshot = os.path.join(base, "snapshots", revision)
        os.makedirs(snapshot)
        for name in STAND_IN_FILES:
            path = os.path.join(files_dir, name)
            if not os.path.isfile(path):
                sys.exit(f"error: --hub-stand-in: {path} not found")
            shutil.copy2(path, snapshot)


def run_pytest(workdir, files, junit_path, extra_args, online, timeout, hub_cache=None):
    env = dict(os.environ)
    if not online:
        env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    if hub_cache:
        env.update(
            HF_HUB_CACHE=hub_cache, HUGGINGFACE_HUB_CACHE=hub_cache, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1"
        )
    env.pop("PYTEST_ADDOPTS", None)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        *files,
        "-p",
        "no:cacheprovider",
        "-q",
        "-rN",
        f"--junitxml={junit_path}",
        "-o",
        "junit_family=xunit1",
        "-o",
        "junit_logging=no",
    ]
    if timeout and _has_module("pytest_timeout"):
        cmd += [f"--timeout={timeout}"]
    cmd += list(extra_args)
    proc = subprocess.run(cmd, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail = proc.stdout.strip().splitlines()[-1:] or [""]
    print(f"    pytest exit {proc.returncode}: {tail[0]}")
    if not os.path.isfile(junit_path):
        print(proc.stdout[-4000:])
        sys.exit("error: pytest wrote no junit file")


def _has_module(name):
    import importlib.util

    return importlib.util.find_spec(name) is not None


def read_junit(path):
    """{test id: (outcome, one-line message)}; outcome is passed / failed / error / skipped. The id is
    ``<file stem>::<class>::<test>`` (stable across the control and led-ref runs)."""
    results = OrderedDict()
    for case in ET.parse(path).iter("testcase"):
        cls = case.get("classname", "")
        test_id = f"{cls.split('.')[-2] if cls.count('.') else cls}::{cls.split('.')[-1]}::{case.get('name')}"
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            el = case.find(tag)
            if el is not None:
                outcome = {"failure": "failed"}.get(tag, tag)
                message = _one_line(el.get("message") or el.text or "")
                break
        if test_id in results and results[test_id][0] != "passed":
            continue  # a setup error and a call failure of one test: keep the first non-pass
        results[test_id] = (outcome, message)
    return results


def _one_line(text, width=220):
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    line = lines[0] if lines else ""
    return line if len(line) <= width else line[: width - 3] + "..."


def run_side(args, which_list, control, junit_dir):
    """Run one side (control or led-ref) and return {which: results}."""
    label = "control (HF)" if control else "led-ref"
    workdir = tempfile.mkdtemp(prefix="hf_tests_control_" if control else "hf_tests_ledref_")
    try:
        rewritten = prepare_tree(args.transformers, workdir, control)
        hub_cache = None
        if args.hub_stand_in:
            hub_cache = os.path.join(workdir, "hub-cache")
            make_stand_in_cache(hub_cache, args.hub_stand_in)
        if not control:
            missing = check_targets([n for w in which_list for n in rewritten.get(w, [])])
            for err in missing.values():
                print(f"    led-ref lacks {err}")
        out = {}
        for which in which_list:
            junit = os.path.join(junit_dir, f"hf-{'control' if control else 'ledref'}-{which}.xml")
            print(
                f"[{label}] {which}: {TEST_FILES[which]}"
                + (f" (rewritten: {', '.join(rewritten.get(which, [])) or 'nothing'})" if not control else "")
            )
            run_pytest(workdir, [TEST_FILES[which]], junit, args.pytest_args, args.online, args.timeout, hub_cache)
            out[which] = read_junit(junit)
        return out
    finally:
        if args.keep:
            print(f"    kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def summarise(which, control, ledref, show_failures=True):
    passed_hf = [t for t, (o, _) in control.items() if o == "passed"]
    passed_both = [t for t in passed_hf if ledref.get(t, ("missing", ""))[0] == "passed"]
    pct = 100.0 * len(passed_both) / len(passed_hf) if passed_hf else 0.0
    counts = {o: sum(1 for v in control.values() if v[0] == o) for o in ("passed", "failed", "error", "skipped")}
    print(f"\n== {which}: {TEST_FILES[which]}")
    print(f"   control (HF): {len(control)} tests: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    print(f"   led-ref passes {len(passed_both)} of the {len(passed_hf)} tests HF passes ({pct:.1f}%)")
    extra = [t for t, (o, _) in ledref.items() if o == "passed" and control.get(t, ("",))[0] != "passed"]
    if extra:
        print(
            f"   (and {len(extra)} that pass on led-ref but not on HF: {', '.join(t.split('::')[-1] for t in extra)})"
        )
    if show_failures:
        for t in passed_hf:
            if t not in passed_both:
                o, msg = ledref.get(t, ("missing", "not collected on led-ref"))
                print(f"   FAIL {t.split('::', 1)[1]} [{o}] {msg}")
    return len(passed_hf), len(passed_both)


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--transformers",
        required=True,
        metavar="PATH",
        help="a transformers checkout (tag v4.46.3) or a directory holding its tests/ tree",
    )
    p.add_argument(
        "--which",
        default="modeling,tokenization",
        help="comma-separated subset of: " + ", ".join(TEST_FILES) + " (default: both)",
    )
    p.add_argument("--junit", metavar="DIR", help="write the junit XML files here (default: a temp dir)")
    p.add_argument("--control", action="store_true", help="run the unchanged tests on HF only")
    p.add_argument(
        "--control-junit",
        metavar="DIR",
        help="reuse the control results hf-control-<which>.xml from DIR instead of rerunning them",
    )
    p.add_argument("--online", action="store_true", help="do not set HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE")
    p.add_argument(
        "--hub-stand-in",
        metavar="DIR",
        help="serve DIR's vocab.json + merges.txt as " + ", ".join(STAND_IN_REPOS) + " from an offline "
        "hub cache (e.g. led-ref's led_ref/data: GPT-2 BPE in LED's id layout), so the tests that load "
        "it run; use the same DIR for the control and led-ref runs",
    )
    p.add_argument("--timeout", type=int, default=600, help="per-test timeout in s (pytest-timeout; 0: none)")
    p.add_argument("--keep", action="store_true", help="keep the temporary test trees")
    p.add_argument("--quiet", action="store_true", help="print the counts only, not each failing test")
    p.add_argument("pytest_args", nargs="*", help="extra pytest arguments, after --  (e.g. -- -k attention)")
    args = p.parse_args(argv)

    which_list = [w.strip() for w in args.which.split(",") if w.strip()]
    for w in which_list:
        if w not in TEST_FILES:
            p.error(f"--which: unknown {w!r} (choose from {', '.join(TEST_FILES)})")
    args.transformers = os.path.abspath(args.transformers)
    import pytest
    import transformers

    print(
        f"transformers {transformers.__version__} ({os.path.dirname(transformers.__file__)}), "
        f"pytest {pytest.__version__}, python {sys.version.split()[0]}"
    )
    if transformers.__version__ != EXPECTED_TRANSFORMERS:
        print(
            f"warning: the tests are taken from transformers {EXPECTED_TRANSFORMERS}; "
            f"installed is {transformers.__version__}"
        )
    if int(pytest.__version__.split(".")[0]) >= 8:
        print("warning: HF 4.46 pins pytest<8; pytest>=8 reports unittest subTests differently")
    if not args.control:
        try:
            import led_ref

            print(f"led-ref {led_ref.__version__} ({os.path.dirname(led_ref.__file__)})")
        except ImportError:
            sys.exit("error: led_ref is not importable in this Python")

    junit_dir = os.path.abspath(args.junit) if args.junit else tempfile.mkdtemp(prefix="hf_tests_junit_")
    os.makedirs(junit_dir, exist_ok=True)
    if args.control_junit and not args.control:
        control = {w: read_junit(os.path.join(args.control_junit, f"hf-control-{w}.xml")) for w in which_list}
    else:
        control = run_side(args, which_list, True, junit_dir)
    if args.control:
        for w in which_list:
            res = control[w]
            counts = {o: sum(1 for v in res.values() if v[0] == o) for o in ("passed", "failed", "error", "skipped")}
            print(f"\n== {w}: control (HF): {len(res)} tests: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
        print(f"\njunit files: {junit_dir}")
        return 0
    ledref = run_side(args, which_list, False, junit_dir)
    for w in which_list:
        summarise(w, control[w], ledref[w], show_failures=not args.quiet)
    print(f"\njunit files: {junit_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

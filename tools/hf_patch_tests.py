"""HF transformers' own LED model tests with led_ref.export.hf.patch applied to every LED model they build.

    python -m tools.hf_patch_tests --transformers PATH [--junit DIR] [-- PYTEST_ARGS]

``PATH`` is a transformers checkout at the installed version's tag (or any directory holding its ``tests/`` tree:
``tests/__init__.py``, ``tests/*.py``, ``tests/models/led``, ``tests/generation``, ``tests/pipelines``,
``tests/utils``, ``tests/fixtures``, plus ``utils/test_module`` and the root ``conftest.py`` if present). The test
files run twice, unchanged, from a temporary copy (HF's test code never enters this repository): once as they are
(the control) and once with a conftest that patches every ``LEDEncoder`` right after HF builds it (so every
``LEDModel`` and head, built directly or by ``from_pretrained``, runs led-ref's encoder layers). Reported: how
many tests pass in the control, how many of those also pass patched, and each one that does not, with its error.

Needs, in this interpreter: transformers with torch, led-ref, and what HF's test files import (pytest < 8,
parameterized, datasets, psutil, timeout-decorator). HF_HUB_OFFLINE is set: tests that download fail in both runs
and do not count.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

TEST_FILE = "tests/models/led/test_modeling_led.py"
NEEDED_DIRS = ("generation", "pipelines", "utils", "fixtures")  # tests/ subtrees the LED tests import
MARKERS = ("generate", "flash_attn_test", "bitsandbytes")  # registered in HF's pyproject.toml (not copied)

# Installed only in the patched run's copy: patch every LEDEncoder when HF has built it (post_init ends __init__).
# Each patch appends a line to PATCH_LOG (in the run's directory): the report says how many encoders were patched.
PATCH_LOG = "patched-encoders.log"
PATCH_CONFTEST = f'''
import os

from transformers.models.led import modeling_led

from led_ref.export import hf

_post_init = modeling_led.LEDEncoder.post_init
_log = os.path.join(os.path.dirname(__file__), "..", "..", "..", "{PATCH_LOG}")


def _post_init_patched(self):
    _post_init(self)
    hf.patch(self)
    with open(_log, "a") as f:
        f.write(type(self).__name__ + "\\n")


modeling_led.LEDEncoder.post_init = _post_init_patched
'''


def prepare(transformers_path, workdir, patched):
    """Copy what the LED model tests need into ``workdir``; add the patching conftest if ``patched``."""
    src = os.path.join(transformers_path, "tests")
    if not os.path.isfile(os.path.join(transformers_path, TEST_FILE)):
        sys.exit(f"error: {TEST_FILE} not found under --transformers {transformers_path}")
    dst = os.path.join(workdir, "tests")
    os.makedirs(os.path.join(dst, "models"))
    for name in os.listdir(src):
        if os.path.isfile(os.path.join(src, name)):
            shutil.copy2(os.path.join(src, name), dst)
    skip = shutil.ignore_patterns("__pycache__", ".pytest_cache")
    for name in NEEDED_DIRS:
        if os.path.isdir(os.path.join(src, name)):
            shutil.copytree(os.path.join(src, name), os.path.join(dst, name), ignore=skip)
    shutil.copy2(os.path.join(src, "models", "__init__.py"), os.path.join(dst, "models"))
    shutil.copytree(os.path.join(src, "models", "led"), os.path.join(dst, "models", "led"), ignore=skip)
    if os.path.isdir(os.path.join(transformers_path, "utils", "test_module")):
        shutil.copytree(
            os.path.join(transformers_path, "utils", "test_module"),
            os.path.join(workdir, "utils", "test_module"),
            ignore=skip,
        )
    if os.path.isfile(os.path.join(transformers_path, "conftest.py")):
        shutil.copy2(os.path.join(transformers_path, "conftest.py"), workdir)
    import transformers  # the pipeline tests import <root>/src/transformers by path: the installed one

    os.makedirs(os.path.join(workdir, "src"))
    os.symlink(os.path.dirname(os.path.abspath(transformers.__file__)), os.path.join(workdir, "src", "transformers"))
    with open(os.path.join(workdir, "pytest.ini"), "w") as f:
        f.write("[pytest]\nmarkers =\n" + "".join(f"    {m}: HF marker\n" for m in MARKERS))
    if patched:
        with open(os.path.join(dst, "models", "led", "conftest.py"), "w") as f:
            f.write(PATCH_CONFTEST)


def run(workdir, junit, pytest_args):
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env.pop("PYTEST_ADDOPTS", None)
    cmd = [sys.executable, "-m", "pytest", TEST_FILE, "-p", "no:cacheprovider", "-q", f"--junitxml={junit}"]
    proc = subprocess.run(
        cmd + list(pytest_args), cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    if not os.path.isfile(junit):
        sys.exit(f"error: pytest wrote no junit file:\n{proc.stdout[-3000:]}")
    return proc.stdout.strip().splitlines()[-1:]


def outcomes(junit):
    """{class::test: (passed|failed|error|skipped, one-line message)}."""
    out = {}
    for case in ET.parse(junit).iter("testcase"):
        key = f"{case.get('classname', '').split('.')[-1]}::{case.get('name')}"
        result = ("passed", "")
        for tag in ("failure", "error", "skipped"):
            el = case.find(tag)
            if el is not None:
                text = (el.get("message") or el.text or "").strip().splitlines()
                result = ({"failure": "failed"}.get(tag, tag), (text[0] if text else "")[:200])
                break
        if out.get(key, ("passed",))[0] == "passed":
            out[key] = result
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--transformers", required=True, metavar="PATH", help="transformers checkout / tests tree")
    p.add_argument("--junit", metavar="DIR", help="keep the two junit files here")
    p.add_argument("pytest_args", nargs="*", help="extra pytest arguments after -- (e.g. -- -k attention)")
    args = p.parse_args(argv)
    import transformers

    import led_ref

    print(f"transformers {transformers.__version__}, led-ref {led_ref.__version__}, python {sys.version.split()[0]}")
    junit_dir = os.path.abspath(args.junit) if args.junit else tempfile.mkdtemp(prefix="hf_patch_junit_")
    os.makedirs(junit_dir, exist_ok=True)
    results = {}
    for label in ("control", "patched"):
        workdir = tempfile.mkdtemp(prefix=f"hf_patch_tests_{label}_")
        try:
            prepare(os.path.abspath(args.transformers), workdir, label == "patched")
            junit = os.path.join(junit_dir, f"hf-led-modeling-{label}.xml")
            print(f"[{label}] pytest: {' '.join(run(workdir, junit, args.pytest_args))}", flush=True)
            results[label] = outcomes(junit)
            if label == "patched":
                log = os.path.join(workdir, PATCH_LOG)
                n = sum(1 for _ in open(log)) if os.path.isfile(log) else 0
                print(f"[{label}] {n} LED encoders built by the tests were patched")
                if not n:
                    sys.exit("error: the patched run patched nothing")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    control, patched = results["control"], results["patched"]
    passed = [t for t, (o, _) in control.items() if o == "passed"]
    kept = [t for t in passed if patched.get(t, ("missing",))[0] == "passed"]
    counts = {o: sum(1 for v in control.values() if v[0] == o) for o in ("passed", "failed", "error", "skipped")}
    print(f"control: {len(control)} tests: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    print(f"patched: {len(kept)} of the {len(passed)} tests passing in the control pass")
    for t in passed:
        if t not in kept:
            outcome, message = patched.get(t, ("missing", "not collected"))
            print(f"  FAIL {t} [{outcome}] {message}")
    print(f"junit files: {junit_dir}")
    return 0 if len(kept) == len(passed) and passed else 1


if __name__ == "__main__":
    sys.exit(main())

"""The paths, modules and commands that README.md, CONTRIBUTING.md and docs/ name exist: a file that moves, a
``python -m`` module that is renamed or a command-line option that is dropped fails here, not in a reader's shell."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = (
    [ROOT / "README.md", ROOT / "CONTRIBUTING.md"]
    + sorted((ROOT / "docs").rglob("*.md"))
    + sorted((ROOT / "tools" / "docs" / "templates").glob("*.md"))
)
# repository paths as the docs write them, e.g. `led_ref/threads.py`, (docs/deployment.md), tools/bench/
PATH = re.compile(r"(?<![\w./-])((?:led_ref|export|spec|tests|tools|docs)/[\w./*-]*\w/?)")  # spec/make_*.py globs
MODULE = re.compile(r"python -m ((?:tools|led_ref)(?:\.[a-z_][a-z0-9_]*)+)")  # not placeholders (tools.X)
DOTTED = re.compile(r"`(led_ref(?:\.\w+)+)")
CODE = re.compile(r"```[a-z]*\n(.*?)```|`([^`\n]+)`", re.DOTALL)
# `led-ref` the command, not a word of a name such as the benchmark rows `led-ref+ckpt`, `led-ref's`, `led-ref[hf]`
COMMAND = re.compile(r"(?:led-ref(?![\w'\[.+-])|python -m led_ref(?![.\w]))(?: ([a-z][a-z-]*))?([^\n|#`]*)")


def _texts():
    return {p: p.read_text(encoding="utf-8") for p in DOCS}


def _module_file(dotted):
    """tools.bench.gemm -> tools/bench/gemm.py (or its package's __init__.py); led_ref.export.x -> export/x.py."""
    parts = dotted.split(".")
    if parts[:2] == ["led_ref", "export"]:
        parts = ["export"] + parts[2:]
    base = ROOT.joinpath(*parts)
    for f in (base.with_suffix(".py"), base / "__init__.py"):
        if f.is_file():
            return f
    return None


def _where(found, name, path):
    found.setdefault(name, []).append(str(path.relative_to(ROOT)))


def test_the_doc_set_is_found():
    assert len(DOCS) > 15 and ROOT / "README.md" in DOCS


def test_every_repository_path_exists():
    missing = {}
    for path, text in _texts().items():
        for p in PATH.findall(text):
            if not (any(ROOT.glob(p)) if "*" in p else (ROOT / p).exists()):
                _where(missing, p, path)
    assert not missing, f"named in the docs but not in the repository: {missing}"


def test_every_python_m_module_exists():
    missing = {}
    for path, text in _texts().items():
        for mod in MODULE.findall(text):
            if _module_file(mod) is None:
                _where(missing, mod, path)
    assert not missing, f"python -m modules that do not exist: {missing}"


def test_every_dotted_led_ref_name_exists():
    """`led_ref.x.y` in backticks: a module, or a name that the longest module prefix mentions."""
    missing = {}
    for path, text in _texts().items():
        for name in DOTTED.findall(text):
            parts = name.split(".")
            cut = next((k for k in range(len(parts), 0, -1) if _module_file(".".join(parts[:k]))), 0)
            ok = cut > 0 and (
                cut == len(parts)
                or re.search(
                    rf"\b{re.escape(parts[cut])}\b", _module_file(".".join(parts[:cut])).read_text(encoding="utf-8")
                )
            )
            if not ok:
                _where(missing, name, path)
    assert not missing, f"led_ref names the docs use that the code does not define: {missing}"


@pytest.fixture(scope="module")
def cli_help():
    """{subcommand: its --help text}, "" for the top level."""
    from led_ref.app.cli import SUBCOMMANDS

    helps = {}
    for sub in ["", *SUBCOMMANDS]:
        r = subprocess.run(
            [sys.executable, "-m", "led_ref", *([sub] if sub else []), "--help"],
            check=False,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 0, r.stderr
        helps[sub] = r.stdout
    return helps


def test_every_led_ref_command_and_option_exists(cli_help):
    """In code (backticks, code blocks): `led-ref SUB --option ...` names a subcommand and options it has."""
    unknown, checked = {}, 0
    for path, text in _texts().items():
        for block, span in CODE.findall(text):
            for sub, args in COMMAND.findall(block or span):
                checked += 1
                if sub not in cli_help:
                    _where(unknown, f"led-ref {sub}", path)
                    continue
                known = cli_help[sub or "demo"] + cli_help[""]  # no subcommand: the main job (demo)
                for opt in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", args):
                    if opt not in known:
                        _where(unknown, f"led-ref {sub} {opt}", path)
    assert checked > 40, f"only {checked} commands found: is the pattern still right?"
    assert not unknown, f"commands or options the CLI does not have: {unknown}"

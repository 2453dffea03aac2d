"""The command line: help with examples, one-line errors (tracebacks only with --debug), quiet progress."""

import io
import os
import subprocess
import sys

import pytest

from led_ref.app import cli
from led_ref.app.progress import Progress, enabled, progress, task

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(*argv, timeout=300, env_extra=None):
    env = dict(os.environ, LED_REF_PROGRESS="0")
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "led_ref", *argv], capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env
    )


def test_top_level_help_lists_every_subcommand_with_examples():
    r = run_cli("--help")
    assert r.returncode == 0, r.stderr
    for name in cli.SUBCOMMANDS:
        assert name in r.stdout
    assert "examples:" in r.stdout and "python -m led_ref bench --quick" in r.stdout


@pytest.mark.parametrize("command", sorted(cli.SUBCOMMANDS))
def test_subcommand_help_has_examples_and_options(command):
    r = run_cli(command, "--help")
    assert r.returncode == 0, r.stderr
    assert "examples:" in r.stdout
    for example in cli.SUBCOMMANDS[command][2]:
        assert example in r.stdout
    assert "--debug" in r.stdout
    expected = {
        "demo": ["--size", "--model", "--file", "--backends"],
        "bench": ["--quick", "--hf-python", "--backends"],
        "generate": ["--model", "--num-beams", "--backend"],
        "export": ["--opset"],
        "attention-map": ["--model", "--layer", "--head", "--tokens", "--global-positions"],
        "summarize": [
            "--model",
            "--batch-tokens",
            "--resume",
            "--overwrite",
            "--engine",
            "--id-field",
            "--ray-address",
            "--evaluate",
        ],
        "evaluate": ["--json", "--allow-missing", "--references-field"],
        "verify": ["--candidate", "--examples", "--timeout", "--replay", "--generate"],
        "finetune": ["--model", "--train", "--eval", "--gradient-checkpointing", "--resume", "--lr", "--grad-accum"],
    }
    for opt in expected[command]:
        assert opt in r.stdout


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["demo", "--model", "/nonexistent/led-checkpoint"], "--model /nonexistent/led-checkpoint: no such directory"),
        (["demo", "--size", "tiny", "--file", "/nonexistent/doc.txt"], "--file /nonexistent/doc.txt: no such file"),
        (["demo", "--size", "tiny", "--max-input-tokens", "1"], "--max-input-tokens must be >= 2"),
        (["demo", "--size", "tiny", "--backends", "cuda"], "--backends: unknown ['cuda']"),
        (["bench", "--quick", "--backends", "tpu"], "--backends: unknown ['tpu']"),
        (
            ["bench", "--quick", "--hf-python", "/nonexistent/python"],
            "--hf-python /nonexistent/python: not an executable",
        ),
        (["bench", "--quick", "--seq-lens", "64,abc"], "--seq-lens: expected comma-separated integers"),
        (["bench", "--quick", "--new-tokens", "0"], "--new-tokens must be in 1..512"),
    ],
)
def test_bad_input_is_one_line_error_without_traceback(argv, fragment):
    r = run_cli(*argv)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"led-ref {argv[0]}: error: ") and fragment in lines[0], r.stderr
    assert lines[0].endswith("(--debug shows the traceback)"), r.stderr


def test_debug_flag_shows_the_traceback():
    r = run_cli("demo", "--debug", "--model", "/nonexistent/led-checkpoint")
    assert r.returncode != 0
    assert "Traceback" in r.stderr and "FileNotFoundError" in r.stderr


def test_no_subcommand_runs_the_demo_options():
    # the default command is demo: its options are accepted without naming it
    r = run_cli("--model", "/nonexistent/led-checkpoint")
    assert r.returncode == 2 and "led-ref demo: error: --model" in r.stderr


# ---------------------------------------------------------------- progress


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_is_silent_when_not_a_terminal(monkeypatch):
    monkeypatch.delenv("LED_REF_PROGRESS", raising=False)
    buf = io.StringIO()
    assert not enabled(buf)
    assert list(progress(range(5), desc="x", file=buf)) == list(range(5))
    with task("step", file=buf) as t:
        pass
    assert buf.getvalue() == ""
    assert t.seconds is not None and t.seconds >= 0


def test_progress_draws_on_a_terminal_and_env_overrides(monkeypatch):
    monkeypatch.delenv("LED_REF_PROGRESS", raising=False)
    tty = _Tty()
    assert enabled(tty)
    with Progress(total=4, desc="generate", unit="tok", file=tty) as bar:
        for _ in range(4):
            bar.update()
    out = tty.getvalue()
    assert out.startswith("\rgenerate") and "4/4 tok" in out and out.endswith("\n")
    assert "[" + "#" * 24 + "]" in out  # full bar at the end
    monkeypatch.setenv("LED_REF_PROGRESS", "0")
    assert not enabled(_Tty())
    monkeypatch.setenv("LED_REF_PROGRESS", "1")
    assert enabled(io.StringIO())


def test_progress_task_reports_failure_and_reraises():
    tty = _Tty()
    with pytest.raises(RuntimeError):
        with task("export", file=tty, enable=True):
            raise RuntimeError("boom")
    assert tty.getvalue().startswith("export ...") and "failed" in tty.getvalue()


def test_progress_rejects_a_bad_total():
    with pytest.raises(ValueError, match="total must be a non-negative int"):
        Progress(total=-1, enable=False)
    with pytest.raises(ValueError, match="total must be a non-negative int"):
        Progress(total=2.5, enable=False)

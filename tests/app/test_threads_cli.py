"""--threads and --busy: one-line errors and notes (led_ref.app.blas.configure, benchmarks.common.BusyProcess)."""

import pytest

from led_ref import threads
from led_ref.app import cli
from led_ref.app.benchmarks import common
from led_ref.app.blas import configure

pytestmark = pytest.mark.usefixtures("restore_policy")  # tests/conftest.py


@pytest.mark.parametrize("value", ["0", "-3"])
def test_threads_zero_or_negative_is_a_one_line_error(value, capsys):
    assert cli.main(["bench", "--quick", "--threads", value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        err[0].startswith("led-ref bench: error: --threads must be >= 1") and len(err) == 1
    )  # one line, ending with the --debug hint


def test_more_threads_than_cores_is_allowed_with_a_note():
    n = threads.available_cores() + 2
    notes = configure(n)
    assert threads.get_num_threads() == n
    assert any(f"more than the {threads.available_cores()} available cores" in note for note in notes)


def test_no_note_within_cores():
    assert not [n for n in configure(1) if "available cores" in n]
    assert threads.get_num_threads() == 1


def test_busy_that_cannot_start_is_a_one_line_error(tmp_path):
    with pytest.raises(ValueError, match="^--busy: could not start the competing process"):
        with common.BusyProcess(python=str(tmp_path / "no-such-python")):
            pass


def test_busy_process_runs_and_stops():
    with common.BusyProcess() as busy:
        assert busy.alive()
    assert not busy.alive()


def test_encoder_bench_busy_error_is_one_line(monkeypatch, capsys):
    from tools.bench import encoder

    monkeypatch.setattr(common.BusyProcess, "CODE", "raise SystemExit(3)")
    monkeypatch.setattr(common, "run_isolated", lambda *a, **k: {"error": "skipped in this test"})
    assert encoder.main(["--seq-lens", "64", "--size", "tiny", "--busy"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--busy: the competing process exited at once" in err[0]

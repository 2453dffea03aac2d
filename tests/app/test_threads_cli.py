"""--threads and --busy: one-line errors and notes (led_ref.app.blas.configure, benchmarks.common.BusyProcess)."""

import pytest

from led_ref import threads
from led_ref.app import cli
from led_ref.app.benchmarks import common

# led_ref.app.blas (the CLI's setup) is imported inside the tests: child_state below checks that a library-API
# benchmark child never imports it

pytestmark = pytest.mark.usefixtures("restore_policy")  # tests/conftest.py


@pytest.mark.parametrize("value", ["0", "-3"])
def test_threads_zero_or_negative_is_a_one_line_error(value, capsys):
    assert cli.main(["bench", "--quick", "--threads", value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        err[0].startswith("led-ref bench: error: --threads must be >= 1") and len(err) == 1
    )  # one line, ending with the --debug hint


def test_more_threads_than_cores_is_allowed_with_a_note():
    from led_ref.app.blas import configure

    n = threads.available_cores() + 2
    notes = configure(n)
    assert threads.get_num_threads() == n
    assert any(f"more than the {threads.available_cores()} available cores" in note for note in notes)


def test_no_note_within_cores():
    from led_ref.app.blas import configure

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


def test_busy_process_ends_with_a_benchmark_killed_without_clean_up():
    """A benchmark that dies without running its clean-up (killed by a signal) leaves no competitor spinning: it would
    make every later "quiet" row busy."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    from tests.testlib import ROOT

    code = (
        "import os\nfrom led_ref.app.benchmarks import common\n"
        "busy = common.BusyProcess().__enter__()\nprint(busy.proc.pid, flush=True)\nos._exit(0)"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT)] + sys.path))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    pid = int(proc.stdout.split()[0])
    stat = Path(f"/proc/{pid}/stat")
    if not stat.parent.parent.joinpath("self").exists():
        pytest.skip("no /proc here")

    def running():
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")  # gone, or a zombie not reaped yet
        except OSError:
            return False

    deadline = time.monotonic() + 10
    while running() and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = running()
    if alive:
        os.kill(pid, 9)
    assert not alive, "the --busy competitor outlived its benchmark"


def test_encoder_bench_busy_error_is_one_line(monkeypatch, capsys):
    from tools.bench import encoder

    monkeypatch.setattr(common.BusyProcess, "CODE", "raise SystemExit(3)")
    monkeypatch.setattr(common, "run_isolated", lambda *a, **k: {"error": "skipped in this test"})
    assert encoder.main(["--seq-lens", "64", "--size", "tiny", "--busy"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--busy: the competing process exited at once" in err[0]


def child_state():
    """Run in a benchmark child (common.run_isolated): whether the CLI's threading setup ran, and the thread count."""
    import sys

    return {"cli_setup": "led_ref.app.blas" in sys.modules, "threads": threads.get_num_threads()}


@pytest.mark.parametrize("api, n", [("library", None), ("library", 2), ("cli", None), ("cli", 2)])
def test_benchmark_rows_run_as_the_library_or_the_cli(api, n):
    """--api library: the child is a plain `import led_ref` program (the CLI's setup never runs; set_num_threads only
    for an explicit count); --api cli: the command line's setup runs first."""
    r = common.run_isolated("tests.app.test_threads_cli", "child_state", api=api, threads=n)
    assert r["cli_setup"] == (api == "cli")
    assert r["threads"] == (n or threads.available_cores() + 1)
    with pytest.raises(ValueError, match="api must be one of library, cli, got 'gui'"):
        common.run_isolated("tests.app.test_threads_cli", "child_state", api="gui")


def test_encoder_bench_json_has_both_apis_and_the_goal_ratios(tmp_path, capsys):
    import json

    from tools.bench import encoder

    path = tmp_path / "enc.json"
    argv = ["--seq-lens", "64", "--size", "tiny", "--api", "library,cli", "--repeat", "2", "--json", str(path)]
    assert encoder.main(argv) == 0
    doc = json.loads(path.read_text())
    assert doc["command"] == "python -m tools.bench.encoder " + " ".join(argv)
    assert doc["date_utc"] and doc["machine"]["cores_usable"] >= 1 and doc["busy"] is False
    assert [(r["api"], r["load"], r["backend"]) for r in doc["rows"]] == [
        ("library", "quiet", "numpy"),
        ("cli", "quiet", "numpy"),
    ]
    assert all(len(r["data"]["runs"]) == 2 for r in doc["rows"])
    assert doc["summary"] == []  # quiet only, no HF rows: no ratio to take
    assert set(doc["threading"]) == {"library", "cli"}


@pytest.mark.parametrize("bad", ["gui", "library,library", ""])
def test_bench_api_option_errors(bad, capsys):
    from tools.bench import encoder, generation

    for main in (encoder.main, generation.main):
        with pytest.raises(SystemExit) as exc:
            main(["--size", "tiny", "--api", bad])
        assert exc.value.code == 2
        assert "--api must be a comma-separated list of library, cli" in capsys.readouterr().err


def test_other_load_leaves_out_the_benchmarks_own_competitor():
    """common.OtherLoad: a CPU-bound process counts as another user's load unless the benchmark runs it (its
    --busy competitor); the difference is that process's CPU."""
    import time

    if common.OtherLoad().cores() is None:
        pytest.skip("no /proc/stat here")
    with common.BusyProcess() as busy:
        own, foreign = common.OtherLoad(), common.OtherLoad(competitors=())
        time.sleep(1.0)
        burned = common._process_cpu_s(busy.proc.pid)
        with_it, without_it = foreign.cores(), own.cores()
    assert burned > 0.05 and with_it >= 0 and without_it >= 0
    assert with_it - without_it > 0.05  # the competitor's share of that second, counted only when foreign

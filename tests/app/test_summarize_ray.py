"""``led-ref summarize --engine ray``: Ray Data in local mode (2 CPUs) gives the local engine's lines; a dying actor
is retried once, then its documents get error lines. Needs the scale extra (skipped without it)."""

import json
import os

import pytest

pytest.importorskip("ray.data")

from led_ref.app.corpus.engine import JobSpec
from led_ref.app.corpus.ray_engine import RETRIED_ERROR
from led_ref.app.corpus.summarize import summarize_corpus
from tests.app.corpuslib import demo_records, read_jsonl, tiny_checkpoint, without_seconds, write_bad_corpus
from tests.testlib import ROOT

pytestmark = [pytest.mark.ray, pytest.mark.slow]  # each starts a local Ray instance (~5-10 s)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("tiny-ray"))


def quiet(msg):
    pass


def test_ray_and_local_engines_write_the_same_lines(ckpt, tmp_path):
    inp = tmp_path / "in.jsonl"
    write_bad_corpus(inp, n_good=8)
    spec = JobSpec(ckpt, gen_kwargs={"max_new_tokens": 6, "min_new_tokens": 2})
    # a small budget: several batches, so both actors work and results arrive out of order
    local = summarize_corpus(inp, tmp_path / "local.jsonl", spec, batch_tokens=600, log=quiet)
    ray_ = summarize_corpus(
        inp, tmp_path / "ray.jsonl", spec, batch_tokens=600, engine="ray", num_actors=2, ray_num_cpus=2, log=quiet
    )
    a, b = read_jsonl(tmp_path / "local.jsonl"), read_jsonl(tmp_path / "ray.jsonl")
    assert len(a) == len(b) and without_seconds(a) == without_seconds(b)
    assert all(r["summary"] for r in a if "summary" in r)  # real text compared, not empty strings
    assert (local["ok"], local["failed"]) == (ray_["ok"], ray_["failed"]) == (8, 8)


def test_ray_actor_death_retried_once_then_error_line(ckpt, tmp_path):
    inp = tmp_path / "in.jsonl"
    recs = demo_records(6, chars=200)
    inp.write_text("".join(json.dumps(r) + "\n" for r in recs))
    spec = JobSpec(ckpt, gen_kwargs={"max_new_tokens": 4, "min_new_tokens": 2})
    summarize_corpus(inp, tmp_path / "local.jsonl", spec, one_at_a_time=True, log=quiet)
    once, always = recs[1]["id"], recs[4]["id"]
    msgs = []
    summarize_corpus(
        inp,
        tmp_path / "ray.jsonl",
        spec,
        one_at_a_time=True,
        engine="ray",
        num_actors=2,
        ray_num_cpus=2,
        log=msgs.append,
        _fault={"once": [once], "always": [always], "marker_dir": str(tmp_path)},
    )
    assert (tmp_path / "died-1").exists() and (tmp_path / "died-4").exists()  # the actors really died
    local, ray_ = (
        without_seconds(read_jsonl(tmp_path / "local.jsonl")),
        without_seconds(read_jsonl(tmp_path / "ray.jsonl")),
    )
    assert set(ray_) == set(local)  # every id exactly once (without_seconds asserts no duplicates)
    assert ray_[once] == local[once]  # died once: the retry summarized it
    assert ray_[always] == {"id": always, "error": RETRIED_ERROR}
    assert all(ray_[k] == local[k] for k in local if k != always)
    assert any("failed twice" in m for m in msgs)


def test_ray_job_that_cannot_start_is_one_clear_error(ckpt, tmp_path):
    import shutil

    from led_ref.app.cli import CLIError

    broken = tmp_path / "broken"
    shutil.copytree(ckpt, broken)
    (broken / "model.safetensors").unlink()  # the driver only tokenizes; the actors cannot load the weights
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in demo_records(2, chars=100)))
    with pytest.raises(CLIError, match="--engine ray: the Ray job failed .*rerun with --resume"):
        summarize_corpus(inp, tmp_path / "o.jsonl", JobSpec(str(broken)), engine="ray", ray_num_cpus=2, log=quiet)


def test_ray_address_of_a_running_cluster_ships_the_model(ckpt, tmp_path):
    # a separate head process (what `ray start --head` gives), joined through --ray-address: the checkpoint files
    # then travel through the object store and each actor loads them from its own temporary directory
    import subprocess
    import sys
    import time

    # Ray 2.60 enables token authentication for a cluster that ray.init starts; this test's head and driver are on
    # one machine and in one test, so it is switched off for both (a real cluster keeps it)
    head = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import ray, sys, time\n"
            "ray.init(num_cpus=2, include_dashboard=False)\n"
            "print(ray.get_runtime_context().gcs_address, flush=True)\n"
            "sys.stdin.read()\n",
        ],  # lives until its stdin closes
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "RAY_AUTH_MODE": "disabled"},
    )
    try:
        address = head.stdout.readline().strip()
        assert ":" in address, address
        inp = tmp_path / "in.jsonl"
        write_bad_corpus(inp, n_good=4)
        spec = JobSpec(ckpt, gen_kwargs={"max_new_tokens": 5, "min_new_tokens": 2})
        summarize_corpus(inp, tmp_path / "local.jsonl", spec, log=quiet)
        # the driver in a fresh process too: Ray keeps per-process state (auth mode) from this suite's other tests
        t0 = time.time()
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "led_ref",
                "summarize",
                str(inp),
                "-o",
                str(tmp_path / "ray.jsonl"),
                "--model",
                ckpt,
                "--max-new-tokens",
                "5",
                "--min-new-tokens",
                "2",
                "--engine",
                "ray",
                "--ray-address",
                address,
                "--ray-timeout",
                "60",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=ROOT,
            env={**os.environ, "LED_REF_PROGRESS": "0", "RAY_AUTH_MODE": "disabled"},
        )
        assert r.returncode == 0, r.stderr[-2000:]
        assert time.time() - t0 < 180
        assert without_seconds(read_jsonl(tmp_path / "ray.jsonl")) == without_seconds(
            read_jsonl(tmp_path / "local.jsonl")
        )
    finally:
        head.stdin.close()
        head.wait(timeout=60)

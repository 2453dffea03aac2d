"""``led-ref summarize`` (local engine): batches equal single-document generate, error lines, resume, kill."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from led_ref.app.corpus.engine import JobSpec, Prepared, Summarizer, make_batches, prepare
from led_ref.app.corpus.summarize import summarize_corpus
from led_ref.generation import generate
from tests.app.corpuslib import BAD_LINES, demo_records, read_jsonl, tiny_checkpoint, without_seconds, write_bad_corpus
from tests.testlib import ROOT


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("tiny-sum"))


def cli(*argv, env=None, timeout=300):
    env = {**os.environ, "LED_REF_PROGRESS": "0", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "led_ref", *argv], capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout
    )


def quiet(msg):
    pass


def _alone(model, tokenizer, ids, **kw):
    out = generate(model, np.array([ids]), np.ones((1, len(ids)), dtype=np.int64), global_attention="first", **kw)
    return tokenizer.decode(out[0].tolist(), skip_special_tokens=True).strip(), out.shape[1] - 1


def _check_batches_equal_alone(model_dir, backend):
    recs = demo_records(chars=250)
    for kw in (dict(max_new_tokens=10), dict(num_beams=2, max_new_tokens=10)):
        s = Summarizer(JobSpec(model_dir, backend=backend, gen_kwargs=kw))
        prepared = [Prepared(i, *prepare(s.tokenizer, r["text"], 512)) for i, r in enumerate(recs)]
        batches = make_batches(prepared, 3000)
        assert max(len(b) for b in batches) >= 4 and len({len(p.ids) for p in batches[0]}) > 1  # real padding
        got = dict(r for b in batches for r in s.run_batch(b))
        lengths = set()
        for p in prepared:
            text, n = _alone(s.model, s.tokenizer, p.ids, **kw)
            assert (got[p.index]["summary"], got[p.index]["generated_tokens"]) == (text, n), (backend, kw, p.index)
            lengths.add(n)
        assert len(lengths) > 1  # some rows stopped at eos, others ran on: finished rows were padded


def test_batched_summaries_equal_generate_alone_numpy(ckpt):
    _check_batches_equal_alone(ckpt, "numpy")


@pytest.mark.export
def test_batched_summaries_equal_generate_alone_onnx(ckpt, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("torch")
    from led_ref.export.onnx_export import export_checkpoint

    export_checkpoint(ckpt, tmp_path / "onnx", log=quiet)
    _check_batches_equal_alone(str(tmp_path / "onnx"), "onnx")


def test_make_batches_budget_and_order():
    ps = [Prepared(i, [0] * n, False) for i, n in enumerate([5, 40, 12, 40, 7, 100])]
    batches = make_batches(ps, 90)
    # 12, 7, 5 would fit the budget (3 x 12 = 36) but a third of it would be padding (> MAX_PADDING)
    assert [[p.index for p in b] for b in batches] == [[5], [1, 3], [2, 4], [0]]
    assert all(len(b) * len(b[0].ids) <= 90 or len(b) == 1 for b in batches)
    assert [len(b) for b in make_batches(ps, 90, one_at_a_time=True)] == [1] * 6


def test_corpus_with_bad_records_every_id_once(ckpt, tmp_path):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    good = write_bad_corpus(inp)
    stats = summarize_corpus(inp, out, JobSpec(ckpt, gen_kwargs={"max_new_tokens": 5}), log=quiet)
    lines = read_jsonl(out)
    by_key = without_seconds(lines)  # asserts: no key twice
    assert stats["ok"] == len(good) and stats["failed"] == len(BAD_LINES) == len(lines) - len(good)
    for gid in good:
        r = by_key[gid]
        assert set(r) == {"id", "summary", "input_tokens", "truncated", "generated_tokens"}
        assert r["input_tokens"] > 2 and r["truncated"] is False and 1 <= r["generated_tokens"] <= 5
    errors = [r for r in lines if "error" in r]
    for _raw, bad_id, needle in BAD_LINES:
        match = [r for r in errors if needle in r["error"] and (bad_id is None or r["id"] == bad_id)]
        assert len(match) == 1, (needle, errors)
        if bad_id is None:
            assert match[0]["id"] is None and f"line {match[0]['line']}:" in match[0]["error"]
    assert all("seconds" in r for r in lines if "summary" in r)


def test_truncation_and_no_truncation(ckpt, tmp_path):
    inp = tmp_path / "in.jsonl"
    recs = demo_records(3)
    inp.write_text("".join(json.dumps(r) + "\n" for r in recs))
    spec = JobSpec(ckpt, gen_kwargs={"max_new_tokens": 3})
    summarize_corpus(inp, tmp_path / "a.jsonl", spec, max_input_tokens=64, log=quiet)
    a = read_jsonl(tmp_path / "a.jsonl")
    assert all(r["truncated"] is True and r["input_tokens"] == 64 for r in a)
    summarize_corpus(inp, tmp_path / "b.jsonl", spec, max_input_tokens=64, truncate=False, log=quiet)
    b = read_jsonl(tmp_path / "b.jsonl")
    assert all("too long" in r["error"] and "64" in r["error"] for r in b) and len(b) == 3


def test_sampling_runs_each_document_alone_with_its_seed(ckpt, tmp_path):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    recs = demo_records(4, chars=200)
    inp.write_text("".join(json.dumps(r) + "\n" for r in recs))
    kw = {"do_sample": True, "max_new_tokens": 6, "top_k": 0}
    summarize_corpus(inp, out, JobSpec(ckpt, gen_kwargs=kw, seed=7), log=quiet)
    s = Summarizer(JobSpec(ckpt, gen_kwargs=kw, seed=7))
    got = {r["id"]: r["summary"] for r in read_jsonl(out)}
    for r in recs:
        ids, _ = prepare(s.tokenizer, r["text"], 512)
        assert got[r["id"]] == _alone(s.model, s.tokenizer, ids, seed=7, **kw)[0]


def test_txt_directory_input(ckpt, tmp_path):
    d = tmp_path / "docs"
    d.mkdir()
    (d / "a.txt").write_text("First document about Python packaging. " * 5)
    (d / "b.txt").write_text("Second document about the import system. " * 9)
    (d / "bad.txt").write_bytes(b"\xff\xfe not utf-8")
    (d / "ignored.md").write_text("not a .txt file")
    out = tmp_path / "out.jsonl"
    summarize_corpus(d, out, JobSpec(ckpt, gen_kwargs={"max_new_tokens": 3}), log=quiet)
    lines = {r["id"]: r for r in read_jsonl(out)}
    assert set(lines) == {"a.txt", "b.txt", "bad.txt"}
    assert "summary" in lines["a.txt"] and "not valid UTF-8" in lines["bad.txt"]["error"]


def test_resume_skips_written_ids_and_drops_a_torn_line(ckpt, tmp_path):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_bad_corpus(inp)
    spec = JobSpec(ckpt, gen_kwargs={"max_new_tokens": 4})
    summarize_corpus(inp, tmp_path / "full.jsonl", spec, log=quiet)
    full = read_jsonl(tmp_path / "full.jsonl")
    # a partial output: the first 5 lines, then half of the 6th (a kill mid-write)
    raw = (tmp_path / "full.jsonl").read_bytes().split(b"\n")
    out.write_bytes(b"\n".join(raw[:5]) + b"\n" + raw[5][: len(raw[5]) // 2])
    msgs = []
    stats = summarize_corpus(inp, out, spec, resume=True, log=msgs.append)
    assert stats["skipped"] == 5 and any("torn last line" in m for m in msgs)
    assert without_seconds(read_jsonl(out)) == without_seconds(full)
    # resuming a finished job does nothing
    stats = summarize_corpus(inp, out, spec, resume=True, log=quiet)
    assert stats["skipped"] == len(full) and stats["ok"] == stats["failed"] == 0


def test_kill_mid_job_then_resume_every_id_once(ckpt, tmp_path):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    recs = [dict(r, id=f"{r['id']}-{k}") for k in range(3) for r in demo_records()]  # 48 documents
    inp.write_text("".join(json.dumps(r) + "\n" for r in recs))
    argv = [
        "summarize",
        str(inp),
        "-o",
        str(out),
        "--model",
        ckpt,
        "--max-new-tokens",
        "12",
        "--min-new-tokens",
        "12",
        "--one-at-a-time",
    ]
    env = dict(os.environ, LED_REF_PROGRESS="0")
    proc = subprocess.Popen(
        [sys.executable, "-m", "led_ref", *argv],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if out.exists() and out.read_bytes().count(b"\n") >= 3:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the job ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    done = out.read_bytes().count(b"\n")
    assert 3 <= done < len(recs)
    r = cli(*argv)
    assert r.returncode == 2 and "--resume" in r.stderr  # OUTPUT exists: refused without --resume
    r = cli(*argv, "--resume")
    assert r.returncode == 0, r.stderr
    assert "resuming" in r.stderr
    lines = read_jsonl(out)
    assert sorted(x["id"] for x in lines) == sorted(x["id"] for x in recs)  # every id exactly once
    ref = tmp_path / "ref.jsonl"
    assert cli(*argv[:3], str(ref), *argv[4:]).returncode == 0
    assert without_seconds(lines) == without_seconds(read_jsonl(ref))


def test_duplicate_ids_refused_before_any_work(ckpt, tmp_path):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(
        '{"id": "a", "text": "x y"}\n{"id": "b", "text": "z"}\n{"id": "a", "text": "w"}\n'
        '{"id": 7, "text": "v"}\n{"id": "7", "text": "u"}\n'
    )
    r = cli("summarize", str(inp), "-o", str(out), "--model", ckpt)
    assert r.returncode == 2 and "duplicate ids" in r.stderr and "'a' (lines 1, 3)" in r.stderr
    assert "'7' (lines 4, 5)" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    "case",
    ["missing_input", "output_dir", "fields", "exists", "both", "batch", "nrs", "seed", "max_input", "ray_address"],
)
def test_bad_input_one_line_errors(ckpt, tmp_path, case):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text('{"doc": "a", "body": "x y"}\n{"doc": "b", "body": "z", "extra": 1}\n')
    base = ["summarize", str(inp), "-o", str(out), "--model", ckpt, "--id-field", "doc", "--text-field", "body"]
    argv, needle = {
        "missing_input": (
            ["summarize", str(tmp_path / "nope.jsonl"), "-o", str(out), "--model", ckpt],
            "nope.jsonl: no such file or directory",
        ),
        "output_dir": (
            ["summarize", str(inp), "-o", str(tmp_path / "no" / "out.jsonl"), "--model", ckpt],
            "does not exist",
        ),
        "fields": (base[:6], "fields found: ['body', 'doc', 'extra']"),
        "exists": (base, "--overwrite"),
        "both": (base + ["--resume", "--overwrite"], "not both"),
        "batch": (base + ["--batch-tokens", "0"], "--batch-tokens must be >= 1"),
        "nrs": (base + ["--num-beams", "2", "--num-return-sequences", "2"], "unrecognized arguments"),
        "seed": (base + ["--seed", "1"], "--seed only applies"),
        "ray_address": (
            base + ["--engine", "ray", "--ray-address", "127.0.0.1:1", "--ray-timeout", "2"],
            "--ray-address 127.0.0.1:1: no Ray cluster answered within 2 s",
        ),
        "max_input": (base + ["--max-input-tokens", "9999"], "exceeds the model's max_encoder_position_embeddings=512"),
    }[case]
    if case == "exists":
        out.write_text("")
    r = cli(*argv)
    assert r.returncode == 2 and needle in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) <= 2


def test_ray_engine_without_ray_is_one_line(ckpt, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the scale extra were not installed
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": "a", "text": "x y"}\n')
    with pytest.raises(ImportError, match=r"pip install -e '\.\[scale\]'"):
        summarize_corpus(inp, tmp_path / "o.jsonl", JobSpec(ckpt), engine="ray", log=quiet)
    assert not (tmp_path / "o.jsonl").exists()


def test_unreachable_ray_address_fails_within_timeout():
    import socket

    from led_ref.app.corpus.ray_engine import check_address

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    t0 = time.time()
    with pytest.raises(ConnectionError, match=f"127.0.0.1:{port}: no Ray cluster answered within 2 s"):
        check_address(f"127.0.0.1:{port}", 2.0)
    with pytest.raises(ConnectionError, match="within 3 s"):
        # unroutable, a black hole, or (in some sandboxes) a proxy that accepts any connection: an error in time
        check_address("10.255.255.1:6379", 3.0)
    assert time.time() - t0 < 15
    with pytest.raises(ValueError, match="HOST:PORT"):
        check_address("no-port-here", 1.0)


def test_progress_bar_and_summary_line(ckpt, tmp_path):
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in demo_records(3, chars=200)))
    r = cli(
        "summarize",
        str(inp),
        "-o",
        str(tmp_path / "o.jsonl"),
        "--model",
        ckpt,
        "--max-new-tokens",
        "3",
        env={"LED_REF_PROGRESS": "1"},
    )
    assert r.returncode == 0, r.stderr
    assert "3/3 docs" in r.stderr and "tok/s" in r.stderr
    assert "3 documents: 3 ok, 0 failed" in r.stderr and "tokens/s" in r.stderr


def test_extras_are_imported_only_when_used():
    # ray and rouge-score are optional extras: importing the commands (and the core) must not load them
    code = (
        "import sys\nimport led_ref.app.cli, led_ref.app.corpus.summarize, led_ref.app.corpus.evaluate\n"
        "import led_ref.app.corpus.ray_engine\n"
        "extras = ('ray', 'rouge_score', 'onnxruntime', 'torch')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in extras)\n"
        "assert not bad, bad\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr


def test_corpus_benchmark_documents_span_the_asked_lengths(tmp_path):
    from led_ref.tokenizer import LEDTokenizerFast
    from tests.testlib import DATA
    from tools.bench.corpus import make_corpus

    tok = LEDTokenizerFast.from_pretrained(str(DATA))
    lengths = make_corpus(tmp_path / "c.jsonl", tok, 6, 500, 3000)
    assert len(read_jsonl(tmp_path / "c.jsonl")) == 6
    assert abs(lengths[0] - 500) <= 20 and abs(lengths[-1] - 3000) <= 60 and lengths == sorted(lengths)


def test_summarize_and_evaluate_run_out_of_the_box(tmp_path, capsys):
    """No INPUT and no --model: the bundled demo corpus through the bundled demo model, then ROUGE."""
    from led_ref.app import cli
    from led_ref.app.corpus.records import DEMO_CORPUS

    out = tmp_path / "s.jsonl"
    assert cli.main(["summarize", "-o", str(out), "--evaluate", "--max-new-tokens", "4"]) == 0
    with open(DEMO_CORPUS, encoding="utf-8") as f:
        ids = [json.loads(line)["id"] for line in f]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["id"] for r in lines) == sorted(ids) and all("summary" in r for r in lines)
    assert "rougeLsum" in capsys.readouterr().out

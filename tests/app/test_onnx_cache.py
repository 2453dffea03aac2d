"""``--backend onnx`` on a checkpoint directory (led_ref/app/onnx_cache.py): exported once into the cache entry
named by the checkpoint's fingerprint, reused by later runs, and exported again when the entry is unusable."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from led_ref.app import onnx_cache
from led_ref.app.onnx_cache import CACHE_ENV, MANIFEST, cache_root, entry_problem, onnx_export_dir
from tests.app.corpuslib import tiny_checkpoint
from tests.testlib import ROOT

TEXT = "Longformer encoder-decoder models summarize long documents. " * 3


def test_cache_root_follows_the_environment_and_stays_out_of_the_package(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == str(tmp_path / "mine")
    monkeypatch.delenv(CACHE_ENV)
    assert cache_root() == str(tmp_path / "xdg" / "led-ref" / "onnx")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == str(tmp_path / "home" / ".cache" / "led-ref" / "onnx")
    import led_ref

    assert not cache_root().startswith(os.path.dirname(os.path.abspath(led_ref.__file__)))


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny-cache")
    tiny_checkpoint(d)
    (d / "doc.txt").write_text(TEXT)
    return d


@pytest.mark.export
def test_the_fingerprint_is_the_content_the_export_reads(ckpt, tmp_path):
    pytest.importorskip("torch")
    fingerprint = onnx_cache.checkpoint_fingerprint
    copy = tmp_path / "copy"
    shutil.copytree(ckpt, copy)
    (copy / "notes.txt").write_text("not read by the export")
    assert fingerprint(copy) == fingerprint(ckpt)  # the content, not the path or unrelated files
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "max_decoder_position_embeddings": 30}))
    assert fingerprint(copy) != fingerprint(ckpt)
    shutil.copy(ckpt / "config.json", copy / "config.json")
    weights = bytearray((copy / "model.safetensors").read_bytes())
    weights[-1] ^= 1  # one bit of one weight
    (copy / "model.safetensors").write_bytes(bytes(weights))
    assert fingerprint(copy) != fingerprint(ckpt)


def _generate(model, cache, *args):
    env = {**os.environ, "LED_REF_PROGRESS": "0", CACHE_ENV: str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "led_ref", "generate", "--model", str(model), "--print-ids", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )


@pytest.mark.export
def test_generate_exports_a_checkpoint_once_and_reuses_it(ckpt, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("torch")
    cache = tmp_path / "cache"
    args = ("--max-new-tokens", "6", "--num-beams", "2", str(ckpt / "doc.txt"))
    first = _generate(ckpt, cache, "--backend", "onnx", *args)
    assert first.returncode == 0, first.stderr[-2000:]
    entries = [p for p in cache.iterdir() if p.is_dir()]
    assert len(entries) == 1 and not entries[0].name.startswith(".")  # no temporary directory left behind
    entry = entries[0]
    assert f"led-ref: exported {ckpt} to ONNX once" in first.stderr and f"cached in {entry}" in first.stderr
    assert entry_problem(entry) is None

    second = _generate(ckpt, cache, "--backend", "onnx", *args)
    assert second.returncode == 0, second.stderr[-2000:]
    assert f"led-ref: using the ONNX export of {ckpt} cached in {entry}" in second.stderr
    assert "exported" not in second.stderr
    numpy = _generate(ckpt, cache, *args)
    assert first.stdout == second.stdout == numpy.stdout and first.stdout.strip()


@pytest.mark.export
def test_an_unusable_entry_is_found_and_exported_again(ckpt, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("torch")
    from led_ref.export.files import DECODER_FILE, ENCODER_FILE

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    lines = []
    entry = onnx_export_dir(str(ckpt), log=lines.append)
    assert entry_problem(entry) is None and "exported" in lines[-1]
    saved = tmp_path / "saved"
    shutil.copytree(entry, saved)

    def restore():
        shutil.rmtree(entry)
        shutil.copytree(saved, entry)  # copy2: sizes and mtimes as recorded

    def truncate():
        with open(os.path.join(entry, ENCODER_FILE), "r+b") as f:
            f.truncate(100)

    def flip_a_byte():  # same size, new content
        path = os.path.join(entry, DECODER_FILE)
        data = bytearray(open(path, "rb").read())
        data[len(data) // 2] ^= 0xFF
        st = os.stat(path)
        open(path, "wb").write(bytes(data))
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))

    for damage, why in (
        (truncate, f"{ENCODER_FILE} has 100 bytes"),
        (flip_a_byte, f"{DECODER_FILE} was changed"),
        (lambda: os.remove(os.path.join(entry, MANIFEST)), f"no readable {MANIFEST}"),
        (lambda: os.remove(os.path.join(entry, ENCODER_FILE)), f"{ENCODER_FILE} is missing"),
    ):
        damage()
        assert why in (entry_problem(entry) or ""), damage
        restore()
        assert entry_problem(entry) is None
    os.utime(os.path.join(entry, "config.json"), ns=(0, 0))  # touched, same content: still usable
    assert entry_problem(entry) is None

    truncate()
    assert onnx_export_dir(str(ckpt), log=lines.append) == entry
    assert f"unusable: {ENCODER_FILE} has 100 bytes" in lines[-1] and entry_problem(entry) is None
    from led_ref.export.ort import OrtLEDForConditionalGeneration

    OrtLEDForConditionalGeneration.from_pretrained(entry)  # a complete export again

    assert onnx_export_dir(entry) == entry  # an export directory is used as it is


@pytest.mark.export
def test_a_directory_without_weights_says_what_it_lacks(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no weights in .*empty"):
        onnx_export_dir(str(tmp_path / "empty"))


@pytest.mark.export
@pytest.mark.slow
def test_summarize_onnx_on_the_default_demo_model(tmp_path):
    """The issue's first try as a new user: the bundled demo model, --backend onnx, no export step."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("torch")
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"id": "a", "text": TEXT}) + "\n")
    env = {**os.environ, "LED_REF_PROGRESS": "0", CACHE_ENV: str(tmp_path / "cache")}
    argv = [sys.executable, "-m", "led_ref", "summarize", str(docs), "--backend", "onnx", "--max-new-tokens", "8"]
    runs = [
        subprocess.run([*argv, "-o", str(tmp_path / f"out{i}.jsonl")], capture_output=True, text=True, env=env)
        for i in range(2)
    ]
    for r in runs:
        assert r.returncode == 0, r.stderr[-2000:]
    assert "to ONNX once" in runs[0].stderr and "using the ONNX export" in runs[1].stderr
    outs = [json.loads((tmp_path / f"out{i}.jsonl").read_text()) for i in range(2)]
    assert outs[0]["summary"] == outs[1]["summary"] and outs[0]["id"] == "a"

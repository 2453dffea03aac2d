"""One regression test per hostile-input example (spec/SPEC.md#bad-input), plus the rule's building
blocks: every one ends in a clear error naming the file / argument, before any allocation or decoding step."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from led_ref.errors import InputFileError, read_json
from tests.testlib import ROOT

HAVE_ORT = importlib.util.find_spec("onnxruntime") is not None


def _run(code, limit_gb=None, timeout=300, prelude=""):
    """Run ``code`` in a fresh interpreter (optionally under RLIMIT_AS); returns the CompletedProcess."""
    pre = ""
    if limit_gb:
        pre = f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({limit_gb} << 30, {limit_gb} << 30))\n"
    env = dict(os.environ, LED_REF_PROGRESS="0")
    return subprocess.run(
        [sys.executable, "-c", pre + prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )


def cli(*argv, stdin=None):
    env = dict(os.environ, LED_REF_PROGRESS="0")
    return subprocess.run(
        [sys.executable, "-m", "led_ref", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
        input=stdin,
    )


def one_line_error(r, *fragments):
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture()
def ckpt(fuzz_base, tmp_path):
    root, _ = fuzz_base
    d = tmp_path / "ckpt"
    shutil.copytree(os.path.join(root, "ckpt"), d)
    return d


def _edit_json(path, **changes):
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


# -- config.json claiming a huge vocab_size; checkpoint without final_logits_bias ----------------------------------
def _without_final_logits_bias(d):
    from led_ref.safetensors import load_file, save_file

    state = load_file(d / "model.safetensors")
    assert "final_logits_bias" in state
    del state["final_logits_bias"]
    save_file(state, d / "model.safetensors", metadata={"format": "pt"})


def test_huge_vocab_size_is_refused_naming_the_file(ckpt):
    _without_final_logits_bias(ckpt)
    _edit_json(ckpt / "config.json", vocab_size=10**12)
    from led_ref.model import LEDForConditionalGeneration

    with pytest.raises(ValueError, match="config.json: vocab_size=1000000000000 is above the limit"):
        LEDForConditionalGeneration.from_pretrained(ckpt)


def test_vocab_size_is_checked_against_the_checkpoint_before_allocating(ckpt):
    # 2**31 - 1 passes the config's sane limit; final_logits_bias of that size is 8 GiB: under a 3 GiB address-space
    # limit the loader must refuse by shapes (shared.weight) before it would allocate the zeros
    _without_final_logits_bias(ckpt)
    _edit_json(ckpt / "config.json", vocab_size=2**31 - 1)
    r = _run(
        f"""
        from led_ref.model import LEDForConditionalGeneration
        try:
            LEDForConditionalGeneration.from_pretrained({str(ckpt)!r})
        except ValueError as e:
            print("ValueError", e)
        """,
        limit_gb=3,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith("ValueError") and "shared.weight" in r.stdout and "2147483647" in r.stdout, r.stdout


def test_random_init_of_a_huge_config_is_refused_before_allocating():
    from led_ref.config import LEDConfig
    from led_ref.model import LEDForConditionalGeneration

    cfg = LEDConfig(vocab_size=2**31 - 1, d_model=1024, encoder_layers=1, decoder_layers=1)
    with pytest.raises(ValueError, match="random init of LEDForConditionalGeneration .* needs .* GiB"):
        from led_ref.weights import init_params

        LEDForConditionalGeneration(cfg, init_params(cfg, "lm"))


# -- safetensors tensor with a zero dimension and two of 2**62 ---------------------------------------------------------
def test_safetensors_shape_beyond_numpy_names_file_and_tensor(tmp_path):
    from led_ref.safetensors import load_file

    header = json.dumps({"w": {"dtype": "F32", "shape": [0, 2**62, 2**62], "data_offsets": [0, 0]}}).encode()
    header += b" " * (-len(header) % 8)
    path = tmp_path / "model.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header)
    with pytest.raises(ValueError, match=r"model.safetensors: .*tensor 'w': shape \[0, 4611686018427387904"):
        load_file(path)


# -- config.json not UTF-8, or nested 100,000 levels ---------------------------------------------------------------
@pytest.mark.parametrize(
    "raw, fragment",
    [
        (b'{"vocab_size": "\xff\xfe"}', "not UTF-8 text"),
        (b"[" * 100_000 + b"]" * 100_000, "nested deeper than 64 levels"),
        (b'{"a": ' + b"[" * 100 + b"]" * 100 + b"}", "nested deeper than 64 levels"),
        (b'{"vocab_size": 1' + b"0" * 5000 + b"}", "not valid JSON"),
    ],
)
def test_config_json_not_utf8_or_too_deep_names_the_file(ckpt, raw, fragment):
    from led_ref.config import LEDConfig
    from led_ref.model import LEDForConditionalGeneration

    (ckpt / "config.json").write_bytes(raw)
    for load in (LEDConfig.from_pretrained, LEDForConditionalGeneration.from_pretrained):
        with pytest.raises(InputFileError, match=fragment) as info:
            load(ckpt)
        assert str(info.value).startswith(str(ckpt / "config.json"))


def test_read_json_limits(tmp_path):
    p = tmp_path / "x.json"
    p.write_text("[1, 2]")
    with pytest.raises(InputFileError, match="expected a JSON object"):
        read_json(p, "test file")
    assert read_json(p, expect=list) == [1, 2]
    with pytest.raises(InputFileError, match="may be at most 4 bytes"):
        read_json(p, max_bytes=4)
    with pytest.raises(FileNotFoundError, match="missing.json"):
        read_json(tmp_path / "missing.json")


# -- tokenizer files ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls_name", ["LEDTokenizer", "LEDTokenizerFast"])
@pytest.mark.parametrize(
    "file, change, fragment",
    [
        ("tokenizer_config.json", {"model_max_length": "abc"}, "model_max_length must be an integer >= 1, got 'abc'"),
        ("tokenizer_config.json", {"add_prefix_space": "yes"}, "add_prefix_space must be true or false"),
        ("tokenizer_config.json", {"errors": "x" * 500}, "errors must be a bytes.decode error handler"),
        ("tokenizer_config.json", {"added_tokens_decoder": {"x": {"content": "a"}}}, "added_tokens_decoder key 'x'"),
        ("tokenizer_config.json", {"eos_token": 5}, "eos_token must be a str"),
        ("added_tokens.json", {"<extra>": "seven"}, "id of '<extra>' must be a token id"),
        ("added_tokens.json", {"<extra>": 1.5}, "id of '<extra>' must be a token id"),
        ("special_tokens_map.json", {"pad_token": {"content": 3}}, "'content' must be a non-empty str"),
    ],
)
def test_tokenizer_files_name_file_and_field(ckpt, cls_name, file, change, fragment):
    import led_ref.tokenizer as tk

    _edit_json(ckpt / file, **change)
    with pytest.raises(ValueError) as info:
        getattr(tk, cls_name).from_pretrained(ckpt)
    assert str(info.value).startswith(str(ckpt / file)) and fragment in str(info.value), str(info.value)


def test_decode_of_2d_array_is_a_clear_error():
    from led_ref.tokenizer import LEDTokenizer, LEDTokenizerFast

    for cls in (LEDTokenizer, LEDTokenizerFast):
        tok = cls.from_pretrained(ROOT / "led_ref" / "data")
        with pytest.raises(ValueError, match=r"token_ids must be 1-D .* shape \(2, 3\); use batch_decode"):
            tok.decode(np.zeros((2, 3), np.int64))
        with pytest.raises(TypeError, match="token_ids must hold integers, got list"):
            tok.decode([[1, 2], [3, 4]])
        assert tok.batch_decode(np.array([[0, 2], [0, 2]])) == tok.batch_decode([[0, 2], [0, 2]])
        with pytest.raises(ValueError, match=r"sequences must be 2-D"):
            tok.batch_decode(np.zeros((2, 3, 4), np.int64))


# -- past_key_values whose cross-attention length differs from the encoder length --------------------------------------
def test_past_with_other_cross_length_names_past_key_values(ckpt):
    from led_ref.model import LEDForConditionalGeneration

    model = LEDForConditionalGeneration.from_pretrained(ckpt)
    enc = model.get_encoder()(input_ids=np.array([[0, 5, 6, 7, 8, 9, 2]]))
    past = model(encoder_outputs=enc, decoder_input_ids=np.array([[2]]), use_cache=True).past_key_values
    short = tuple((k, v, ck[:, :, :-2], cv[:, :, :-2]) for k, v, ck, cv in past)
    with pytest.raises(
        ValueError,
        match=r"past_key_values\[0\] caches cross-attention over 5 encoder positions, "
        r"but encoder_hidden_states has length 7",
    ):
        model(encoder_outputs=enc, decoder_input_ids=np.array([[5]]), past_key_values=short)
    # the matching past still works
    model(encoder_outputs=enc, decoder_input_ids=np.array([[5]]), past_key_values=past)


# -- max_new_tokens beyond the decoder's positions: refused before any decoding step -----------------------------------
def test_max_new_tokens_beyond_decoder_positions_is_refused_up_front(ckpt):
    from led_ref.generation import generate
    from led_ref.model import LEDForConditionalGeneration

    model = LEDForConditionalGeneration.from_pretrained(ckpt)
    limit = model.config.max_decoder_position_embeddings
    steps = []
    ids = np.array([[0, 5, 6, 2]])
    # the last generated token is never fed back, so limit new tokens read positions 0 .. limit - 1: allowed
    for kwargs in (dict(max_new_tokens=limit + 1), dict(max_length=limit + 2), dict(max_new_tokens=10**9)):
        with pytest.raises(ValueError, match=f"max_decoder_position_embeddings={limit}; use max_new_tokens <= {limit}"):
            generate(model, ids, step_callback=lambda done, total: steps.append(done), **kwargs)
    assert steps == []  # not one decoding step ran
    for use_cache in (True, False):
        out = generate(model, ids, max_new_tokens=limit, min_new_tokens=limit, use_cache=use_cache)
        assert out.shape == (1, limit + 1)


def test_huge_num_beams_is_refused_before_allocating(ckpt):
    from led_ref.generation import generate
    from led_ref.model import LEDForConditionalGeneration

    model = LEDForConditionalGeneration.from_pretrained(ckpt)
    with pytest.raises(ValueError, match="generate with batch 1 x 1000000000 .* needs"):
        generate(model, np.array([[0, 5, 6, 2]]), num_beams=10**9, max_new_tokens=2)


# -- generate CLI: --max-input-length 0 / negative, binary input file -------------------------------------------------
@pytest.mark.parametrize("value", ["0", "-3", "1"])
def test_cli_generate_max_input_length_below_two_is_refused(ckpt, value):
    r = cli("generate", "--model", str(ckpt), "--max-input-length", value, str(ckpt / "doc.txt"))
    one_line_error(r, "--max-input-length must be >= 2", f"got {value}")


def test_cli_generate_binary_file_names_the_file(ckpt):
    binary = ckpt / "picture.bin"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x80")
    r = cli("generate", "--model", str(ckpt), "--max-new-tokens", "2", str(binary))
    one_line_error(r, str(binary), "not UTF-8 text")
    r = cli("generate", "--model", str(ckpt), "--max-new-tokens", "2", "-", stdin=None)
    assert r.returncode == 2  # empty stdin
    r = subprocess.run(
        [sys.executable, "-m", "led_ref", "generate", "--model", str(ckpt), "-"],
        input=b"\xff\xfe\x80",
        capture_output=True,
        cwd=ROOT,
        timeout=300,
        env=dict(os.environ, LED_REF_PROGRESS="0"),
    )
    assert r.returncode == 2 and b"(stdin)" in r.stderr and b"not UTF-8" in r.stderr, r.stderr


def test_cli_generate_options_are_refused_before_work(ckpt):
    r = cli("generate", "--model", str(ckpt), "--max-new-tokens", "500", str(ckpt / "doc.txt"))
    one_line_error(r, "max_decoder_position_embeddings=32")
    r = cli("generate", "--model", str(ckpt), "--num-beams", "0", str(ckpt / "doc.txt"))
    one_line_error(r, "num_beams must be >= 1")
    r = cli("generate", "--model", str(ckpt), "--max-new-tokens", "x", str(ckpt / "doc.txt"))
    one_line_error(r, "--max-new-tokens", "invalid int value")


def test_cli_damaged_checkpoint_file_is_one_line(ckpt):
    (ckpt / "config.json").write_bytes(b"[" * 100_000)
    r = cli("generate", "--model", str(ckpt), str(ckpt / "doc.txt"))
    one_line_error(r, "config.json", "nested deeper")
    r = cli("generate", "--model", str(ckpt), "--debug", str(ckpt / "doc.txt"))
    assert r.returncode != 0 and "Traceback" in r.stderr


# -- ONNX Runtime backend: random / truncated .onnx ------------------------------------------------------------------
@pytest.fixture()
def onnx_dir(fuzz_base, tmp_path):
    root, made = fuzz_base
    if "onnx" not in made or not HAVE_ORT:
        pytest.skip("needs the export extra (torch, onnx, onnxruntime)")
    d = tmp_path / "onnx"
    shutil.copytree(os.path.join(root, "onnx"), d)
    return d


@pytest.mark.parametrize("damage", ["random", "truncated"])
@pytest.mark.parametrize("name", ["encoder_model.onnx", "decoder_model_merged.onnx", "decoder_model.onnx"])
def test_ort_damaged_onnx_file_is_a_value_error_naming_it(onnx_dir, damage, name):
    from led_ref.export.ort import OrtLEDForConditionalGeneration

    if name == "decoder_model.onnx":  # the separate decoders are loaded only without the merged one
        os.remove(onnx_dir / "decoder_model_merged.onnx")
    path = onnx_dir / name
    raw = path.read_bytes()
    path.write_bytes(os.urandom(2000) if damage == "random" else raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=f"{name}: onnxruntime cannot load it as an ONNX model") as info:
        OrtLEDForConditionalGeneration.from_pretrained(onnx_dir)
    assert type(info.value) is ValueError  # not protobuf's DecodeError nor onnxruntime's own class
    r = cli("generate", "--model", str(onnx_dir), "--backend", "onnx", "-", stdin="Some text to summarize.")
    one_line_error(r, name)


def test_ort_single_file_model_damaged(onnx_dir):
    from led_ref.export.ort import OrtLEDModel

    for name in ("encoder_model.onnx", "decoder_model.onnx", "decoder_with_past_model.onnx"):
        os.remove(onnx_dir / name)
    (onnx_dir / "model.onnx").write_bytes(os.urandom(100))
    with pytest.raises(ValueError, match="model.onnx: onnxruntime cannot load it"):
        OrtLEDModel.from_pretrained(onnx_dir)


# -- deployment needs onnxruntime + numpy + regex only ---------------------------------------------------------------
BLOCKER = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "onnx"):
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
"""


def test_ort_backend_runs_where_torch_and_onnx_cannot_be_imported(onnx_dir, ckpt):
    r = _run(
        prelude=BLOCKER,
        code=f"""
        import numpy as np
        from led_ref.export.ort import OrtLEDForConditionalGeneration, load_exported
        from led_ref.tokenizer import LEDTokenizerFast
        m = load_exported({str(onnx_dir)!r})
        tok = LEDTokenizerFast.from_pretrained({str(onnx_dir)!r})
        ids = tok("Longformer summarizes long documents.", return_tensors="np")["input_ids"]
        out = m.generate(ids, max_new_tokens=3, num_beams=2)
        print("shape", out.shape)
        assert not [k for k in sys.modules if k.split(".")[0] in ("torch", "onnx")]
        print("no torch, no onnx")
        """,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "shape (1, 4)" in r.stdout and "no torch, no onnx" in r.stdout
    # the blocker is real: importing torch under it fails
    r = _run("import torch\n", prelude=BLOCKER)
    assert r.returncode != 0 and "blocked: torch" in r.stderr
    # and the CLI's onnx backend too
    r = _run(
        prelude=BLOCKER,
        code=f"""
        import sys
        from led_ref.app.cli import main
        sys.argv = ["led-ref"]
        raise SystemExit(main(["generate", "--model", {str(onnx_dir)!r}, "--backend", "onnx", "--max-new-tokens", "2",
                               {str(ckpt / "doc.txt")!r}]))
        """,
    )
    assert r.returncode == 0, r.stderr[-3000:]


def test_fingerprint_is_unchanged_and_core_only():
    """config_fingerprint moved off torch_model: same value as the exporter's per-layer expansion gives."""
    from led_ref.config import LEDConfig

    if importlib.util.find_spec("torch") is None:
        pytest.skip("needs torch for the old expansion")
    import hashlib

    from led_ref.export.onnx_export import ARCH_FIELDS, config_fingerprint
    from led_ref.export.torch_model import _cfg, layer_attention_windows

    cfg = LEDConfig(
        encoder_layers=3,
        attention_window=[4, 8, 16],
        vocab_size=100,
        d_model=16,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
    )
    data = {name: _cfg(cfg, name) for name in ARCH_FIELDS}
    data["attention_window"] = layer_attention_windows(cfg)
    old = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
    assert config_fingerprint(cfg) == old == config_fingerprint(cfg.to_dict())

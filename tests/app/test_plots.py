"""``bench --scaling`` and ``attention-map``: the JSON, the slope fit, the PNGs, the band/global/padding pattern.

Figures are not tested (timings vary); shapes, counts and the attention pattern are.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from led_ref.app import cli
from led_ref.app.attention_map import FIG_PX as MAP_PX
from led_ref.app.attention_map import attention_matrix, compute
from led_ref.app.benchmarks import scaling
from led_ref.config import LEDConfig
from led_ref.model import LEDModel
from led_ref.weights import init_params, save_checkpoint
from tests.testlib import DATA, ROOT

try:
    import matplotlib  # noqa: F401 (imported to check that it is installed)

    HAVE_MPL = True
except ImportError:
    HAVE_MPL = False
needs_mpl = pytest.mark.skipif(not HAVE_MPL, reason="needs the plot extra (matplotlib)")


def _png_pixels(path):
    """(width, height) of a PNG, read by matplotlib (independent of led_ref's own IHDR reader)."""
    import matplotlib.image

    img = matplotlib.image.imread(str(path))
    return img.shape[1], img.shape[0]


def _no_matplotlib_env(tmp_path):
    """An environment in which ``import matplotlib`` fails, as without the plot extra."""
    block = tmp_path / "block"
    (block / "matplotlib").mkdir(parents=True)
    (block / "matplotlib" / "__init__.py").write_text("raise ImportError('No module named matplotlib')\n")
    return dict(os.environ, LED_REF_PROGRESS="0", PYTHONPATH=os.pathsep.join([str(block), str(ROOT)]))


def _led_ref(*argv, env=None, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "led_ref", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env or dict(os.environ, LED_REF_PROGRESS="0"),
    )


# ================================================================ slope fit and lengths


def test_fit_loglog_slope_exact_on_linear_and_quadratic_data():
    x = np.array([512, 1024, 2048, 4096, 8192, 16384], dtype=float)
    slope, intercept = scaling.fit_loglog_slope(x, 3.0 * x)
    assert slope == pytest.approx(1.0, abs=1e-12) and intercept == pytest.approx(np.log(3.0), abs=1e-9)
    slope, intercept = scaling.fit_loglog_slope(x, 0.5 * x**2)
    assert slope == pytest.approx(2.0, abs=1e-12) and intercept == pytest.approx(np.log(0.5), abs=1e-9)
    # flat then linear (window padding of short inputs): between 0 and 1, not either end
    slope, _ = scaling.fit_loglog_slope(x, np.maximum(x, 1024))
    assert 0.8 < slope < 1.0
    for bad in (([1, 1], [1, 2]), ([1, 2], [0, 1]), ([1, 2, 3], [1, 2]), ([-1, 2], [1, 2])):
        with pytest.raises(ValueError, match="fit_loglog_slope"):
            scaling.fit_loglog_slope(*bad)


def test_dense_reference_is_quadratic_in_length():
    # d=1, ffn=0, one layer: 4 projections 8 S + scores/sum 4 S^2
    assert scaling.dense_encoder_flops(10, 1, 0, 1) == 8 * 10 + 4 * 100
    _, dense = scaling.summarize([], [], dict(scaling.common.LED_BASE), 100.0)
    assert dense["points"] == [] and dense["slope_seconds"] is None
    entries = [{"length": n, "backend": "numpy", "seconds": 1e-3 * n, "peak_rss_bytes": 1e6} for n in (1024, 16384)]
    slopes, dense = scaling.summarize(entries, ["numpy"], dict(scaling.common.LED_BASE), 100.0)
    assert slopes["numpy"]["seconds"] == pytest.approx(1.0) and slopes["numpy"]["peak_memory"] == pytest.approx(0.0)
    f = [scaling.dense_encoder_flops(n, 768, 3072, 6) for n in (1024, 16384)]
    assert dense["slope_seconds"] == pytest.approx(np.log(f[1] / f[0]) / np.log(16))  # two points: exact
    assert 1.4 < dense["slope_seconds"] < 2.0 and dense["slope_memory"] == pytest.approx(2.0)
    assert dense["computed"] is True


def test_parse_lengths():
    assert scaling.parse_lengths("1024, 512,1024", 16384) == (512, 1024)
    for bad in ("0", "-5", "1.5", "abc", "", "512,,1024"):
        with pytest.raises(ValueError, match="--lengths: .* is not a positive integer"):
            scaling.parse_lengths(bad, 16384)
    with pytest.raises(ValueError, match=r"--lengths: \[32768\] exceed the model's position limit .*16384"):
        scaling.parse_lengths("512,32768", 16384)


# ================================================================ bench --scaling


def test_scaling_json_has_one_entry_per_length_and_backend_without_matplotlib(tmp_path):
    """The run itself needs no matplotlib (blocked here); the PNG is then drawn from its JSON."""
    out = tmp_path / "scaling.json"
    env = dict(_no_matplotlib_env(tmp_path), LED_REF_PROGRESS="1")  # draw the bar over lengths on the pipe
    r = _led_ref(
        "bench", "--scaling", "--quick", "--lengths", "64,128", "--backends", "numpy,hf", "--json", str(out), env=env
    )
    assert r.returncode == 0, r.stderr
    assert "fitted log-log slope" in r.stdout and "matplotlib" not in r.stderr
    assert "] 2/2 lengths" in r.stderr  # the progress bar counted both lengths
    data = json.loads(out.read_text())
    assert [(e["length"], e["backend"]) for e in data["entries"]] == [
        (64, "numpy"),
        (64, "hf"),
        (128, "numpy"),
        (128, "hf"),
    ]
    for e in data["entries"]:
        if e["backend"] == "numpy":
            assert e["error"] is None and e["seconds"] > 0 and e["peak_rss_bytes"] > 0 and e["gflop_per_s"] > 0
        elif not scaling.common._dist_version("transformers"):  # hf neither here nor given: says why
            assert e["seconds"] is None and e["error"].startswith("not available: transformers is not installed")
    assert data["slopes"]["numpy"]["points"] == 2 and data["slopes"]["numpy"]["seconds"] is not None
    assert data["dense_reference"]["computed"] and len(data["dense_reference"]["points"]) == 2
    assert data["gemm_peak_gflops"] > 0 and data["size"] == "tiny"
    if HAVE_MPL:
        png = tmp_path / "scaling.png"
        assert scaling.plot_scaling(data, str(png)) == scaling.FIG_PX
        assert _png_pixels(png) == scaling.FIG_PX


@pytest.mark.slow
@pytest.mark.export
def test_scaling_onnx_rows(tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("torch")
    out = tmp_path / "scaling.json"
    r = _led_ref("bench", "--scaling", "--quick", "--lengths", "64,128", "--backends", "numpy,onnx", "--json", str(out))
    assert r.returncode == 0, r.stderr
    data = json.loads(out.read_text())
    assert [(e["length"], e["backend"]) for e in data["entries"]] == [
        (64, "numpy"),
        (64, "onnx"),
        (128, "numpy"),
        (128, "onnx"),
    ]
    assert all(e["error"] is None and e["seconds"] > 0 for e in data["entries"]), data["entries"]
    assert data["slopes"]["onnx"]["seconds"] is not None


@needs_mpl
def test_scaling_plot_from_synthetic_report(tmp_path):
    lens = [512, 1024, 2048]
    entries = [
        {"length": n, "backend": b, "seconds": k * n, "peak_rss_bytes": 1e8 + 1e4 * n, "gflop_per_s": 10.0}
        for n in lens
        for b, k in (("numpy", 1e-3), ("onnx", 5e-4))
    ]
    shape = dict(scaling.common.LED_BASE)
    slopes, dense = scaling.summarize(entries, ["numpy", "onnx"], shape, 50.0)
    report = {
        "backends": ["numpy", "onnx"],
        "entries": entries,
        "slopes": slopes,
        "dense_reference": dense,
        "shape": shape,
        "size": "base",
        "gemm_peak_gflops": 50.0,
        "machine": {},
        "date_utc": "today",
    }
    png = tmp_path / "s.png"
    scaling.plot_scaling(report, str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and _png_pixels(png) == scaling.FIG_PX


@pytest.mark.parametrize(
    "argv, option",
    [
        (["--lengths", "0,128"], "--lengths"),
        (["--lengths", "abc"], "--lengths"),
        (["--lengths", "2048"], "--lengths"),  # the tiny shape's limit is 1024 positions
        (["--plot", "/nonexistent-dir/x.png"], "--plot"),
        (["--plot", "out.txt"], "--plot"),
        (["--json", "/nonexistent-dir/x.json"], "--json"),
    ],
)
def test_scaling_bad_input_is_one_line_naming_the_option(argv, option, capsys):
    assert cli.main(["bench", "--scaling", "--quick", *argv]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"led-ref bench: error: {option}"), err


def test_scaling_options_need_scaling(capsys):
    assert cli.main(["bench", "--quick", "--plot", "x.png"]) == 2
    assert "--plot: only with --scaling" in capsys.readouterr().err


def test_plot_without_matplotlib_says_how_to_install(tmp_path):
    r = _led_ref("bench", "--scaling", "--quick", "--plot", str(tmp_path / "x.png"), env=_no_matplotlib_env(tmp_path))
    assert r.returncode == 2
    assert r.stderr.splitlines()[0].startswith(
        "led-ref bench: error: --plot needs matplotlib (the plot extra): "
        "pip install 'led-ref[plot]' (or: pip install 'matplotlib>=3.5')"
    )
    assert not (tmp_path / "x.png").exists()


def test_default_cli_paths_never_import_matplotlib():
    code = (
        "import sys\nfrom led_ref.app import cli\nfor c in cli.SUBCOMMANDS: cli.build_parser(c)\n"
        "import led_ref.app.benchmarks.scaling, led_ref.app.attention_map, led_ref.app.plotting\n"
        "assert 'matplotlib' not in sys.modules, sorted(m for m in sys.modules if 'matplotlib' in m)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr


# ================================================================ attention map


def _allowed(kind, window):
    """The attention pattern spec/SPEC.md#encoder-self-attention states, written out independently:
    kind 0 padding (no row, no column), 1 local (band |i-j| <= w/2 over local keys + all global keys),
    2 global (every non-padding key)."""
    n = len(kind)
    c = window // 2
    allowed = np.zeros((n, n), bool)
    for i in range(n):
        for j in range(n):
            if kind[i] == 1:
                allowed[i, j] = (abs(i - j) <= c and kind[j] == 1) or kind[j] == 2
            elif kind[i] == 2:
                allowed[i, j] = kind[j] != 0
    return allowed


@pytest.mark.parametrize("global_positions", [[0], [0, 7, 12], []])
def test_attention_matrix_is_nonzero_exactly_where_attention_is_allowed(global_positions):
    cfg = LEDConfig(
        vocab_size=100,
        d_model=16,
        encoder_layers=2,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=24,
        decoder_ffn_dim=24,
        attention_window=[4, 8],
        max_encoder_position_embeddings=64,
        max_decoder_position_embeddings=16,
    )
    model = LEDModel(cfg, init_params(cfg, "base", seed=1))
    n = 21  # not a multiple of the window: the encoder pads internally, the matrix stays 21 x 21
    ids = np.random.default_rng(0).integers(3, 100, n)
    mask = np.ones(n, np.int64)
    mask[17:] = 0  # padding at the end
    mask[4] = 0  # and a masked token inside the text
    kind = mask * (1 + np.isin(np.arange(n), global_positions))
    for layer, window in enumerate(cfg.layer_attention_windows()):
        expected = _allowed(kind, window)
        for head in range(cfg.encoder_attention_heads):
            m = compute(model, ids, mask, global_positions, layer, head)
            assert m.shape == (n, n)
            np.testing.assert_array_equal(m != 0, expected, err_msg=f"layer {layer} head {head}")
            # every attending row is one softmax: the mapping loses and duplicates no probability
            np.testing.assert_allclose(m.sum(axis=1), (kind != 0).astype(float), atol=1e-5)


def test_attention_matrix_bad_layouts():
    with pytest.raises(ValueError, match="odd band width"):
        attention_matrix(np.zeros((5, 4)))
    with pytest.raises(ValueError, match="2 global positions but 1 global slots"):
        attention_matrix(np.zeros((5, 6)), np.zeros((5, 1)), [0, 3])
    with pytest.raises(ValueError, match="ascending"):
        attention_matrix(np.zeros((5, 7)), np.zeros((5, 2)), [3, 0])
    # an empty batch slot (x = 2, one global token) is allowed and ignored
    local = np.zeros((5, 2 + 3))
    local[1:, 3] = 1.0  # the diagonal of the band (w = 2, c = 1)
    g = np.zeros((5, 2))
    g[:, 0] = 0.2
    m = attention_matrix(local, g, [0])
    np.testing.assert_array_equal(m[0], np.full(5, 0.2))
    np.testing.assert_array_equal(np.diag(m)[1:], np.ones(4))


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A random tiny LED with the LED/BART vocabulary size, so the bundled tokenizer's ids fit."""
    d = tmp_path_factory.mktemp("tiny-led")
    cfg = LEDConfig(
        vocab_size=50265,
        d_model=16,
        encoder_layers=2,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=24,
        decoder_ffn_dim=24,
        attention_window=[8, 16],
        max_encoder_position_embeddings=256,
        max_decoder_position_embeddings=16,
    )
    save_checkpoint(str(d), cfg, init_params(cfg, "base", seed=0), "base")
    return str(d)


@needs_mpl
def test_attention_map_writes_a_png_of_the_stated_size(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "map.png"
    text = DATA / "python-reference-excerpt.txt"
    assert (
        cli.main(
            [
                "attention-map",
                "--model",
                tiny_checkpoint,
                str(text),
                "--layer",
                "1",
                "--head",
                "1",
                "--tokens",
                "200",
                "--global-positions",
                "0,50",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    stdout = capsys.readouterr().out
    assert f"({MAP_PX[0]} x {MAP_PX[1]} px)" in stdout and "global positions [0, 50]" in stdout
    assert _png_pixels(out) == MAP_PX
    # a short document is padded to --tokens
    short = tmp_path / "short.txt"
    short.write_text("A short text.")
    assert (
        cli.main(
            [
                "attention-map",
                "--model",
                tiny_checkpoint,
                str(short),
                "--layer",
                "0",
                "--head",
                "0",
                "--tokens",
                "64",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert "64 x 64 attention, 6 real tokens"  # <s> A short text . </s> in capsys.readouterr().out


@needs_mpl
@pytest.mark.parametrize(
    "argv, start",
    [
        (["--layer", "2", "--head", "0"], "--layer 2: out of range, the encoder has layers 0..1"),
        (["--layer", "-1", "--head", "0"], "--layer -1: out of range"),
        (["--layer", "0", "--head", "2"], "--head 2: out of range, the encoder has heads 0..1"),
        (["--layer", "0", "--head", "0", "--tokens", "257"], "--tokens 257: must be in 2..256"),
        (["--layer", "0", "--head", "0", "--global-positions", "0,x"], "--global-positions: 'x'"),
        (["--layer", "0", "--head", "0", "--tokens", "8", "--global-positions", "9"], "--global-positions: 9 is not"),
        (["--layer", "0", "--head", "0", "-o", "/nonexistent-dir/m.png"], "--output /nonexistent-dir/m.png"),
    ],
)
def test_attention_map_bad_input_is_one_line_naming_the_option(tiny_checkpoint, tmp_path, capsys, argv, start):
    text = str(DATA / "python-reference-excerpt.txt")
    argv = ["attention-map", "--model", tiny_checkpoint, text, *argv]
    if "-o" not in argv:
        argv += ["-o", str(tmp_path / "m.png")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"led-ref attention-map: error: {start}"), err
    assert not (tmp_path / "m.png").exists()


def test_attention_map_without_matplotlib_says_how_to_install(tiny_checkpoint, tmp_path):
    r = _led_ref(
        "attention-map",
        "--model",
        tiny_checkpoint,
        str(DATA / "python-reference-excerpt.txt"),
        "--layer",
        "0",
        "--head",
        "0",
        "-o",
        str(tmp_path / "m.png"),
        env=_no_matplotlib_env(tmp_path),
    )
    assert r.returncode == 2
    assert r.stderr.splitlines()[0].startswith(
        "led-ref attention-map: error: attention-map needs matplotlib (the plot "
        "extra): pip install 'led-ref[plot]' (or: pip install 'matplotlib>=3.5')"
    )

"""ONNX Runtime deployment (issue 11): merged decoder, int8 quantization, batched generation, float16.

One tiny checkpoint is exported once for the module (export is the slow part)."""

import json
import os

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from led_ref import model as npmodel  # noqa: E402
from led_ref.export import onnx_export  # noqa: E402
from led_ref.export.onnx_export import DECODER_MERGED_FILE  # noqa: E402
from led_ref.export.ort import OrtLEDForConditionalGeneration  # noqa: E402

from test_export import make_checkpoint  # noqa: E402

pytestmark = pytest.mark.export


@pytest.fixture(scope="module")
def deploy(tmp_path_factory):
    root = tmp_path_factory.mktemp("deploy")
    ckpt, out = str(root / "ckpt"), str(root / "onnx")
    config, params = make_checkpoint(ckpt, "lm", seed=5)
    with open(os.path.join(ckpt, "generation_config.json"), "w") as f:
        json.dump({"decoder_start_token_id": 2, "eos_token_id": 2, "pad_token_id": 1, "bos_token_id": 0}, f)
    onnx_export.export_checkpoint(ckpt, out, log=lambda s: None)
    return {"root": root, "ckpt": ckpt, "out": out, "config": config, "params": params,
            "numpy": npmodel.LEDForConditionalGeneration(config, params)}


def _docs(n, seed=0, lo=3, hi=40):
    rng = np.random.default_rng(seed)
    return [rng.integers(3, 50, size=int(rng.integers(lo, hi))).astype(np.int64) for _ in range(n)]


# -- merged decoder -------------------------------------------------------------------------------------------------
def test_merged_decoder_layout(deploy):
    import onnx
    import onnx.numpy_helper

    path = os.path.join(deploy["out"], DECODER_MERGED_FILE)
    m = onnx.load(path)
    names = [i.name for i in m.graph.input]
    assert "use_cache_branch" in names and "encoder_hidden_states" in names
    n = int(deploy["config"].decoder_layers)
    for i in range(n):
        for kind in ("decoder", "encoder"):
            for kv in ("key", "value"):
                assert f"past_key_values.{i}.{kind}.{kv}" in names
                assert f"present.{i}.{kind}.{kv}" in [o.name for o in m.graph.output]
    assert [node.op_type for node in m.graph.node] == ["If"]
    onnx.checker.check_model(m)
    # weights once: every with-past weight is one of the decoder's, so the merged graph holds exactly the
    # decoder's weight bytes, not the sum of both files'
    def weight_bytes(model):
        return sum(onnx.numpy_helper.to_array(t).nbytes for t in model.graph.initializer)

    dec = weight_bytes(onnx.load(os.path.join(deploy["out"], "decoder_model.onnx")))
    past = weight_bytes(onnx.load(os.path.join(deploy["out"], "decoder_with_past_model.onnx")))
    assert past > 0.8 * dec
    assert weight_bytes(m) == dec


@pytest.mark.parametrize("kwargs", [{}, {"num_beams": 3}, {"num_beams": 2, "num_return_sequences": 2}])
def test_merged_decoder_equals_separate_decoders(deploy, kwargs):
    merged = OrtLEDForConditionalGeneration.from_pretrained(deploy["out"])
    separate = OrtLEDForConditionalGeneration.from_pretrained(deploy["out"], use_merged=False)
    assert merged.decoder.path.endswith(DECODER_MERGED_FILE)
    assert separate.decoder.path.endswith("decoder_model.onnx")
    ids = np.random.default_rng(1).integers(3, 50, size=(3, 21))
    glob = np.zeros_like(ids)
    glob[:, 0] = 1
    a = merged.generate(ids, global_attention_mask=glob, max_new_tokens=10, min_new_tokens=10, **kwargs)
    b = separate.generate(ids, global_attention_mask=glob, max_new_tokens=10, min_new_tokens=10, **kwargs)
    np.testing.assert_array_equal(a, b)
    # and the step outputs themselves agree exactly (same kernels, same weights)
    h, mask = merged.encode(ids)
    a = a[: ids.shape[0]]  # any decoder tokens do; one row per document
    la, pa = merged.decode(a[:, :4], h, mask)
    lb, pb = separate.decode(a[:, :4], h, mask)
    np.testing.assert_array_equal(la, lb)
    la, _ = merged.decode(a[:, 4:5], h, mask, pa)
    lb, _ = separate.decode(a[:, 4:5], h, mask, pb)
    np.testing.assert_array_equal(la, lb)

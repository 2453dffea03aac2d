"""led_ref.weights: loading HF-written checkpoints, saving, init, and every error path."""

import json
import os
import shutil
import sys
import types

import numpy as np
import pytest

from led_ref import safetensors as st
from led_ref.config import LEDConfig
from led_ref.weights import (
    HEAD_CLASSES,
    check_params,
    flatten,
    init_params,
    load_checkpoint,
    load_params,
    load_state_dict,
    parameter_shapes,
    params_from_state_dict,
    save_checkpoint,
    save_params,
    tied_keys,
    unflatten,
)
from tests.testlib import FIXTURES

# checkpoint dir -> (head, reference npz of HF's state_dict)
CHECKPOINTS = {
    "lm": ("lm", "lm"),
    "lm_sharded": ("lm", "lm"),
    "lm_bin": ("lm", "lm"),
    "lm_fp16": ("lm", "lm_fp16"),
    "lm_bf16": ("lm", "lm_bf16"),
    "lm_untied": ("lm", "lm_untied"),
    "base": ("base", "base"),
    "seq_cls": ("seq_cls", "seq_cls"),
    "qa": ("qa", "qa"),
}


def fixture(name):
    return os.path.join(FIXTURES, name)


def reference(name, head):
    """HF's state_dict as {tree name: float32 array} (led. prefix removed)."""
    ref = np.load(fixture(name + ".npz"))
    out = {}
    for key in ref.files:
        out[key[4:] if key.startswith("led.") else key] = ref[key]
    return out


def tiny_config(**kw):
    return LEDConfig.from_pretrained(fixture("lm"), **kw)


# -- loading what HF wrote --------------------------------------------------------------------
@pytest.mark.parametrize("name", list(CHECKPOINTS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hf_checkpoint_loads_equal_to_hf_state_dict(name, dtype):
    head, ref_name = CHECKPOINTS[name]
    config, params = load_checkpoint(fixture(name), head, dtype=dtype)
    flat = flatten(params)
    ref = reference(ref_name, head)
    assert set(flat) == set(ref) == set(parameter_shapes(config, head))
    for key, value in flat.items():
        assert value.dtype == dtype, key
        # float32 reference cast up to float64 is exact, so equality holds for both dtypes
        np.testing.assert_array_equal(value, ref[key].astype(dtype), err_msg=f"{name}: {key}")


@pytest.mark.parametrize("name", list(CHECKPOINTS))
def test_tied_parameters_are_one_array(name):
    head, _ = CHECKPOINTS[name]
    config, params = load_checkpoint(fixture(name), head)
    shared = params["shared"]["weight"]
    assert params["encoder"]["embed_tokens"]["weight"] is shared
    assert params["decoder"]["embed_tokens"]["weight"] is shared
    if head == "lm":
        assert (params["lm_head"]["weight"] is shared) == config.tie_word_embeddings
        assert config.tie_word_embeddings == (name != "lm_untied")


def test_tree_layout_matches_shared_interface():
    config, params = load_checkpoint(fixture("lm"), "lm")
    layer = params["encoder"]["layers"][1]
    assert layer["self_attn"]["longformer_self_attn"]["query_global"]["weight"].shape == (8, 8)
    assert layer["self_attn"]["output"]["bias"].shape == (8,)
    assert layer["fc1"]["weight"].shape == (12, 8) and layer["fc2"]["weight"].shape == (8, 12)
    dec = params["decoder"]["layers"][0]
    assert set(dec) == {
        "self_attn",
        "encoder_attn",
        "self_attn_layer_norm",
        "encoder_attn_layer_norm",
        "fc1",
        "fc2",
        "final_layer_norm",
    }
    assert set(dec["encoder_attn"]) == {"q_proj", "k_proj", "v_proj", "out_proj"}
    assert params["final_logits_bias"].shape == (1, 64)
    assert params["encoder"]["embed_positions"]["weight"].shape == (64, 8)
    assert params["decoder"]["embed_positions"]["weight"].shape == (32, 8)
    assert len(params["encoder"]["layers"]) == len(params["decoder"]["layers"]) == 2


@pytest.mark.parametrize("ref_name, head", [("lm", "lm"), ("base", "base"), ("seq_cls", "seq_cls"), ("qa", "qa")])
def test_parameter_shapes_match_hf_state_dict(ref_name, head):
    config = LEDConfig.from_pretrained(fixture(ref_name))
    ref = reference(ref_name, head)
    shapes = parameter_shapes(config, head)
    assert shapes == {k: v.shape for k, v in ref.items()}
    assert list(shapes) == list(ref)  # same order as HF's state_dict


# -- loading across heads ---------------------------------------------------------------------
def test_base_class_from_lm_checkpoint_drops_head():
    config, params = load_checkpoint(fixture("lm"), "base")
    assert "lm_head" not in params and "final_logits_bias" not in params
    ref = reference("lm", "lm")
    for k, v in flatten(params).items():
        np.testing.assert_array_equal(v, ref[k])


def test_lm_class_from_base_checkpoint_ties_head_and_zero_bias():
    config, params = load_checkpoint(fixture("base"), "lm")
    assert params["lm_head"]["weight"] is params["shared"]["weight"]
    assert not params["final_logits_bias"].any() and params["final_logits_bias"].shape == (1, 64)


def test_lm_class_from_seq_cls_checkpoint_drops_classifier():
    config, params = load_checkpoint(fixture("seq_cls"), "lm")
    assert "classification_head" not in params
    np.testing.assert_array_equal(params["shared"]["weight"], reference("seq_cls", "seq_cls")["shared.weight"])


@pytest.mark.parametrize(
    "name, head, keys",
    [
        ("lm", "seq_cls", ["classification_head.dense.weight", "classification_head.out_proj.bias"]),
        ("lm", "qa", ["qa_outputs.weight", "qa_outputs.bias"]),
        ("base", "qa", ["qa_outputs.weight"]),
    ],
)
def test_head_class_missing_its_head_is_an_error(name, head, keys):
    with pytest.raises(ValueError, match="missing keys") as info:
        load_checkpoint(fixture(name), head)
    for key in keys:
        assert key in str(info.value)
    assert HEAD_CLASSES[head] in str(info.value)


def test_untied_lm_head_without_shared_copy_is_used_when_untied():
    state = load_state_dict(fixture("lm_untied"))
    config = LEDConfig.from_pretrained(fixture("lm_untied"))
    params = params_from_state_dict(state, config, "lm")
    np.testing.assert_array_equal(params["lm_head"]["weight"], state["lm_head.weight"])
    assert not np.array_equal(params["lm_head"]["weight"], params["shared"]["weight"])


def test_untied_checkpoint_with_tied_config_is_an_error():
    state = load_state_dict(fixture("lm_untied"))
    with pytest.raises(ValueError, match="tie_word_embeddings=false"):
        params_from_state_dict(state, tiny_config(tie_word_embeddings=True), "lm")


def test_diverged_embedding_copies_are_an_error_even_untied():
    # transformers >= 5 unties encoder/decoder embed_tokens when tie_word_embeddings=false; led-ref
    # follows 4.46 (always one parameter), so diverged copies are refused, never silently picked.
    state = load_state_dict(fixture("lm_untied"))
    config = LEDConfig.from_pretrained(fixture("lm_untied"))
    state["led.encoder.embed_tokens.weight"] = state["led.shared.weight"] + 1
    with pytest.raises(ValueError, match="transformers 4.46"):
        params_from_state_dict(state, config, "lm")
    state["led.encoder.embed_tokens.weight"] = state["led.shared.weight"].copy()
    state["led.decoder.embed_tokens.weight"] = state["led.shared.weight"].copy()
    params = params_from_state_dict(state, config, "lm")  # equal copies (what HF 5 writes) are fine
    assert params["encoder"]["embed_tokens"]["weight"] is params["shared"]["weight"]


def test_tied_copies_may_be_any_subset():
    state = load_state_dict(fixture("lm"))
    shared = state.pop("led.shared.weight")
    config = tiny_config()
    for present in (
        ["led.encoder.embed_tokens.weight"],
        ["led.decoder.embed_tokens.weight"],
        ["lm_head.weight"],
        ["led.encoder.embed_tokens.weight", "lm_head.weight"],
    ):
        s = dict(state, **{k: shared for k in present})
        params = params_from_state_dict(s, config, "lm")
        np.testing.assert_array_equal(params["shared"]["weight"], shared)
        assert params["decoder"]["embed_tokens"]["weight"] is params["shared"]["weight"]
    bad = dict(state, **{"led.shared.weight": shared, "led.encoder.embed_tokens.weight": shared + 1})
    with pytest.raises(ValueError, match="tied"):
        params_from_state_dict(bad, config, "lm")
    with pytest.raises(ValueError, match="missing keys: shared.weight, encoder.embed_tokens.weight"):
        params_from_state_dict(state, config, "lm")


def test_with_and_without_prefix_are_the_same():
    state = load_state_dict(fixture("lm"))
    stripped = {k[4:] if k.startswith("led.") else k: v for k, v in state.items()}
    assert not any(k.startswith("led.") for k in stripped)
    a = flatten(params_from_state_dict(state, tiny_config(), "lm"))
    b = flatten(params_from_state_dict(stripped, tiny_config(), "lm"))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    both = dict(state, **{"encoder.layernorm_embedding.bias": state["led.encoder.layernorm_embedding.bias"]})
    with pytest.raises(ValueError, match="both with and without"):
        params_from_state_dict(both, tiny_config(), "lm")


def test_missing_unexpected_and_mismatched_in_one_error():
    state = load_state_dict(fixture("lm"))
    del state["led.encoder.layers.1.fc2.bias"]
    del state["led.decoder.layers.0.encoder_attn.q_proj.weight"]
    state["led.encoder.layers.2.fc1.weight"] = np.zeros((12, 8), np.float32)
    state["led.pooler.weight"] = np.zeros((8,), np.float32)
    state["led.decoder.layers.1.fc1.weight"] = np.zeros((11, 8), np.float32)
    with pytest.raises(ValueError) as info:
        params_from_state_dict(state, tiny_config(), "lm", source="ckpt-x")
    msg = str(info.value)
    assert msg.startswith("ckpt-x does not match LEDForConditionalGeneration")
    assert "2 missing, 2 unexpected, 1 mismatched" in msg
    for word in [
        "encoder.layers.1.fc2.bias",
        "decoder.layers.0.encoder_attn.q_proj.weight",
        "encoder.layers.2.fc1.weight",
        "pooler.weight",
        "decoder.layers.1.fc1.weight: got (11, 8), expected (10, 8)",
    ]:
        assert word in msg


def test_config_that_does_not_fit_the_checkpoint():
    with pytest.raises(ValueError, match=r"shared.weight: got \(64, 8\), expected \(65, 8\)"):
        load_params(fixture("lm"), tiny_config(vocab_size=65), "lm")
    with pytest.raises(ValueError, match="missing keys: encoder.layers.2"):
        load_params(fixture("lm"), tiny_config(encoder_layers=3, attention_window=4), "lm")


def test_seq_cls_num_labels_must_match():
    config = LEDConfig.from_pretrained(fixture("seq_cls"))
    config.num_labels = 2
    with pytest.raises(ValueError, match=r"classification_head.out_proj.weight: got \(3, 8\), expected \(2, 8\)"):
        load_params(fixture("seq_cls"), config, "seq_cls")


def test_integer_tensor_is_an_error():
    state = load_state_dict(fixture("lm"))
    state["final_logits_bias"] = state["final_logits_bias"].astype(np.int32)
    with pytest.raises(ValueError, match="final_logits_bias has dtype int32"):
        params_from_state_dict(state, tiny_config(), "lm")


@pytest.mark.parametrize("bad", [dict(head="mlm"), dict(dtype=np.float16), dict(dtype=np.int32)])
def test_bad_head_or_dtype(bad):
    kw = dict(head="lm", dtype=np.float32, **{})
    kw.update(bad)
    with pytest.raises(ValueError, match="head|dtype"):
        load_params(fixture("lm"), tiny_config(), **kw)


def test_config_is_an_ledconfig_or_has_its_fields():
    """A dict of LEDConfig's fields or any object with them (HF's LEDConfig, a vendored copy's) is read as one;
    invalid values name the field; anything else is a TypeError listing what it lacks."""
    config = LEDConfig.from_pretrained(fixture("lm"))

    class Vendored:
        def to_dict(self):
            return config.to_dict()

    class Attributes:
        pass

    attrs = Attributes()
    attrs.__dict__.update(config.to_dict())
    expected = load_params(fixture("lm"), config, "lm")
    for other in (config.to_dict(), Vendored(), attrs):
        got = load_params(fixture("lm"), other, "lm")
        assert all(np.array_equal(got_v, v) for got_v, v in zip(flatten(got).values(), flatten(expected).values()))
    with pytest.raises(ValueError, match="d_model=8 is not divisible by encoder_attention_heads=16"):
        load_params(fixture("lm"), {"d_model": 8}, "lm")
    with pytest.raises(TypeError, match="config must be an LEDConfig, a dict of its fields or an object with HF's"):
        init_params(None, "lm")
    with pytest.raises(TypeError, match=r"got str without vocab_size, d_model, .*max_decoder_position_embeddings"):
        init_params("led-base", "lm")


def test_sharded_pytorch_bin(tmp_path):
    torch = pytest.importorskip("torch")
    state = load_state_dict(fixture("lm"))
    names = sorted(state)
    halves = {"pytorch_model-00001-of-00002.bin": names[::2], "pytorch_model-00002-of-00002.bin": names[1::2]}
    for shard, keys in halves.items():
        torch.save({k: torch.from_numpy(state[k]) for k in keys}, tmp_path / shard)
    weight_map = {k: shard for shard, keys in halves.items() for k in keys}
    (tmp_path / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": weight_map}))
    shutil.copy(fixture("lm") + "/config.json", tmp_path / "config.json")
    config, params = load_checkpoint(tmp_path, "lm")
    ref = reference("lm", "lm")
    for k, v in flatten(params).items():
        np.testing.assert_array_equal(v, ref[k])


def test_load_single_weights_files_directly():
    a = flatten(load_params(fixture("lm") + "/model.safetensors", tiny_config(), "lm"))
    b = flatten(load_params(fixture("lm_sharded") + "/model.safetensors.index.json", tiny_config(), "lm"))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


# -- sharded / missing / hub / torch paths ------------------------------------------------------
def copy_fixture(name, tmp_path):
    return shutil.copytree(fixture(name), tmp_path / name)


def test_sharded_index_errors(tmp_path):
    d = copy_fixture("lm_sharded", tmp_path)
    index_path = d / "model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    shard = sorted(set(index["weight_map"].values()))[1]

    (d / shard).rename(d / "moved.safetensors")
    with pytest.raises(FileNotFoundError, match=f"shard {shard} not found"):
        load_state_dict(d)
    (d / "moved.safetensors").rename(d / shard)

    bad = dict(index, weight_map=dict(index["weight_map"], **{"led.shared.weight": "../lm/model.safetensors"}))
    index_path.write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="plain file name"):
        load_state_dict(d)

    extra = dict(index, weight_map=dict(index["weight_map"], ghost=shard))
    index_path.write_text(json.dumps(extra))
    with pytest.raises(ValueError, match=r"index and shards disagree: in the index only \['ghost'\]"):
        load_state_dict(d)

    index_path.write_text("{oops")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_state_dict(d)
    index_path.write_text(json.dumps({"metadata": {}}))
    with pytest.raises(ValueError, match="weight_map"):
        load_state_dict(d)


def test_duplicate_tensor_across_shards(tmp_path):
    d = tmp_path / "ck"
    d.mkdir()
    st.save_file({"a": np.zeros(2, np.float32)}, d / "s1.safetensors")
    st.save_file({"a": np.zeros(2, np.float32)}, d / "s2.safetensors")
    (d / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}})
    )
    with pytest.raises(ValueError, match="also appear in another shard"):
        load_state_dict(d)


def test_no_weights_in_directory(tmp_path):
    (tmp_path / "config.json").write_text(open(fixture("lm") + "/config.json").read())
    with pytest.raises(FileNotFoundError, match="no weights in .*model.safetensors"):
        load_checkpoint(tmp_path, "lm")


def test_missing_path_and_file_instead_of_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_checkpoint(tmp_path / "absent", "lm")
    with pytest.raises(FileNotFoundError, match="is a file"):
        load_checkpoint(fixture("lm") + "/config.json", "lm")


def test_malformed_safetensors_in_checkpoint(tmp_path):
    d = copy_fixture("lm", tmp_path)
    raw = (d / "model.safetensors").read_bytes()
    (d / "model.safetensors").write_bytes(raw[: len(raw) - 3])
    with pytest.raises(ValueError, match="not a valid safetensors file"):
        load_checkpoint(d, "lm")


def test_hub_id_without_huggingface_hub(monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(FileNotFoundError, match="pip install huggingface_hub"):
        load_checkpoint("allenai/led-base-16384", "lm")


def test_hub_id_downloads_with_snapshot_download(monkeypatch):
    calls = []

    def snapshot_download(repo_id, allow_patterns=None, **kw):
        calls.append((repo_id, allow_patterns))
        return fixture("lm")

    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(snapshot_download=snapshot_download))
    config, params = load_checkpoint("someone/tiny-led", "lm")
    assert calls and calls[0][0] == "someone/tiny-led" and "*.safetensors" in calls[0][1]
    np.testing.assert_array_equal(params["shared"]["weight"], reference("lm", "lm")["shared.weight"])
    assert LEDConfig.from_pretrained("someone/tiny-led").d_model == 8


def test_hub_download_failure_is_one_clear_error(monkeypatch):
    def snapshot_download(repo_id, **kw):
        raise OSError("network unreachable")

    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(snapshot_download=snapshot_download))
    with pytest.raises(FileNotFoundError, match="could not download 'someone/tiny-led'.*network unreachable"):
        load_checkpoint("someone/tiny-led", "lm")


def test_pytorch_bin_without_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # the core reads .bin files without torch
    config, params = load_checkpoint(fixture("lm_bin"), "lm")
    ref = reference("lm", "lm")
    for key, value in flatten(params).items():
        np.testing.assert_array_equal(value, ref[key], err_msg=key)


class Payload:
    def __reduce__(self):
        return (os.getcwd, ())


def test_pytorch_bin_refuses_arbitrary_pickles(tmp_path):
    torch = pytest.importorskip("torch")
    d = tmp_path / "evil"
    d.mkdir()
    torch.save({"led.shared.weight": torch.zeros(2), "x": Payload()}, d / "pytorch_model.bin")
    with pytest.raises(ValueError, match=r"pytorch_model\.bin: .*global posix\.getcwd.*refused"):
        load_state_dict(d)
    torch.save([torch.zeros(2)], d / "pytorch_model.bin")
    with pytest.raises(ValueError, match="expected a state_dict"):
        load_state_dict(d)


def test_safetensors_preferred_over_bin(tmp_path):
    d = copy_fixture("lm", tmp_path)
    (d / "pytorch_model.bin").write_bytes(b"not a pickle")  # must not be read
    config, params = load_checkpoint(d, "lm")
    assert params["shared"]["weight"].shape == (64, 8)


# -- init / save / round trip -----------------------------------------------------------------
@pytest.mark.parametrize("head", list(HEAD_CLASSES))
def test_init_params_deterministic_and_nontrivial(head):
    config = tiny_config(num_labels=3)
    a, b = init_params(config, head, seed=3), init_params(config, head, seed=3)
    c = init_params(config, head, seed=4)
    fa, fb, fc = flatten(a), flatten(b), flatten(c)
    check_params(a, config, head)
    assert {k: v.shape for k, v in fa.items()} == parameter_shapes(config, head)
    for k in fa:
        np.testing.assert_array_equal(fa[k], fb[k])
        assert fa[k].dtype == np.float32
        if k not in tied_keys(config, head)[1:]:
            assert not np.array_equal(fa[k], fc[k]), k
        assert np.unique(fa[k]).size > 1, f"{k} is constant"
    assert a["encoder"]["embed_tokens"]["weight"] is a["shared"]["weight"]
    f64 = flatten(init_params(config, head, seed=3, dtype=np.float64))
    for k in fa:
        assert f64[k].dtype == np.float64
        np.testing.assert_array_equal(f64[k].astype(np.float32), fa[k])


@pytest.mark.parametrize("head", list(HEAD_CLASSES))
@pytest.mark.parametrize("tie", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_save_load_round_trip(tmp_path, head, tie, dtype):
    config = tiny_config(tie_word_embeddings=tie, num_labels=3)
    params = init_params(config, head, seed=1, dtype=dtype)
    save_checkpoint(tmp_path, config, params, head)
    config2, params2 = load_checkpoint(tmp_path, head, dtype=dtype)
    assert config2.architectures == [HEAD_CLASSES[head]]
    assert config2.to_dict()["torch_dtype"] == np.dtype(dtype).name  # the name (a torch.dtype once torch is loaded)
    assert config2.tie_word_embeddings == tie and config2.num_labels == 3
    f1, f2 = flatten(params), flatten(params2)
    assert set(f1) == set(f2)
    for k in f1:
        assert f2[k].dtype == dtype
        np.testing.assert_array_equal(f1[k], f2[k], err_msg=k)
    if head == "lm":
        assert (params2["lm_head"]["weight"] is params2["shared"]["weight"]) == tie


@pytest.mark.parametrize(
    "name, head", [("lm", "lm"), ("lm_untied", "lm"), ("base", "base"), ("seq_cls", "seq_cls"), ("qa", "qa")]
)
def test_saved_file_has_the_names_hf_writes(tmp_path, name, head):
    config, params = load_checkpoint(fixture(name), head)
    save_params(tmp_path, params, head)
    ours = st.load_file(tmp_path / "model.safetensors")
    hf = st.load_file(os.path.join(fixture(name), "model.safetensors"))
    extra = set()
    if not config.tie_word_embeddings:
        # Untied: the embedding copies are written too (transformers >= 5 needs them; 4.46 wrote
        # only shared.weight and accepts equal copies).
        extra = {"led.encoder.embed_tokens.weight", "led.decoder.embed_tokens.weight"}
        for k in extra:
            np.testing.assert_array_equal(ours[k], hf["led.shared.weight"])
    assert set(ours) == set(hf) | extra
    for k in hf:
        np.testing.assert_array_equal(ours[k], hf[k])
    assert st.load_metadata(tmp_path / "model.safetensors") == {"format": "pt"}


def test_save_checkpoint_checks_the_tree(tmp_path):
    config = tiny_config()
    params = init_params(config, "lm")
    del params["encoder"]["layers"][0]["fc1"]["bias"]
    with pytest.raises(ValueError, match="missing keys: encoder.layers.0.fc1.bias"):
        save_checkpoint(tmp_path, config, params, "lm")
    params = init_params(tiny_config(tie_word_embeddings=False), "lm")
    with pytest.raises(ValueError, match="lm_head.weight differs from shared.weight, but LED ties them"):
        save_checkpoint(tmp_path, config, params, "lm")
    assert not os.path.exists(tmp_path / "config.json")  # nothing half-written
    # A tied tree saved with an untied config writes lm_head as its own (equal) tensor.
    params = init_params(config, "lm")
    save_checkpoint(tmp_path, tiny_config(tie_word_embeddings=False), params, "lm")
    written = st.load_file(tmp_path / "model.safetensors")
    np.testing.assert_array_equal(written["lm_head.weight"], written["led.shared.weight"])


def test_save_params_errors(tmp_path):
    config = tiny_config()
    params = init_params(config, "lm")
    with pytest.raises(ValueError, match="LEDModel does not have"):
        save_params(tmp_path, params, "base")
    params["decoder"]["embed_tokens"]["weight"] = params["shared"]["weight"] + 1
    for tie in (True, False, None):
        with pytest.raises(ValueError, match="decoder.embed_tokens.weight differs from shared.weight"):
            save_params(tmp_path, params, "lm", tie_word_embeddings=tie)
    # Not told: an lm_head that is its own array means untied, so every copy is written.
    params = init_params(tiny_config(tie_word_embeddings=False), "lm")
    save_params(tmp_path, params, "lm")
    written = st.load_file(tmp_path / "model.safetensors")
    assert {"lm_head.weight", "led.encoder.embed_tokens.weight", "led.decoder.embed_tokens.weight"} <= set(written)
    params = init_params(config, "base")
    params["encoder"]["layernorm_embedding"]["bias"] = [0.0] * 8
    with pytest.raises(TypeError, match="layernorm_embedding.bias"):
        save_params(tmp_path, params, "base")


def test_flatten_unflatten_round_trip_and_errors():
    tree = {"a": {"layers": [{"w": np.zeros(1)}, {"w": np.ones(1)}]}, "b": np.arange(2)}
    flat = flatten(tree)
    assert list(flat) == ["a.layers.0.w", "a.layers.1.w", "b"]
    back = unflatten(flat)
    assert isinstance(back["a"]["layers"], list) and back["a"]["layers"][1]["w"] is tree["a"]["layers"][1]["w"]
    with pytest.raises(ValueError, match=r"indices under 'a' are \[0, 2\]"):
        unflatten({"a.0": 1, "a.2": 2})
    with pytest.raises(ValueError, match="which is a tensor"):
        unflatten({"a": 1, "a.b": 2})
    with pytest.raises(ValueError, match="empty part"):
        unflatten({"a..b": 1})
    with pytest.raises(ValueError, match="contains '.'"):
        flatten({"a.b": 1})


def test_qa_head_always_has_start_and_end_rows():
    # HF's LEDForQuestionAnswering sets num_labels = 2 whatever the config says
    cfg = tiny_config(num_labels=3)
    params = init_params(cfg, "qa")
    assert params["qa_outputs"]["weight"].shape == (2, cfg.d_model)
    assert params["qa_outputs"]["bias"].shape == (2,)

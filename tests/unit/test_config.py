"""LEDConfig: HF defaults, aliases, config.json round trips, validation errors."""

import json
import os

import pytest

from led_ref.config import ACTIVATION_NAMES, ATTRIBUTE_MAP, LEDConfig, activation_names
from tests.testlib import FIXTURES

CHECKPOINTS = ["lm", "lm_sharded", "lm_bin", "lm_fp16", "lm_bf16", "lm_untied", "base", "seq_cls", "qa"]
# Keys of HF's full to_dict() that are HF-runtime state, not configuration.
HF_RUNTIME_KEYS = {"_name_or_path", "_attn_implementation_autoset", "transformers_version"}


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def small(**kw):
    base = dict(
        d_model=16,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=4,
        vocab_size=64,
        attention_window=4,
    )
    return LEDConfig(**{**base, **kw})


def test_defaults_equal_hf_full_to_dict():
    hf = read_json(os.path.join(FIXTURES, "hf_config_default_full.json"))
    ours = LEDConfig().to_dict()
    hf = {k: v for k, v in hf.items() if k not in HF_RUNTIME_KEYS}
    ours["id2label"] = {str(k): v for k, v in ours["id2label"].items()}
    assert ours == hf


def test_default_save_equals_hf_save(tmp_path):
    hf = read_json(os.path.join(FIXTURES, "hf_config_default.json"))
    hf.pop("transformers_version")
    LEDConfig().save_pretrained(tmp_path)
    assert read_json(tmp_path / "config.json") == hf


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_hf_config_json_round_trips_unchanged(name, tmp_path):
    src = os.path.join(FIXTURES, name, "config.json")
    config = LEDConfig.from_pretrained(os.path.join(FIXTURES, name))
    assert config.architectures and config.architectures[0].startswith("LED")
    assert config.attention_window == [4, 8] and config.layer_attention_windows() == [4, 8]
    config.save_pretrained(tmp_path)
    # What we write is what HF wrote: same keys, same values (transformers_version kept as-is).
    assert read_json(tmp_path / "config.json") == read_json(src)
    assert LEDConfig.from_pretrained(tmp_path) == config


def test_seq_cls_labels_have_int_keys():
    config = LEDConfig.from_pretrained(os.path.join(FIXTURES, "seq_cls"))
    assert config.num_labels == 3
    assert config.id2label == {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}
    assert config.label2id == {"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2}
    assert config.problem_type == "single_label_classification"
    written = json.loads(config.to_json_string())
    assert written["id2label"] == {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"}


def test_num_labels_argument_and_setter():
    config = small(num_labels=5)
    assert config.num_labels == 5 and config.id2label[4] == "LABEL_4"
    config.num_labels = 2
    assert config.id2label == {0: "LABEL_0", 1: "LABEL_1"}
    assert config.label2id == {"LABEL_0": 0, "LABEL_1": 1}
    with pytest.raises(ValueError, match="num_labels"):
        config.num_labels = 0


def test_aliases_read_write_and_from_dict():
    config = small()
    for alias, field in ATTRIBUTE_MAP.items():
        assert getattr(config, alias) == getattr(config, field)
    config.hidden_size = 32
    assert config.d_model == 32
    config.initializer_range = 0.5
    assert config.init_std == 0.5
    c2 = LEDConfig.from_dict({"hidden_size": 24, "num_attention_heads": 3, "decoder_attention_heads": 3})
    assert (c2.d_model, c2.encoder_attention_heads) == (24, 3)
    # Aliases never appear in what is written; num_hidden_layers does (HF writes it).
    d = c2.to_dict()
    assert not set(ATTRIBUTE_MAP) & set(d)
    assert d["num_hidden_layers"] == c2.encoder_layers == c2.num_hidden_layers


def test_num_hidden_layers_must_agree():
    assert small(num_hidden_layers=2).encoder_layers == 2
    with pytest.raises(ValueError, match="num_hidden_layers"):
        small(num_hidden_layers=3)


def test_unknown_keys_kept_and_written_back(tmp_path):
    config = LEDConfig.from_dict({"my_field": {"x": [1, 2]}, "_name_or_path": "somewhere", "vocab_size": 99})
    assert config.my_field == {"x": [1, 2]}
    config.another = "y"
    config.save_pretrained(tmp_path)
    data = read_json(tmp_path / "config.json")
    assert data["my_field"] == {"x": [1, 2]} and data["another"] == "y"
    assert data["_name_or_path"] == "somewhere" and data["vocab_size"] == 99
    with pytest.raises(AttributeError):
        _ = config.not_a_field


def test_generation_fields_from_config_json():
    config = LEDConfig.from_dict({"num_beams": 4, "max_length": 512, "no_repeat_ngram_size": 3})
    assert (config.num_beams, config.max_length, config.no_repeat_ngram_size) == (4, 512, 3)
    assert config.length_penalty == 1.0
    assert json.loads(config.to_json_string())["num_beams"] == 4


def test_layer_attention_windows():
    assert small(attention_window=6).layer_attention_windows() == [6, 6]
    assert small(attention_window=[2, 10]).layer_attention_windows() == [2, 10]
    assert small(attention_window=(2, 10)).layer_attention_windows() == [2, 10]


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(attention_window=3), ValueError, ["attention_window", "even"]),
        (dict(attention_window=0), ValueError, ["attention_window", "positive"]),
        (dict(attention_window=-2), ValueError, ["attention_window"]),
        (dict(attention_window=[4, 5]), ValueError, ["attention_window[1]", "even"]),
        (dict(attention_window=[4, 0]), ValueError, ["attention_window[1]"]),
        (dict(attention_window=[4]), ValueError, ["attention_window", "encoder_layers=2"]),
        (dict(attention_window=[4, 4, 4]), ValueError, ["3 entries"]),
        (dict(attention_window=[4, 4.0]), TypeError, ["attention_window[1]"]),
        (dict(attention_window="4"), TypeError, ["attention_window"]),
        (dict(d_model=15), ValueError, ["d_model=15", "encoder_attention_heads=2"]),
        (dict(d_model=18, encoder_attention_heads=3), ValueError, ["decoder_attention_heads=4"]),
        (dict(activation_function="gelu2"), ValueError, ["activation_function", "gelu2", "gelu_new"]),
        (dict(vocab_size=0), ValueError, ["vocab_size"]),
        (dict(encoder_layers=2.0), ValueError, ["encoder_layers"]),
        (dict(decoder_layers=True), ValueError, ["decoder_layers"]),
        (dict(dropout=1.5), ValueError, ["dropout"]),
        (dict(pad_token_id=64), ValueError, ["pad_token_id", "vocab_size=64"]),
        (dict(problem_type="ranking"), ValueError, ["problem_type"]),
        (dict(id2label=["a"]), ValueError, ["id2label"]),  # HF: ValueError
        (dict(label2id=["a"]), ValueError, ["label2id"]),
        (dict(id2label={"x": "a"}), ValueError, ["id2label"]),
    ],
)
def test_validation_errors_name_the_field(kwargs, exc, words):
    with pytest.raises(exc) as info:
        small(**kwargs)
    for word in words:
        assert word in str(info.value)


def test_activation_names_are_act2fn_and_hf():
    names = activation_names()
    from led_ref.activations import ACT2FN

    assert set(names) == set(ACT2FN)
    assert set(ACTIVATION_NAMES) <= set(names)
    for name in names:
        assert small(activation_function=name).activation_function == name


def test_from_dict_rejects_other_model_types():
    with pytest.raises(ValueError, match="model_type"):
        LEDConfig.from_dict({"model_type": "bart"})
    with pytest.raises(TypeError, match="config_dict"):
        LEDConfig.from_dict([("d_model", 8)])


def test_from_pretrained_file_path_and_overrides():
    path = os.path.join(FIXTURES, "lm", "config.json")
    config = LEDConfig.from_pretrained(path, dropout=0.0)
    assert config.dropout == 0.0 and config.d_model == 8
    assert LEDConfig.from_pretrained(path).dropout == 0.1


def test_from_pretrained_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        LEDConfig.from_pretrained(tmp_path)  # a directory without config.json
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        LEDConfig.from_pretrained(tmp_path)
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        LEDConfig.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError):
        LEDConfig.from_pretrained(str(tmp_path / "nope" / "deeper"))


def test_save_pretrained_into_a_file_is_an_error(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        small().save_pretrained(f)


def test_copy_is_independent():
    a = small(attention_window=[4, 6])
    b = a.copy()
    assert a == b
    b.attention_window[0] = 8
    assert a.attention_window == [4, 6] and a != b


def test_overrides_replace_stale_aliases_and_labels():
    base = LEDConfig.from_pretrained(os.path.join(FIXTURES, "seq_cls"))
    c = LEDConfig.from_dict(
        {**base.to_dict(), "hidden_size": 8}, encoder_layers=3, attention_window=4, d_model=16, num_labels=4
    )
    assert (c.encoder_layers, c.num_hidden_layers, c.d_model, c.num_labels) == (3, 3, 16, 4)
    assert c.id2label[3] == "LABEL_3"


def test_torch_dtype_is_kept_as_hf_keeps_it(tmp_path):
    """HF: a torch.dtype where torch is available, written as its name; the core never imports torch for it."""
    import subprocess
    import sys

    code = (
        "import sys; from led_ref.config import LEDConfig; c = LEDConfig(torch_dtype='float16'); "
        "assert c.torch_dtype == 'float16' and 'torch' not in sys.modules; print(c.to_dict()['torch_dtype'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "float16"
    torch = pytest.importorskip("torch")
    config = LEDConfig(torch_dtype="bfloat16")
    assert config.torch_dtype is torch.bfloat16  # comparable with torch dtypes, as HF's
    assert LEDConfig(torch_dtype=torch.float64).to_dict()["torch_dtype"] == "float64"
    config.to_json_file(tmp_path / "c.json")
    assert read_json(tmp_path / "c.json")["torch_dtype"] == "bfloat16"
    with pytest.raises(AttributeError, match="torch_dtype"):
        LEDConfig(torch_dtype="float17")  # HF: getattr(torch, name) fails


def test_label_maps_are_kept_as_given():
    """HF keeps label2id as given (values are not converted) and leaves it None when only id2label is given."""
    config = LEDConfig(id2label={"0": "neg", "1": "pos"}, label2id={"neg": "0", "pos": 1})
    assert config.id2label == {0: "neg", 1: "pos"} and config.label2id == {"neg": "0", "pos": 1}
    assert json.loads(config.to_json_string())["label2id"] == {"neg": "0", "pos": 1}
    assert LEDConfig(id2label={0: "a", 1: "b", 2: "c"}).label2id is None
    with pytest.raises(ValueError, match="label2id"):
        LEDConfig(label2id=[("a", 0)])


def test_to_json_file(tmp_path):
    config = small(num_beams=3)
    config.to_json_file(tmp_path / "diff.json")
    config.to_json_file(tmp_path / "full.json", use_diff=False)
    diff, full = read_json(tmp_path / "diff.json"), read_json(tmp_path / "full.json")
    assert diff["num_beams"] == 3 and "output_attentions" not in diff and full["output_attentions"] is False
    assert LEDConfig.from_json_file(tmp_path / "full.json") == config


def test_hf_keywords_accepted_or_refused_like_hf():
    config = LEDConfig(my_flag=True, name_or_path=7, return_dict=False)
    assert config.my_flag is True and config.name_or_path == "7" and config.to_dict()["_name_or_path"] == "7"
    assert config.use_return_dict is False  # HF's derived property
    with pytest.raises(AttributeError, match="use_return_dict"):
        LEDConfig(use_return_dict=True)  # a read-only property: HF's setattr fails the same way
    with pytest.raises(AttributeError):
        config.use_return_dict = True

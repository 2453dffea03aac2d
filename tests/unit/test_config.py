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
        (dict(id2label=["a"]), TypeError, ["id2label"]),
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

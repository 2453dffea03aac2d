"""The one head registry: every place that needs to know LED's four heads reads it from here.

A head key ("lm", "base", "seq_cls", "qa") names one HF class. For each head the registry holds the HF
architecture class name (``config.architectures``, ``<HFClass>.from_pretrained``), the led_ref class
(``led_ref.model.<numpy_class>``), the HF names of the parameters only that head has (they never carry
the ``led.`` prefix; spec/SPEC.md#checkpoints) and the output names of its ONNX export
(spec/SPEC.md#onnx-export). The conditional-generation head is exported as three graphs (encoder,
decoder, decoder with past), whose logits output is ``onnx_outputs``; the others as one ``model.onnx``.
"""

from typing import NamedTuple

__all__ = [
    "Head",
    "HEADS",
    "DEFAULT_HEAD",
    "GENERATION_HEAD",
    "ALL_HEAD_PARAMETERS",
    "get_head",
    "head_for_architecture",
    "head_of_config",
]


class Head(NamedTuple):
    key: str  # led-ref's short name: "lm", "base", "seq_cls", "qa"
    hf_class: str  # HF transformers class name, as written in config.architectures
    numpy_class: str  # class name in led_ref.model
    parameters: tuple[str, ...]  # HF names of the head's own parameters (no "led." prefix)
    onnx_outputs: tuple[str, ...]  # output names of the exported graph(s), in order


HEADS = {
    "base": Head("base", "LEDModel", "LEDModel", (), ("last_hidden_state", "encoder_last_hidden_state")),
    "lm": Head(
        "lm",
        "LEDForConditionalGeneration",
        "LEDForConditionalGeneration",
        ("lm_head.weight", "final_logits_bias"),
        ("logits",),
    ),
    "seq_cls": Head(
        "seq_cls",
        "LEDForSequenceClassification",
        "LEDForSequenceClassification",
        (
            "classification_head.dense.weight",
            "classification_head.dense.bias",
            "classification_head.out_proj.weight",
            "classification_head.out_proj.bias",
        ),
        ("logits",),
    ),
    "qa": Head(
        "qa",
        "LEDForQuestionAnswering",
        "LEDForQuestionAnswering",
        ("qa_outputs.weight", "qa_outputs.bias"),
        ("start_logits", "end_logits"),
    ),
}
GENERATION_HEAD = "lm"  # the head that generates (exported as encoder / decoder / decoder-with-past graphs)
DEFAULT_HEAD = GENERATION_HEAD  # a config without (known) architectures loads as conditional generation, like HF
ALL_HEAD_PARAMETERS = frozenset(k for head in HEADS.values() for k in head.parameters)


def get_head(key) -> Head:
    """The registry entry of ``key``; ValueError naming the known keys otherwise."""
    if not isinstance(key, str) or key not in HEADS:
        raise ValueError(f"head must be one of {', '.join(HEADS)}, got {key!r}")
    return HEADS[key]


def head_for_architecture(name: str) -> str:
    """The head key of an HF class name ("LEDForConditionalGeneration" -> "lm")."""
    for head in HEADS.values():
        if head.hf_class == name:
            return head.key
    known = ", ".join(h.hf_class for h in HEADS.values())
    raise ValueError(f"unknown LED architecture {name!r}; expected one of {known}")


def head_of_config(config) -> str:
    """The head of a checkpoint: its first known ``config.architectures`` entry, else DEFAULT_HEAD."""
    for arch in getattr(config, "architectures", None) or []:
        for head in HEADS.values():
            if head.hf_class == arch:
                return head.key
    return DEFAULT_HEAD

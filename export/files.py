"""What an export directory holds: the ONNX file names (optimum's seq2seq layout) and the config fingerprint
stored in every file (spec/SPEC.md#files-and-tensor-names). Shared by the exporter and the ONNX Runtime
backend, which import it rather than each other."""

import hashlib
import json

ENCODER_FILE = "encoder_model.onnx"
DECODER_FILE = "decoder_model.onnx"
DECODER_WITH_PAST_FILE = "decoder_with_past_model.onnx"
DECODER_MERGED_FILE = "decoder_model_merged.onnx"  # optimum's merged decoder (use_cache_branch)
MODEL_FILE = "model.onnx"

# config fields that fix the graphs; their hash is stored in every exported file
ARCH_FIELDS = (
    "vocab_size",
    "d_model",
    "encoder_layers",
    "decoder_layers",
    "encoder_attention_heads",
    "decoder_attention_heads",
    "encoder_ffn_dim",
    "decoder_ffn_dim",
    "activation_function",
    "max_encoder_position_embeddings",
    "max_decoder_position_embeddings",
    "pad_token_id",
    "eos_token_id",
    "decoder_start_token_id",
)


def config_fingerprint(config):
    """sha256 of the architecture fields (and per-layer windows) of ``config``: ties ONNX files to a config."""
    # core only (no torch): the ONNX Runtime backend computes this when it loads an export
    from led_ref.config import LEDConfig

    if isinstance(config, dict):
        config = LEDConfig.from_dict(config)
    data = {name: getattr(config, name) for name in ARCH_FIELDS}
    data["attention_window"] = config.layer_attention_windows()
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

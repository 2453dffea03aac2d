"""Shared by every test group: repository paths and the tiny model configs (and builders) the tests use."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository root
DATA = ROOT / "led_ref" / "data"  # bundled vocabulary and text
FIXTURES = str(ROOT / "tests" / "fixtures" / "checkpoints")  # HF-written checkpoints (spec/make_checkpoint_fixtures.py)
GOLDENS = ROOT / "spec" / "goldens"  # conformance vectors (spec/make_*_goldens.py)

# The unit tests' model: two layers each side, per-layer windows 4 and 6 (one-sided 2 and 3), positions
# for lengths past several windows; HF's special ids.
TINY = dict(
    vocab_size=40,
    d_model=16,
    encoder_layers=2,
    decoder_layers=2,
    encoder_attention_heads=2,
    decoder_attention_heads=2,
    encoder_ffn_dim=24,
    decoder_ffn_dim=20,
    max_encoder_position_embeddings=64,
    max_decoder_position_embeddings=16,
    attention_window=[4, 6],
    activation_function="gelu",
    pad_token_id=1,
    bos_token_id=0,
    eos_token_id=2,
    decoder_start_token_id=2,
)

# The export tests' model: per-layer windows 4 and 8 (one-sided 2 and 4); max positions 64 allow lengths
# past several windows.
TINY_EXPORT = dict(
    vocab_size=50,
    d_model=16,
    encoder_layers=2,
    decoder_layers=2,
    encoder_attention_heads=2,
    decoder_attention_heads=2,
    encoder_ffn_dim=24,
    decoder_ffn_dim=24,
    attention_window=[4, 8],
    max_encoder_position_embeddings=64,
    max_decoder_position_embeddings=32,
)

# One layer each side, one window: the CLI tests' checkpoint (with the bundled real-size vocabulary).
TINY_CLI = dict(
    d_model=16,
    encoder_layers=1,
    decoder_layers=1,
    encoder_attention_heads=2,
    decoder_attention_heads=2,
    encoder_ffn_dim=32,
    decoder_ffn_dim=32,
    attention_window=8,
    max_encoder_position_embeddings=64,
    max_decoder_position_embeddings=32,
)


def tiny_config(base=None, **overrides):
    """LEDConfig of ``base`` (default TINY) with ``overrides``."""
    from led_ref.config import LEDConfig

    return LEDConfig(**{**(TINY if base is None else base), **overrides})


def tiny_model(head="lm", dtype=None, seed=3, base=None, **overrides):
    """A led_ref model of ``head`` with seeded random weights (float64 unless ``dtype``)."""
    import numpy as np

    from led_ref.model import model_class
    from led_ref.weights import init_params

    cfg = tiny_config(base, **overrides)
    return model_class(head)(cfg, init_params(cfg, head, seed=seed, dtype=np.float64 if dtype is None else dtype))


def tiny_checkpoint(directory, head="lm", seed=0, base=None, **overrides):
    """Write a seeded random checkpoint (config.json + model.safetensors) to ``directory``; (config, params)."""
    from led_ref.weights import init_params, save_checkpoint

    config = tiny_config(base, **overrides)
    params = init_params(config, head, seed=seed)
    save_checkpoint(directory, config, params, head)
    return config, params


__all__ = [
    "ROOT",
    "DATA",
    "FIXTURES",
    "GOLDENS",
    "TINY",
    "TINY_EXPORT",
    "TINY_CLI",
    "tiny_config",
    "tiny_model",
    "tiny_checkpoint",
]

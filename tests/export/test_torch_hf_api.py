"""The HF API items of led_ref.export.torch_model's classes that need no transformers: ``torch_dtype=``,
``.device`` / ``.dtype``, bool masks, ``config.init_std`` at construction (HF's statistics), attentions (and
``encoder_global_attentions``) when the config asks for them, equal to the NumPy reference, and the decoder's
one-token rule (a cached step equals the NumPy reference's)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs the export extra (torch)")

from led_ref.export.torch_model import (
    MODEL_CLASSES,
    LEDForConditionalGeneration,
    LEDModel,
    build_torch_model,
)
from led_ref.weights import init_params
from tests.testlib import TINY_EXPORT, tiny_checkpoint, tiny_config, tiny_model

pytestmark = pytest.mark.export


def test_from_pretrained_takes_hfs_torch_dtype(tmp_path):
    tiny_checkpoint(tmp_path, "lm", base=TINY_EXPORT)
    assert LEDForConditionalGeneration.from_pretrained(tmp_path, torch_dtype=torch.float64).dtype == torch.float64
    assert LEDForConditionalGeneration.from_pretrained(tmp_path, torch_dtype="float64").dtype == torch.float64
    assert LEDForConditionalGeneration.from_pretrained(tmp_path, dtype=torch.float64).dtype == torch.float64
    assert LEDForConditionalGeneration.from_pretrained(tmp_path, torch_dtype="auto").dtype == torch.float32  # saved
    with pytest.raises(ValueError, match="not both"):
        LEDForConditionalGeneration.from_pretrained(tmp_path, dtype=torch.float32, torch_dtype=torch.float64)
    with pytest.raises(TypeError, match="torch_dtype"):
        LEDForConditionalGeneration.from_pretrained(tmp_path, torch_dtype=torch.int32)


def test_device_and_dtype_properties():
    model = LEDModel(tiny_config(TINY_EXPORT))
    assert model.device == torch.device("cpu") and model.dtype == torch.float32
    ids = torch.randint(3, 50, (1, 5))
    assert model(input_ids=ids.to(model.device)).last_hidden_state.device == model.device
    assert model.to(torch.float64).dtype == torch.float64


@pytest.mark.parametrize("head", list(MODEL_CLASSES))
def test_bool_masks_equal_integer_masks(head):
    config = tiny_config(TINY_EXPORT, num_labels=3)
    model = build_torch_model(config, init_params(config, head, seed=1), head)
    ids = torch.randint(3, 50, (2, 11))
    ids[:, -1] = 2  # an eos per row (sequence classification)
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    glob = torch.zeros_like(ids)
    glob[:, 0] = 1
    dec = ids if head == "seq_cls" else ids[:, :5]  # classification reads the decoder at input_ids' eos
    a = model(
        input_ids=ids,
        attention_mask=mask,
        global_attention_mask=glob,
        decoder_input_ids=dec,
        decoder_attention_mask=torch.ones_like(dec),
    )
    b = model(
        input_ids=ids,
        attention_mask=mask.bool(),
        global_attention_mask=glob.bool(),
        decoder_input_ids=dec,
        decoder_attention_mask=torch.ones_like(dec, dtype=torch.bool),
    )
    for x, y in zip(a.to_tuple(), b.to_tuple()):
        if isinstance(x, torch.Tensor):
            assert torch.equal(x, y)
    with pytest.raises(TypeError, match="input_ids"):
        model(input_ids=ids.bool())  # ids are never bool
    with pytest.raises(TypeError, match="attention_mask"):
        model(input_ids=ids, attention_mask=mask.float())


def _kind(name):
    if name.endswith("bias") and "final_logits" not in name:
        return "bias"
    if "layer_norm" in name or "layernorm" in name:
        return "norm." + name.rsplit(".", 1)[1]
    return "weight"


@pytest.mark.parametrize("head", list(MODEL_CLASSES))
def test_a_fresh_model_has_hfs_initialisation(head):
    """HF's _init_weights statistics for a seeded init: Linear weights and embeddings N(0, init_std), zero biases, a
    zero padding row, LayerNorms (1, 0); config.init_std is honoured."""
    std = 0.05
    config = tiny_config(
        TINY_EXPORT,
        d_model=64,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
        init_std=std,
        num_labels=3,
    )
    torch.manual_seed(0)
    model = MODEL_CLASSES[head](config)
    weights = []
    for name, p in model.named_parameters():
        p = p.detach()
        kind = _kind(name)
        if kind == "bias":
            assert torch.count_nonzero(p) == 0, name
        elif kind == "norm.weight":
            assert torch.all(p == 1), name
        elif kind == "norm.bias":
            assert torch.all(p == 0), name
        else:
            weights.append(p.detach().flatten())
            if p.numel() >= 4096:  # enough draws for a 5% check of the standard deviation
                assert abs(float(p.std()) / std - 1) < 0.05, name
                assert abs(float(p.mean())) < 4 * std / p.numel() ** 0.5, name
    pooled = torch.cat(weights)
    assert abs(float(pooled.std()) / std - 1) < 0.02
    pad = config.pad_token_id
    assert torch.count_nonzero(model.state_dict()[("" if head == "base" else "led.") + "shared.weight"][pad]) == 0


def _inputs(batch=3, length=13, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, 50, (batch, length), generator=g)
    mask = torch.ones_like(ids)
    mask[1, -4:] = 0
    glob = torch.zeros_like(ids)
    glob[1, [0, 3]] = 1  # row 1: two global tokens; row 2: one; row 0: none
    glob[2, 5] = 1
    return ids, mask, glob


def test_attentions_from_the_config_equal_the_numpy_reference():
    """config.output_attentions=True (set after construction) returns every attention, encoder_global_attentions
    included, in led-ref's layout (spec/SPEC.md#encoder-self-attention), equal to the NumPy reference's."""
    config = tiny_config(TINY_EXPORT)
    ref = tiny_model("base", base=TINY_EXPORT, seed=4)
    model = build_torch_model(config, ref.params, "base", torch.float64)
    ids, mask, glob = _inputs()
    dec = ids[:, :6]
    assert model(input_ids=ids, attention_mask=mask, global_attention_mask=glob).encoder_global_attentions is None
    model.config.output_attentions = True
    out = model(input_ids=ids, attention_mask=mask, global_attention_mask=glob, decoder_input_ids=dec)
    want = ref(
        input_ids=ids.numpy(),
        attention_mask=mask.numpy(),
        global_attention_mask=glob.numpy(),
        decoder_input_ids=dec.numpy(),
        output_attentions=True,
    )
    for key in ("encoder_attentions", "encoder_global_attentions", "decoder_attentions", "cross_attentions"):
        got, exp = getattr(out, key), getattr(want, key)
        assert len(got) == len(exp) == 2, key
        for g, e in zip(got, exp):
            assert g.shape == e.shape, key
            np.testing.assert_allclose(g.numpy(), e, atol=1e-12, err_msg=key)
    model.config.output_attentions = False
    model.config.output_hidden_states = True
    out = model(input_ids=ids, attention_mask=mask, global_attention_mask=glob, decoder_input_ids=dec)
    assert out.encoder_attentions is None and len(out.encoder_hidden_states) == len(out.decoder_hidden_states) == 3


def test_a_cached_one_token_step_ignores_the_decoder_mask_like_the_reference():
    """HF's rule (led_ref.inputs.decoder_masks_apply): a one-token call attends to every cached position and does
    not read decoder_attention_mask, so a generation continued from a cache equals an uninterrupted one even when
    the prompt's mask has zeros."""
    config = tiny_config(TINY_EXPORT)
    ref = tiny_model("lm", base=TINY_EXPORT, seed=5)
    model = build_torch_model(config, ref.params, "lm", torch.float64)
    ids, mask, glob = _inputs()
    prompt = torch.randint(3, 50, (3, 5))
    prompt_mask = torch.ones_like(prompt)
    prompt_mask[0, 1] = prompt_mask[2, 0] = 0
    first = model(
        input_ids=ids,
        attention_mask=mask,
        global_attention_mask=glob,
        decoder_input_ids=prompt,
        decoder_attention_mask=prompt_mask,
        use_cache=True,
    )
    step = torch.randint(3, 50, (3, 1))
    # the mask passed with the step differs from the prompt's (as when a caller re-pads it): no effect on T == 1
    for step_mask in (torch.cat([prompt_mask, torch.ones_like(step)], 1), torch.ones(3, 6, dtype=torch.int64)):
        out = model.led.decoder(step, None, mask, past=first.past_key_values, attention_mask=step_mask)[0]
        want = ref.get_decoder()(
            input_ids=step.numpy(),
            encoder_hidden_states=first.encoder_last_hidden_state.detach().numpy(),
            encoder_attention_mask=mask.numpy(),
            past_key_values=[[t.detach().numpy() for t in layer] for layer in first.past_key_values],
            attention_mask=step_mask.numpy(),
        )
        np.testing.assert_allclose(out.detach().numpy(), want.last_hidden_state, atol=1e-12)
        same = model.led.decoder(step, None, mask, past=first.past_key_values)[0]
        assert torch.equal(out, same)

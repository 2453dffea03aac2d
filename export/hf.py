"""led-ref's encoder layer inside an existing HF transformers LED model, in one call.

    import transformers
    from led_ref.export import hf

    model = transformers.LEDForConditionalGeneration.from_pretrained(path)
    hf.patch(model)    # every encoder layer now runs led-ref's torch layer on the model's own parameters
    ...                # train (Trainer, accelerate, your loop), generate, save_pretrained: as before
    hf.unpatch(model)  # HF's own layers back (the same module objects)

``patch`` replaces each ``LEDEncoderLayer`` of the model's encoder by a ``PatchedEncoderLayer``: led-ref's
``torch_model.LEDEncoderLayer`` holding HF's own ``nn.Linear`` / ``nn.LayerNorm`` modules under HF's names, so
``state_dict()`` keys, parameter objects (and an optimizer holding them), ``save_pretrained`` and
``from_pretrained`` are unchanged. What runs differently (spec/SPEC.md#training, the patch): the local attention
is ``kernels.band_attention`` (nothing of the O(L w) band is stored for backward), global tokens' rows project
only the few global queries (``LEDEncoderSelfAttention._global_rows``), and the feed-forward block keeps fc1's
output only (``kernels.act_linear``). Outputs and gradients equal HF's within ``led_ref.tolerances`` (float64: HF
with its float32 encoder softmax lifted, spec/GOLDENS.md).

Kept from HF: the encoder's forward (embeddings, padding to the window, masks (built from one row of HF's
``_prepare_4d_attention_mask_inverted`` inside a patched encoder: the same values), LayerDrop, hidden states,
``_gradient_checkpointing_func``), the decoder and the heads; dropout (same places and rates, active in
``train()`` only); ``head_mask``. A call with ``output_attentions=True`` runs HF's original layer (whose
attention probabilities led-ref's kernels never form), so attentions have HF's shapes and values.

Needs the ``hf`` extra (transformers); nothing else in led_ref imports transformers.

This module is also the one place to import led-ref's HF-shaped classes from: ``LEDForConditionalGeneration`` and
the rest (led_ref.export.hf_models) and ``LEDTokenizer`` / ``LEDTokenizerFast`` (led_ref.export.hf_tokenizers),
loaded on first use, so ``patch`` alone does not import them.
"""

import contextvars
import importlib
import inspect

import torch

from . import torch_model

# The HF-shaped classes, by the module that defines them (read through __getattr__ below).
_CLASSES = {
    **dict.fromkeys(
        (
            "LEDConfig",
            "LEDPreTrainedModel",
            "LEDModel",
            "LEDForConditionalGeneration",
            "LEDForSequenceClassification",
            "LEDForQuestionAnswering",
        ),
        "hf_models",
    ),
    **dict.fromkeys(("LEDTokenizer", "LEDTokenizerFast"), "hf_tokenizers"),
}

__all__ = ["patch", "unpatch", "is_patched", "PatchedEncoderLayer", *_CLASSES]


def __getattr__(name):
    """``led_ref.export.hf.LEDForConditionalGeneration`` and the other HF-shaped classes, imported on first use."""
    module = _CLASSES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __package__), name)


SUPPORTED = "transformers 4.46"  # the LED code the patch was written against (the checks below accept any equal)

# What the patch relies on in transformers.models.led.modeling_led: the classes, their forward signatures (the
# encoder calls its layers positionally under gradient checkpointing) and the attributes it reads.
_SIGNATURES = {
    "LEDEncoderLayer.forward": (
        "self",
        "hidden_states",
        "attention_mask",
        "layer_head_mask",
        "is_index_masked",
        "is_index_global_attn",
        "is_global_attn",
        "output_attentions",
    ),
    "LEDEncoder.forward": (
        "self",
        "input_ids",
        "attention_mask",
        "global_attention_mask",
        "head_mask",
        "inputs_embeds",
        "output_attentions",
        "output_hidden_states",
        "return_dict",
    ),
}
_PROJECTIONS = ("query", "key", "value", "query_global", "key_global", "value_global")
_SELF_ATTN_ATTRS = ("num_heads", "head_dim", "embed_dim", "one_sided_attn_window_size", "dropout")
_LAYER_MODULES = ("self_attn_layer_norm", "fc1", "fc2", "final_layer_norm")  # shared as they are
_LAYER_ATTRS = ("dropout", "activation_dropout", "activation_fn")
_MODEL_CLASSES = ("LEDForConditionalGeneration", "LEDModel", "LEDForSequenceClassification", "LEDForQuestionAnswering")


def _modeling_led():
    try:
        import transformers
        from transformers.models.led import modeling_led
    except ImportError as e:
        raise ImportError(
            f"led_ref.export.hf needs transformers (pip install 'led-ref[hf]'): {type(e).__name__}: {e}"
        ) from None
    return transformers.__version__, modeling_led


def _unsupported(version, what):
    return RuntimeError(
        f"led_ref.export.hf: transformers {version} is not supported: {what} (the patch reproduces {SUPPORTED}'s "
        "LED encoder layer); leave the model unpatched or use a supported transformers"
    )


_CHECKED = {}  # id(modeling_led module) -> None once its classes passed (or are passing) the checks and the probe


def check_transformers():
    """The installed transformers' LED module, after checking the classes, signatures and behaviour the patch
    relies on (once per process). RuntimeError naming the version where they differ."""
    version, led = _modeling_led()
    if id(led) in _CHECKED:  # checked, or being checked (the probe's own encoder may be patched by a hook)
        return led
    _CHECKED[id(led)] = None
    try:
        _check(version, led)
    except BaseException:
        del _CHECKED[id(led)]
        raise
    return led


def _check(version, led):
    for name in ("LEDEncoder", "LEDEncoderLayer", "LEDEncoderAttention", "LEDEncoderSelfAttention", *_MODEL_CLASSES):
        if not isinstance(getattr(led, name, None), type):
            raise _unsupported(version, f"modeling_led has no class {name}")
    for qualname, expected in _SIGNATURES.items():
        cls, method = qualname.split(".")
        try:
            params = tuple(inspect.signature(getattr(getattr(led, cls), method)).parameters)
        except (TypeError, ValueError):
            params = ()
        if params != expected:
            raise _unsupported(version, f"{qualname} takes ({', '.join(params)}), expected ({', '.join(expected)})")
    _probe(version, led)


def _probe(version, led):
    """Run a tiny HF encoder (float64, padding, rows with 0, 1 and 3 global tokens, two windows) patched and
    unpatched: a transformers whose layers compute something else fails here instead of training silently
    wrong. Compared at the float32 tolerance because HF's encoder softmax runs in float32."""
    from led_ref.tolerances import TOLERANCE, relative_error

    config = led.LEDConfig(
        vocab_size=32,
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
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
    )
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(0)
        encoder = led.LEDEncoder(config).to(torch.float64).train()
        _unpatch_encoder(encoder)  # in case a hook patches every LEDEncoder built (as tools/hf_patch_tests does)
        ids = torch.randint(3, 32, (3, 21))
        mask = torch.ones_like(ids)
        mask[1, 15:] = 0
        glob = torch.zeros_like(ids)
        glob[1, 2] = 1
        glob[2, [0, 5, 20]] = 1
        kw = dict(input_ids=ids, attention_mask=mask, global_attention_mask=glob)
        expected = encoder(**kw).last_hidden_state
        _patch_encoder(encoder, led)
        got = encoder(**kw).last_hidden_state
        _unpatch_encoder(encoder)
    except Exception as e:
        raise _unsupported(version, f"the probe encoder failed ({type(e).__name__}: {e})") from None
    finally:
        torch.random.set_rng_state(state)
    err = relative_error(got.detach().numpy(), expected.detach().numpy())
    if not err <= TOLERANCE["float32"]:
        raise _unsupported(version, f"led-ref's layer differs from its LEDEncoderLayer by {err:.1e} on a probe")


class PatchedEncoderLayer(torch_model.LEDEncoderLayer):
    """led-ref's encoder layer on an HF ``LEDEncoderLayer``'s modules, called like HF's layer.

    Submodule names are HF's (``self_attn.longformer_self_attn.query`` ... ``final_layer_norm``) and the modules
    are HF's objects, so parameters and state dict are the HF layer's. The replaced HF layer is kept (unregistered)
    for ``unpatch`` and for ``output_attentions=True``."""

    def __init__(self, hf_layer, layer_id, windows):
        attn = hf_layer.self_attn.longformer_self_attn
        config = {
            "d_model": attn.embed_dim,
            "encoder_attention_heads": attn.num_heads,
            "encoder_ffn_dim": hf_layer.fc1.out_features,
            "encoder_layers": len(windows),
            "attention_window": list(windows),
            "attention_dropout": float(attn.dropout),
            "dropout": float(hf_layer.dropout),
            "activation_dropout": float(hf_layer.activation_dropout),
        }
        super().__init__(config, layer_id)
        ours = self.self_attn.longformer_self_attn
        for name in _PROJECTIONS:
            setattr(ours, name, getattr(attn, name))
        self.self_attn.output = hf_layer.self_attn.output
        for name in _LAYER_MODULES:
            setattr(self, name, getattr(hf_layer, name))
        # HF's activation module, unregistered (led_ref's layer holds its activation as a plain callable)
        self.__dict__["act"] = hf_layer.activation_fn
        self.__dict__["hf_layer"] = hf_layer
        device = next(hf_layer.parameters()).device
        ours.band = ours.band.to(device)
        self.train(hf_layer.training)

    def _shared(self):
        """(HF owner, name, led-ref owner) of every module the two layers share."""
        hf = self.hf_layer
        attn, ours = hf.self_attn.longformer_self_attn, self.self_attn.longformer_self_attn
        return (
            [(attn, n, ours) for n in _PROJECTIONS]
            + [(hf.self_attn, "output", self.self_attn)]
            + [(hf, n, self) for n in _LAYER_MODULES]
        )

    def sync_to_hf(self):
        """Point the HF layer at this layer's current modules (a wrapper such as PEFT's may have replaced some)."""
        for hf_owner, name, owner in self._shared():
            mod = getattr(owner, name)
            if getattr(hf_owner, name) is not mod:
                setattr(hf_owner, name, mod)
        self.hf_layer.train(self.training)
        return self.hf_layer

    def forward(
        self,
        hidden_states,
        attention_mask=None,
        layer_head_mask=None,
        is_index_masked=None,
        is_index_global_attn=None,
        is_global_attn=None,
        output_attentions=False,
    ):
        """HF's ``LEDEncoderLayer.forward``: hidden_states (B, L, D) with L a multiple of the window (HF's encoder
        pads); is_index_masked / is_index_global_attn (B, L) bool. Returns ``(hidden_states,)``."""
        if output_attentions:
            return self.sync_to_hf()(
                hidden_states,
                attention_mask,
                layer_head_mask,
                is_index_masked,
                is_index_global_attn,
                is_global_attn,
                output_attentions,
            )
        is_local = ~(is_index_masked | is_index_global_attn)
        glob = torch_model.global_slots(is_index_global_attn)
        h = super().forward(hidden_states, is_local, is_index_masked, glob, layer_head_mask)
        if h.dtype == torch.float16 and (torch.isinf(h).any() or torch.isnan(h).any()):  # HF's float16 clamp
            clamp = torch.finfo(h.dtype).max - 1000
            h = torch.clamp(h, min=-clamp, max=clamp)
        return (h,)


def _encoder(model, led, verb):
    if isinstance(model, led.LEDEncoder):
        return model
    if isinstance(model, led.LEDModel):
        return model.encoder
    if isinstance(model, tuple(getattr(led, n) for n in _MODEL_CLASSES)):
        return model.led.encoder
    names = ", ".join((*_MODEL_CLASSES, "LEDEncoder"))
    raise TypeError(f"led_ref.export.hf.{verb}: {_describe(model)} is not a transformers LED model (one of {names})")


def _describe(obj):
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__} object"


def _check_layer(layer, led, i, version):
    if not isinstance(layer, led.LEDEncoderLayer):
        raise TypeError(f"encoder.layers[{i}] is a {type(layer).__qualname__}, not transformers' LEDEncoderLayer")
    attn = getattr(getattr(layer, "self_attn", None), "longformer_self_attn", None)
    missing = [
        f"self_attn.longformer_self_attn.{n}" for n in (*_PROJECTIONS, *_SELF_ATTN_ATTRS) if not hasattr(attn, n)
    ]
    missing += ["self_attn.output"] * (not hasattr(getattr(layer, "self_attn", None), "output"))
    missing += [n for n in (*_LAYER_MODULES, *_LAYER_ATTRS) if not hasattr(layer, n)]
    if missing:
        raise _unsupported(version, f"its LEDEncoderLayer has no {', '.join(missing)}")


# HF's encoder forward builds its (B, L) float mask as the [:, 0, 0, :] row of a materialized (B, 1, L, L)
# ``_prepare_4d_attention_mask_inverted``. Inside a patched encoder's forward the function returns the same values
# as a broadcast view (its formula applied to the (B, 1, 1, L) row, then expanded): the values every caller reads
# are HF's, without the L^2 passes. Elsewhere (unpatched models, the decoder) HF's function runs.
_IN_PATCHED_ENCODER = contextvars.ContextVar("led_ref_in_patched_encoder", default=0)
_MASK_FN = "_prepare_4d_attention_mask_inverted"
_HOOKS = "_led_ref_mask_hooks"


def _row_inverted_mask(hf_fn):
    def inverted_mask(mask, dtype, tgt_len=None):
        if not _IN_PATCHED_ENCODER.get():
            return hf_fn(mask, dtype, tgt_len)
        bsz, src_len = mask.size()
        tgt_len = tgt_len if tgt_len is not None else src_len
        inverted = 1.0 - mask[:, None, None, :].to(dtype)  # (B, 1, 1, L): HF's formula on one row
        row = inverted.masked_fill(inverted.bool(), torch.finfo(dtype).min) * inverted
        return row.expand(bsz, 1, tgt_len, src_len)

    inverted_mask.hf_fn = hf_fn
    return inverted_mask


def _enter_encoder(module, args):
    _IN_PATCHED_ENCODER.set(_IN_PATCHED_ENCODER.get() + 1)


def _leave_encoder(module, args, output):
    _IN_PATCHED_ENCODER.set(max(0, _IN_PATCHED_ENCODER.get() - 1))


def _hook_mask(encoder, led):
    """Route the encoder's mask through ``_row_inverted_mask`` while it runs (nothing if transformers has no
    such function: HF's runs)."""
    fn = getattr(led, _MASK_FN, None)
    if fn is None or hasattr(encoder, _HOOKS):
        return
    if not hasattr(fn, "hf_fn"):
        setattr(led, _MASK_FN, _row_inverted_mask(fn))
    hooks = (
        encoder.register_forward_pre_hook(_enter_encoder),
        encoder.register_forward_hook(_leave_encoder, always_call=True),
    )
    object.__setattr__(encoder, _HOOKS, hooks)


def _patch_encoder(encoder, led, version=None):
    layers = encoder.layers
    for i, layer in enumerate(layers):
        _check_layer(layer, led, i, version)
    windows = [2 * layer.self_attn.longformer_self_attn.one_sided_attn_window_size for layer in layers]
    for i, layer in enumerate(list(layers)):
        layers[i] = PatchedEncoderLayer(layer, i, windows)
    _hook_mask(encoder, led)


def _unpatch_encoder(encoder):
    for i, layer in enumerate(list(encoder.layers)):
        if isinstance(layer, PatchedEncoderLayer):
            encoder.layers[i] = layer.sync_to_hf()
    for hook in encoder.__dict__.pop(_HOOKS, ()):
        hook.remove()


def is_patched(model):
    """True if ``model`` (a transformers LED model or LEDEncoder) runs led-ref's encoder layers."""
    _, led = _modeling_led()
    return any(isinstance(layer, PatchedEncoderLayer) for layer in _encoder(model, led, "is_patched").layers)


def patch(model):
    """Swap every encoder layer of ``model`` (transformers ``LEDForConditionalGeneration``, ``LEDModel``,
    ``LEDForSequenceClassification``, ``LEDForQuestionAnswering`` or ``LEDEncoder``) for led-ref's; returns
    ``model``. TypeError for another object, ValueError if already patched, RuntimeError for a transformers
    whose LED code the patch does not reproduce."""
    version, led = _modeling_led()
    encoder = _encoder(model, led, "patch")
    if any(isinstance(layer, PatchedEncoderLayer) for layer in encoder.layers):
        raise ValueError(f"led_ref.export.hf.patch: this {_describe(model)} is already patched")
    check_transformers()
    _patch_encoder(encoder, led, version)
    return model


def unpatch(model):
    """Put HF's original encoder layers (the same module objects, holding any module a wrapper swapped in since)
    back into ``model``; returns ``model``. ValueError if it is not patched."""
    _, led = _modeling_led()
    encoder = _encoder(model, led, "unpatch")
    if not any(isinstance(layer, PatchedEncoderLayer) for layer in encoder.layers):
        raise ValueError(f"led_ref.export.hf.unpatch: this {_describe(model)} is not patched")
    _unpatch_encoder(encoder)
    return model

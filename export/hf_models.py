"""led-ref's torch graph as HF transformers classes: ``PreTrainedModel`` subclasses built from
``led_ref.export.torch_model``'s layers, so code written for ``transformers.LEDForConditionalGeneration`` runs
unchanged -- ``from_pretrained`` / ``save_pretrained`` with HF's options, ``generate()`` (transformers'
GenerationMixin and GenerationConfig), ``Trainer``, gradient checkpointing, HF's forward contract and outputs.

    from led_ref.export.hf_models import LEDConfig, LEDForConditionalGeneration

    model = LEDForConditionalGeneration.from_pretrained(path, torch_dtype=torch.float32)
    out = model.generate(input_ids, attention_mask=mask, global_attention_mask=glob, num_beams=4)

Module and parameter names are HF's (they are torch_model's), so checkpoints and ``state_dict`` keys are HF's
LED's: either library loads what the other saves. What runs is led-ref's graph: the blockwise Longformer attention
of torch_model, its float16 rules and its decoder. HF's own test files for LED run on these classes
(tools/hf_tests/run.py; docs/hf.md lists what passes and what does not).

Needs the ``hf`` extra (transformers 4.46.x, the release whose LED API and tests these classes follow). Nothing
else in led_ref imports transformers; without it, torch_model's classes serve export and training.
"""

import inspect
import warnings

import torch
import transformers
from torch import nn
from transformers import GenerationMixin, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import BaseModelOutputWithPastAndCrossAttentions
from transformers.models.led.modeling_led import (
    LEDEncoderBaseModelOutput,
    LEDSeq2SeqLMOutput,
    LEDSeq2SeqModelOutput,
    LEDSeq2SeqQuestionAnsweringModelOutput,
    LEDSeq2SeqSequenceClassifierOutput,
)
from transformers.utils import logging

from led_ref import config as core_config
from led_ref import inputs as rules

from . import torch_model

__all__ = [
    "LEDConfig",
    "LEDPreTrainedModel",
    "LEDEncoder",
    "LEDDecoder",
    "LEDModel",
    "LEDForConditionalGeneration",
    "LEDForSequenceClassification",
    "LEDForQuestionAnswering",
]

SUPPORTED_TRANSFORMERS = "4.46"  # the release whose LED classes, GenerationMixin and tests these follow
if not transformers.__version__.startswith(SUPPORTED_TRANSFORMERS + "."):
    warnings.warn(
        f"led_ref.export.hf_models follows transformers {SUPPORTED_TRANSFORMERS}.x (the `hf` extra); installed is "
        f"{transformers.__version__}, whose generation internals may differ",
        stacklevel=2,
    )

logger = logging.get_logger(__name__)

# HF's LEDConfig passes these to PretrainedConfig.__init__; the other LED fields it sets itself
_BASE_FIELDS = ("pad_token_id", "bos_token_id", "eos_token_id", "is_encoder_decoder", "decoder_start_token_id")


class LEDConfig(PretrainedConfig):
    """HF's LEDConfig (model_type "led"): the fields, defaults and aliases of led_ref.config (HF 4.46.3's), as a
    ``transformers.PretrainedConfig``; like HF it accepts any other keyword and checks nothing until a model is
    built from it. ``LEDConfig.from_led_ref(core)`` / ``config.to_led_ref()`` convert to and from led_ref's
    plain LEDConfig (which checks every field)."""

    model_type = "led"
    attribute_map = dict(core_config.ATTRIBUTE_MAP)

    def __init__(self, **kwargs):
        for name, default in core_config.LED_DEFAULTS.items():
            if name not in _BASE_FIELDS:
                setattr(self, name, kwargs.pop(name, default))
        self.num_hidden_layers = self.encoder_layers  # HF: a num_hidden_layers keyword is set after, and wins
        base = {name: kwargs.pop(name, core_config.LED_DEFAULTS[name]) for name in _BASE_FIELDS}
        super().__init__(**base, **kwargs)

    def layer_attention_windows(self):
        """The window of each encoder layer (led_ref.config's rule: an int for all layers or one per layer)."""
        return core_config.layer_attention_windows(self.attention_window, self.encoder_layers)

    @classmethod
    def from_led_ref(cls, config):
        """This class from led_ref's LEDConfig (every field and unknown key)."""
        return cls.from_dict(config.to_dict())

    def to_led_ref(self):
        """led_ref's LEDConfig of the same fields; ValueError/TypeError naming a field no model can run with."""
        return _core(self)


def _core(config):
    return core_config.as_config(config, "the model's config")


def _adopt(shell, core):
    """``shell`` takes ``core``'s submodules and settings under the same names (so the same state_dict keys), and
    then runs core's methods on itself: torch_model's ``run`` reads only these attributes."""
    for name, child in core.named_children():
        shell.add_module(name, child)
    for name, value in vars(core).items():
        if not name.startswith("_") and name != "training":
            setattr(shell, name, value)


def _flag(value, default):
    return default if value is None else value


def _legacy_past(past_key_values):
    """HF's legacy per-layer tuples from a transformers Cache object (or the tuples themselves)."""
    if past_key_values is not None and hasattr(past_key_values, "to_legacy_cache"):
        return past_key_values.to_legacy_cache()
    return past_key_values


def _one_of(ids, embeds, ids_name, embeds_name):
    if ids is not None and embeds is not None:
        raise ValueError(f"You cannot specify both {ids_name} and {embeds_name} at the same time")
    if ids is None and embeds is None:
        raise ValueError(f"You have to specify either {ids_name} or {embeds_name}")


def _check_embeds(name, embeds, d_model):
    if embeds is not None and (
        not isinstance(embeds, torch.Tensor) or embeds.dim() != 3 or embeds.shape[-1] != d_model
    ):
        shape = tuple(embeds.shape) if isinstance(embeds, torch.Tensor) else type(embeds).__name__
        raise ValueError(f"{name} must be a (batch, length, d_model={d_model}) tensor, got {shape}")
    return embeds


def _check_mask(name, mask, shape):
    mask = torch_model._long(name, mask, 2, mask=True)
    if mask is not None and tuple(mask.shape) != tuple(shape):
        raise ValueError(f"{name} shape {tuple(mask.shape)} must be {tuple(shape)}")
    return mask


class LEDPreTrainedModel(PreTrainedModel):
    """HF's base class for the LED classes: ``config_class``, ``base_model_prefix = "led"``, HF's initialisation
    (torch_model.init_module: N(0, config.init_std) weights, zero biases, zero padding row) and gradient
    checkpointing through HF's hook. A led_ref LEDConfig is accepted too (converted)."""

    config_class = LEDConfig
    base_model_prefix = "led"
    supports_gradient_checkpointing = True

    def __init__(self, config, *args, **kwargs):
        if isinstance(config, core_config.LEDConfig):
            config = LEDConfig.from_led_ref(config)
        if isinstance(config, PretrainedConfig):
            _core(config)  # a config no model can run with is a ValueError naming the field, before any layer
        super().__init__(config, *args, **kwargs)

    def _init_weights(self, module):
        torch_model.init_module(module, self.config.init_std)

    def _set_gradient_checkpointing(self, enable=True, gradient_checkpointing_func=None):
        """HF's hook (sets ``gradient_checkpointing`` and ``_gradient_checkpointing_func`` on the encoder and
        decoder), plus torch_model's nested recompute of the encoder attention's head groups."""
        if gradient_checkpointing_func is None:
            super()._set_gradient_checkpointing(enable)
        else:
            super()._set_gradient_checkpointing(enable, gradient_checkpointing_func)
        for module in self.modules():
            if isinstance(module, torch_model.LEDEncoderSelfAttention):
                module.recompute_heads = enable

    @property
    def dummy_inputs(self):
        pad = self.config.pad_token_id
        input_ids = torch.tensor([[0, 6, 10, 4, 2], [0, 8, 12, 2, pad]], device=self.device)
        return {"attention_mask": input_ids.ne(pad), "input_ids": input_ids}


class LEDEncoder(LEDPreTrainedModel):
    """HF's LEDEncoder on torch_model's encoder layers: Longformer self-attention (sliding window + global)."""

    def __init__(self, config, embed_tokens=None):
        super().__init__(config)
        if embed_tokens is None:
            embed_tokens = nn.Embedding(config.vocab_size, config.d_model, config.pad_token_id)
        _adopt(self, torch_model.LEDEncoder(config, embed_tokens))
        self.padding_idx = config.pad_token_id
        self.max_source_positions = config.max_encoder_position_embeddings
        self.post_init()

    def get_input_embeddings(self):
        return self.embed_tokens

    def set_input_embeddings(self, value):
        self.embed_tokens = value

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        global_attention_mask=None,
        head_mask=None,
        inputs_embeds=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        """HF's LEDEncoder.forward: LEDEncoderBaseModelOutput (last_hidden_state, hidden_states, attentions
        (B, H, S, x + w + 1), global_attentions (B, H, S_pad, x)); a tuple of the present ones without
        return_dict."""
        cfg = self.config
        output_attentions = _flag(output_attentions, cfg.output_attentions)
        output_hidden_states = _flag(output_hidden_states, cfg.output_hidden_states)
        return_dict = _flag(return_dict, cfg.use_return_dict)
        _one_of(input_ids, inputs_embeds, "input_ids", "inputs_embeds")
        if inputs_embeds is None:
            input_ids, attention_mask, global_attention_mask = torch_model._encoder_inputs(
                cfg, input_ids, attention_mask, global_attention_mask
            )
            shape = input_ids.shape
        else:
            shape = _check_embeds("inputs_embeds", inputs_embeds, cfg.d_model).shape[:2]
            if shape[1] > cfg.max_encoder_position_embeddings:
                raise ValueError(
                    f"inputs_embeds has {shape[1]} positions, more than max_encoder_position_embeddings="
                    f"{cfg.max_encoder_position_embeddings}"
                )
            device = inputs_embeds.device
            attention_mask = _check_mask("attention_mask", attention_mask, shape)
            global_attention_mask = _check_mask("global_attention_mask", global_attention_mask, shape)
            if attention_mask is None:
                attention_mask = torch.ones(shape, dtype=torch.int64, device=device)
            if global_attention_mask is None:
                global_attention_mask = torch.zeros(shape, dtype=torch.int64, device=device)
        hidden, states, attentions, global_attentions = torch_model.LEDEncoder.run(
            self,
            input_ids,
            attention_mask,
            global_attention_mask,
            inputs_embeds=inputs_embeds,
            head_mask=head_mask,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        if not return_dict:
            return tuple(v for v in (hidden, states, attentions, global_attentions) if v is not None)
        return LEDEncoderBaseModelOutput(
            last_hidden_state=hidden,
            hidden_states=states,
            attentions=attentions,
            global_attentions=global_attentions,
        )


class LEDDecoder(LEDPreTrainedModel):
    """HF's LEDDecoder on torch_model's decoder layers; without encoder states it runs alone (2-tuple caches)."""

    def __init__(self, config, embed_tokens=None):
        super().__init__(config)
        if embed_tokens is None:
            embed_tokens = nn.Embedding(config.vocab_size, config.d_model, config.pad_token_id)
        _adopt(self, torch_model.LEDDecoder(config, embed_tokens))
        self.padding_idx = config.pad_token_id
        self.max_target_positions = config.max_decoder_position_embeddings
        self.post_init()

    def get_input_embeddings(self):
        return self.embed_tokens

    def set_input_embeddings(self, value):
        self.embed_tokens = value

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        global_attention_mask=None,
        encoder_hidden_states=None,
        encoder_attention_mask=None,
        head_mask=None,
        cross_attn_head_mask=None,
        past_key_values=None,
        inputs_embeds=None,
        use_cache=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        """HF's LEDDecoder.forward: BaseModelOutputWithPastAndCrossAttentions; past_key_values in HF's legacy
        layout, per layer (self_k, self_v, cross_k, cross_v) each (B, H, len, d), or (self_k, self_v) without
        encoder states. ``global_attention_mask`` is accepted and unused, as in HF."""
        cfg = self.config
        output_attentions = _flag(output_attentions, cfg.output_attentions)
        output_hidden_states = _flag(output_hidden_states, cfg.output_hidden_states)
        use_cache = _flag(use_cache, cfg.use_cache)
        return_dict = _flag(return_dict, cfg.use_return_dict)
        _one_of(input_ids, inputs_embeds, "decoder_input_ids", "decoder_inputs_embeds")
        input_ids = torch_model.token_ids(cfg, "decoder_input_ids", input_ids)
        inputs_embeds = _check_embeds("decoder_inputs_embeds", inputs_embeds, cfg.d_model)
        batch, length = (input_ids if input_ids is not None else inputs_embeds).shape[:2]
        past_key_values = _legacy_past(past_key_values)
        past = 0 if past_key_values is None else past_key_values[0][0].shape[2]
        rules.check_decoder_length(past, length, cfg.max_decoder_position_embeddings)
        attention_mask = _check_mask("decoder attention_mask", attention_mask, (batch, past + length))
        if encoder_hidden_states is not None:
            encoder_attention_mask = _check_mask(
                "encoder_attention_mask", encoder_attention_mask, encoder_hidden_states.shape[:2]
            )
        if self.gradient_checkpointing and self.training and use_cache:
            logger.warning_once(
                "`use_cache=True` is incompatible with gradient checkpointing. Setting `use_cache=False`..."
            )
            use_cache = False
        hidden, present, states, self_attns, cross_attns = torch_model.LEDDecoder.run(
            self,
            input_ids,
            encoder_hidden_states,
            encoder_attention_mask,
            past_key_values,
            attention_mask,
            inputs_embeds=inputs_embeds,
            head_mask=head_mask,
            cross_attn_head_mask=cross_attn_head_mask,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        cache = tuple(present) if use_cache else None
        if not return_dict:
            return tuple(v for v in (hidden, cache, states, self_attns, cross_attns) if v is not None)
        return BaseModelOutputWithPastAndCrossAttentions(
            last_hidden_state=hidden,
            past_key_values=cache,
            hidden_states=states,
            attentions=self_attns,
            cross_attentions=cross_attns,
        )


class LEDModel(LEDPreTrainedModel):
    _tied_weights_keys = ["decoder.embed_tokens.weight", "encoder.embed_tokens.weight"]

    def __init__(self, config):
        super().__init__(config)
        self.shared = nn.Embedding(config.vocab_size, config.d_model, config.pad_token_id)
        self.encoder = LEDEncoder(config, self.shared)
        self.decoder = LEDDecoder(config, self.shared)
        self.post_init()

    def get_input_embeddings(self):
        return self.shared

    def set_input_embeddings(self, value):
        self.shared = value
        self.encoder.embed_tokens = self.shared
        self.decoder.embed_tokens = self.shared

    def get_encoder(self):
        return self.encoder

    def get_decoder(self):
        return self.decoder

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        decoder_input_ids=None,
        decoder_attention_mask=None,
        head_mask=None,
        decoder_head_mask=None,
        cross_attn_head_mask=None,
        encoder_outputs=None,
        global_attention_mask=None,
        past_key_values=None,
        inputs_embeds=None,
        decoder_inputs_embeds=None,
        use_cache=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        """HF's LEDModel.forward: LEDSeq2SeqModelOutput (decoder + encoder outputs; the decoder reads
        shift_tokens_right(input_ids) when no decoder inputs are given); the decoder's tuple + the encoder's
        without return_dict."""
        cfg = self.config
        output_attentions = _flag(output_attentions, cfg.output_attentions)
        output_hidden_states = _flag(output_hidden_states, cfg.output_hidden_states)
        use_cache = _flag(use_cache, cfg.use_cache)
        return_dict = _flag(return_dict, cfg.use_return_dict)
        if decoder_input_ids is None and decoder_inputs_embeds is None:
            if input_ids is None:
                raise ValueError(
                    "LEDModel needs decoder_input_ids or decoder_inputs_embeds when input_ids is not given "
                    "(they are shift_tokens_right(input_ids) by default)"
                )
            decoder_input_ids = torch_model.shift_tokens_right(
                torch_model._long("input_ids", input_ids, 2), cfg.pad_token_id, cfg.decoder_start_token_id
            )
        if encoder_outputs is None:
            encoder_outputs = self.encoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                global_attention_mask=global_attention_mask,
                head_mask=head_mask,
                inputs_embeds=inputs_embeds,
                output_attentions=output_attentions,
                output_hidden_states=output_hidden_states,
                return_dict=return_dict,
            )
        elif return_dict and not isinstance(encoder_outputs, LEDEncoderBaseModelOutput):
            encoder_outputs = LEDEncoderBaseModelOutput(
                last_hidden_state=encoder_outputs[0],
                hidden_states=encoder_outputs[1] if len(encoder_outputs) > 1 else None,
                attentions=encoder_outputs[2] if len(encoder_outputs) > 2 else None,
                global_attentions=encoder_outputs[3] if len(encoder_outputs) > 3 else None,
            )
        decoder_outputs = self.decoder(
            input_ids=decoder_input_ids,
            attention_mask=decoder_attention_mask,
            encoder_hidden_states=encoder_outputs[0],
            encoder_attention_mask=attention_mask,
            head_mask=decoder_head_mask,
            cross_attn_head_mask=cross_attn_head_mask,
            past_key_values=past_key_values,
            inputs_embeds=decoder_inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=return_dict,
        )
        if not return_dict:
            return decoder_outputs + encoder_outputs
        return LEDSeq2SeqModelOutput(
            last_hidden_state=decoder_outputs.last_hidden_state,
            past_key_values=decoder_outputs.past_key_values,
            decoder_hidden_states=decoder_outputs.hidden_states,
            decoder_attentions=decoder_outputs.attentions,
            cross_attentions=decoder_outputs.cross_attentions,
            encoder_last_hidden_state=encoder_outputs.last_hidden_state,
            encoder_hidden_states=encoder_outputs.hidden_states,
            encoder_attentions=encoder_outputs.attentions,
            encoder_global_attentions=encoder_outputs.global_attentions,
        )


# The keywords a head passes on to LEDModel.forward unchanged (as HF's heads do), return_dict aside
_BASE_KEYWORDS = tuple(inspect.signature(LEDModel.forward).parameters)[1:-1]


def _base_outputs(head, arguments):
    """``head.led(...)``'s LEDSeq2SeqModelOutput for the LEDModel.forward keywords among ``arguments`` (the
    head's forward locals(), after its own changes: labels -> decoder_input_ids, use_cache off for a loss)."""
    return head.led(**{k: arguments[k] for k in _BASE_KEYWORDS if k in arguments}, return_dict=True)


class LEDForConditionalGeneration(LEDPreTrainedModel, GenerationMixin):
    """HF's LEDForConditionalGeneration: LEDModel + the tied LM head + final_logits_bias; ``generate()`` is
    transformers' GenerationMixin (every decoding strategy, GenerationConfig, logits processors)."""

    base_model_prefix = "led"
    _keys_to_ignore_on_load_missing = ["final_logits_bias"]
    _tied_weights_keys = ["decoder.embed_tokens.weight", "encoder.embed_tokens.weight", "lm_head.weight"]

    def __init__(self, config):
        super().__init__(config)
        self.led = LEDModel(config)
        self.register_buffer("final_logits_bias", torch.zeros((1, self.led.shared.num_embeddings)))
        self.lm_head = nn.Linear(config.d_model, self.led.shared.num_embeddings, bias=False)
        self.post_init()

    def get_encoder(self):
        return self.led.get_encoder()

    def get_decoder(self):
        return self.led.get_decoder()

    def get_output_embeddings(self):
        return self.lm_head

    def set_output_embeddings(self, new_embeddings):
        self.lm_head = new_embeddings

    def resize_token_embeddings(self, new_num_tokens=None, pad_to_multiple_of=None, mean_resizing=True):
        """HF's resize (embeddings, tied LM head) plus final_logits_bias: cut, or extended with zeros."""
        new = super().resize_token_embeddings(new_num_tokens, pad_to_multiple_of, mean_resizing)
        n, old = new.weight.shape[0], self.final_logits_bias.shape[-1]
        if n <= old:
            bias = self.final_logits_bias[:, :n]
        else:
            extra = torch.zeros((1, n - old), device=self.final_logits_bias.device, dtype=self.final_logits_bias.dtype)
            bias = torch.cat([self.final_logits_bias, extra], dim=1)
        self.register_buffer("final_logits_bias", bias)
        return new

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        decoder_input_ids=None,
        decoder_attention_mask=None,
        head_mask=None,
        decoder_head_mask=None,
        cross_attn_head_mask=None,
        encoder_outputs=None,
        global_attention_mask=None,
        past_key_values=None,
        inputs_embeds=None,
        decoder_inputs_embeds=None,
        labels=None,
        use_cache=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        """HF's forward: logits (B, T, V) = lm_head(decoder state) + final_logits_bias; with ``labels`` the
        decoder reads shift_tokens_right(labels) unless decoder inputs are given, no cache is returned, and
        ``loss`` is the mean cross-entropy over labels != -100."""
        return_dict = _flag(return_dict, self.config.use_return_dict)
        if labels is not None:
            labels = torch_model._long("labels", labels, 2)
            if use_cache:
                logger.warning("The `use_cache` argument is changed to `False` since `labels` is provided.")
            use_cache = False
            if decoder_input_ids is None and decoder_inputs_embeds is None:
                decoder_input_ids = self.prepare_decoder_input_ids_from_labels(labels)
        outputs = _base_outputs(self, locals())
        logits = self.lm_head(outputs.last_hidden_state) + self.final_logits_bias.to(outputs.last_hidden_state.device)
        loss = None
        if labels is not None:
            if labels.shape != logits.shape[:2]:
                raise ValueError(
                    f"labels shape {tuple(labels.shape)} must equal the decoder's (B, T) {tuple(logits.shape[:2])}"
                )
            loss = torch_model.lm_loss(logits, labels.to(logits.device))
        out = LEDSeq2SeqLMOutput(loss=loss, logits=logits, **torch_model._seq2seq_fields(outputs))
        return out if return_dict else out.to_tuple()

    def prepare_decoder_input_ids_from_labels(self, labels):
        return torch_model.shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)

    @staticmethod
    def _reorder_cache(past_key_values, beam_idx):
        """Beam search: the self-attention caches follow the chosen beams; the cross caches are the same for every
        beam of a row (HF's rule)."""
        return tuple(
            tuple(state.index_select(0, beam_idx.to(state.device)) for state in layer[:2]) + tuple(layer[2:])
            for layer in past_key_values
        )


class LEDForSequenceClassification(LEDPreTrainedModel):
    """HF's LEDForSequenceClassification: the classification head on each row's last eos decoder state."""

    _tied_weights_keys = ["decoder.embed_tokens.weight", "encoder.embed_tokens.weight"]

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        self.led = LEDModel(config)
        self.classification_head = torch_model.LEDClassificationHead(
            config.d_model, config.d_model, config.num_labels, config.classifier_dropout
        )
        self.post_init()

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        decoder_input_ids=None,
        decoder_attention_mask=None,
        head_mask=None,
        decoder_head_mask=None,
        cross_attn_head_mask=None,
        encoder_outputs=None,
        global_attention_mask=None,
        inputs_embeds=None,
        decoder_inputs_embeds=None,
        labels=None,
        use_cache=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        """HF's forward: logits (B, num_labels); the loss follows config.problem_type, set like HF when unset
        (regression for one label, single-label for integer labels, multi-label otherwise)."""
        return_dict = _flag(return_dict, self.config.use_return_dict)
        if labels is not None:
            use_cache = False
        if input_ids is None and inputs_embeds is not None:
            raise NotImplementedError(
                f"Passing input embeddings is currently not supported for {self.__class__.__name__}"
            )
        ids = torch_model._long("input_ids", input_ids, 2)
        if ids is not None:
            torch_model.check_eos_counts(ids, self.config.eos_token_id)
        outputs = _base_outputs(self, locals())
        hidden = outputs.last_hidden_state
        logits = self.classification_head(
            torch_model.last_eos_states(ids.to(hidden.device), hidden, self.config.eos_token_id)
        )
        loss = None
        if labels is not None:
            labels = labels.to(logits.device)
            if self.config.problem_type is None:
                self.config.problem_type = torch_model.problem_type_of(self.config.num_labels, labels)
            loss = torch_model.classification_loss(logits, labels, self.config.problem_type)
        out = LEDSeq2SeqSequenceClassifierOutput(loss=loss, logits=logits, **torch_model._seq2seq_fields(outputs))
        return out if return_dict else out.to_tuple()


class LEDForQuestionAnswering(LEDPreTrainedModel):
    """HF's LEDForQuestionAnswering: start/end logits per decoder position (config.num_labels is set to 2)."""

    _tied_weights_keys = ["decoder.embed_tokens.weight", "encoder.embed_tokens.weight"]

    def __init__(self, config):
        super().__init__(config)
        config.num_labels = 2
        self.num_labels = config.num_labels
        self.led = LEDModel(config)
        self.qa_outputs = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        decoder_input_ids=None,
        decoder_attention_mask=None,
        head_mask=None,
        decoder_head_mask=None,
        cross_attn_head_mask=None,
        encoder_outputs=None,
        global_attention_mask=None,
        start_positions=None,
        end_positions=None,
        inputs_embeds=None,
        decoder_inputs_embeds=None,
        use_cache=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        """HF's forward: start/end logits (B, T); with both positions the loss is the mean of the two
        cross-entropies, positions clamped to [0, T] and T ignored."""
        return_dict = _flag(return_dict, self.config.use_return_dict)
        with_loss = start_positions is not None and end_positions is not None
        if with_loss:
            use_cache = False
        outputs = _base_outputs(self, locals())
        logits = self.qa_outputs(outputs.last_hidden_state)  # (B, T, 2)
        start, end = (x.squeeze(-1).contiguous() for x in logits.split(1, dim=-1))
        loss = None
        if with_loss:
            sp = torch_model._long("start_positions", start_positions).to(start.device)
            ep = torch_model._long("end_positions", end_positions).to(end.device)
            loss = torch_model.qa_loss(start, end, sp, ep)
        out = LEDSeq2SeqQuestionAnsweringModelOutput(
            loss=loss, start_logits=start, end_logits=end, **torch_model._seq2seq_fields(outputs)
        )
        return out if return_dict else out.to_tuple()

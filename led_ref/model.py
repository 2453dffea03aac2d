"""The LED forward pass in NumPy: pure functions over the parameter tree, plus HF-shaped classes.

The math follows HF transformers' ``modeling_led.py`` (4.46.3) exactly; the normative text is
spec/SPEC.md#forward-pass. Parameter tree layout: see ``led_ref.weights`` (HF names without the
``led.`` prefix, numeric parts as list indices). Shapes: B batch, S encoder length, T decoder
length, P cached decoder length, D d_model, H heads, hd head size, x global tokens per row.
"""

import numpy as np

from . import inputs, threads
from .activations import get_activation
from .attention import decoder_attention, longformer_self_attention
from .heads import get_head
from .inputs import shift_tokens_right
from .outputs import (
    BaseModelOutputWithPastAndCrossAttentions,
    LEDEncoderBaseModelOutput,
    LEDSeq2SeqLMOutput,
    LEDSeq2SeqModelOutput,
    LEDSeq2SeqQuestionAnsweringModelOutput,
    LEDSeq2SeqSequenceClassifierOutput,
)
from .scheduling import linear, parallel_linear

__all__ = [
    "shift_tokens_right",
    "layer_norm",
    "feed_forward",
    "encoder_layer",
    "encoder",
    "decoder_layer",
    "decoder",
    "cross_entropy",
    "LEDModel",
    "LEDForConditionalGeneration",
    "LEDForSequenceClassification",
    "LEDForQuestionAnswering",
    "model_class",
]

LAYER_NORM_EPS = 1e-5
FFN_ROWS = 256  # rows per feed-forward chunk: bounds the (rows, ffn_dim) intermediate; one piece of work each


# ----------------------------------------------------------------------------------------------
# pure functions (input rules and checks: led_ref.inputs)


def layer_norm(p, x, eps=LAYER_NORM_EPS):
    """LayerNorm over the last axis: (x - mean) / sqrt(var + eps) * weight + bias (biased variance)."""
    mean = x.mean(axis=-1, keepdims=True)
    centered = x - mean
    var = np.mean(np.square(centered), axis=-1, keepdims=True)
    centered /= np.sqrt(var + x.dtype.type(eps))
    centered *= p["weight"]
    centered += p["bias"]
    return centered


def feed_forward(p, x, act):
    """fc2(act(fc1(x))), in row chunks (spread over led_ref.threads) so the (rows, ffn_dim) intermediate stays
    small; a few rows (decoding) are split by output features instead."""
    lead, dim = x.shape[:-1], x.shape[-1]
    flat = x.reshape(-1, dim)
    if flat.shape[0] <= FFN_ROWS:
        return parallel_linear(p["fc2"], act(parallel_linear(p["fc1"], flat))).reshape(*lead, -1)
    out = np.empty((flat.shape[0], p["fc2"]["weight"].shape[0]), dtype=x.dtype)

    def chunk(rows):
        out[rows] = linear(p["fc2"], act(linear(p["fc1"], flat[rows])))

    threads.parallel_rows(chunk, flat.shape[0], FFN_ROWS)
    return out.reshape(*lead, -1)


def encoder_layer(p, x, mask_kind, window, n_heads, act, output_attentions=False):
    """Post-LN encoder layer: LN(x + attn(x)), then LN(x + ffn(x)) (spec/SPEC.md#encoder-layer).

    Everything after the attention is row-wise, so it runs as one piece per row chunk (led_ref.threads).
    """
    attn, local_probs, global_probs = longformer_self_attention(
        p["self_attn"]["longformer_self_attn"], x, mask_kind, window, n_heads, output_attentions
    )
    dim = x.shape[-1]
    flat, attn = x.reshape(-1, dim), attn.reshape(-1, dim)
    out = np.empty_like(flat)

    def chunk(rows):
        h = layer_norm(p["self_attn_layer_norm"], flat[rows] + linear(p["self_attn"]["output"], attn[rows]))
        out[rows] = layer_norm(p["final_layer_norm"], h + linear(p["fc2"], act(linear(p["fc1"], h))))

    threads.parallel_rows(chunk, flat.shape[0], FFN_ROWS)
    return out.reshape(x.shape), local_probs, global_probs


def _token_embeddings(params):
    if "shared" in params:
        return params["shared"]["weight"]
    return params["encoder"]["embed_tokens"]["weight"]


def _model_dtype(params):
    return _token_embeddings(params).dtype


def _input_embeddings(params, config, input_ids, inputs_embeds, ids_name, embeds_name):
    """Checked ids (or None) and their token embeddings (B, L, D): exactly one of the two inputs."""
    if input_ids is not None and inputs_embeds is not None:
        raise ValueError(f"You cannot specify both {ids_name} and {embeds_name} at the same time")
    if input_ids is None and inputs_embeds is None:
        raise ValueError(f"You have to specify either {ids_name} or {embeds_name}")
    embed = _token_embeddings(params)
    if input_ids is None:
        return None, inputs.embeddings(embeds_name, inputs_embeds, config.d_model, embed.dtype)
    input_ids = inputs.token_ids(ids_name, input_ids, config.vocab_size)
    return input_ids, embed[input_ids]


@threads.in_region
def encoder(
    params,
    config,
    input_ids=None,
    attention_mask=None,
    global_attention_mask=None,
    inputs_embeds=None,
    output_attentions=False,
    output_hidden_states=False,
    layer_callback=None,
):
    """LED encoder (spec/SPEC.md#encoder): merge masks, pad to the window, embed, layers, unpad.

    ``layer_callback(done_layers, n_layers, tokens)``, when given, is called before the first layer and after
    each one (tokens = batch x padded length), so an application can show progress on long inputs.
    Returns LEDEncoderBaseModelOutput with outputs of the caller's length S.
    """
    enc = params["encoder"]
    embed = _token_embeddings(params)
    input_ids, hidden = _input_embeddings(params, config, input_ids, inputs_embeds, "input_ids", "inputs_embeds")
    bsz, seq = hidden.shape[:2]  # hidden: (B, S, D)

    att = (
        np.ones((bsz, seq), np.int64)
        if attention_mask is None
        else inputs.mask("attention_mask", attention_mask, (bsz, seq))
    )
    glob = (
        None
        if global_attention_mask is None
        else inputs.mask(
            "global_attention_mask", global_attention_mask, (bsz, seq), inputs.GLOBAL_ATTENTION_MASK_VALUES
        )
    )
    kind = inputs.merge_masks(att, glob)  # (B, S) MaskKind

    windows = config.layer_attention_windows()
    padded = inputs.encoder_padded_length(seq, max(windows), config.max_encoder_position_embeddings)
    pad_len = padded - seq
    if pad_len:
        pad_rows = np.broadcast_to(embed[config.pad_token_id], (bsz, pad_len, hidden.shape[-1]))
        hidden = np.concatenate([hidden, pad_rows], axis=1)  # (B, S_pad, D)
        kind = np.pad(kind, ((0, 0), (0, pad_len)))

    hidden = hidden + enc["embed_positions"]["weight"][inputs.position_ids(padded)]  # (B, S_pad, D)
    hidden = layer_norm(enc["layernorm_embedding"], hidden)

    act = get_activation(config.activation_function)
    states, local_attns, global_attns = [], [], []
    layers = enc["layers"]
    if layer_callback is not None:
        layer_callback(0, len(layers), bsz * padded)
    for i, layer in enumerate(layers):
        if output_hidden_states:
            states.append(hidden[:, :seq])
        hidden, local_probs, global_probs = encoder_layer(
            layer, hidden, kind, windows[i], config.encoder_attention_heads, act, output_attentions
        )
        if output_attentions:
            local_attns.append(local_probs[:, :, :seq])
            if global_probs is not None:
                global_attns.append(global_probs[:, :, :seq])
        if layer_callback is not None:
            layer_callback(i + 1, len(layers), bsz * padded)
    hidden = hidden[:, :seq]
    if output_hidden_states:
        states.append(hidden)
    return LEDEncoderBaseModelOutput(
        last_hidden_state=hidden,
        hidden_states=tuple(states) if output_hidden_states else None,
        attentions=tuple(local_attns) if output_attentions else None,
        global_attentions=tuple(global_attns) if (output_attentions and global_attns) else None,
    )


def _inverted_mask(mask, dtype, tgt_len):
    """HF _prepare_4d_attention_mask_inverted: (B, src) 0/1 -> additive (B, 1, tgt, src): 1 -> 0, 0 -> finfo.min."""
    expanded = np.broadcast_to(mask[:, None, None, :].astype(dtype), (mask.shape[0], 1, tgt_len, mask.shape[1]))
    inverted = dtype.type(1.0) - expanded
    return np.where(inverted != 0, np.finfo(dtype).min, inverted) * inverted


def _causal_mask(tgt_len, past_len, dtype):
    """(T, P + T): 0 where key <= query position, finfo.min above the diagonal."""
    cols = np.arange(past_len + tgt_len)[None, :]
    rows = np.arange(tgt_len)[:, None] + past_len
    return np.where(cols <= rows, dtype.type(0), np.finfo(dtype).min).astype(dtype)


def _check_past(past_key_values, n_layers, bsz, n_heads, hd):
    if not isinstance(past_key_values, (tuple, list)) or len(past_key_values) != n_layers:
        raise ValueError(f"past_key_values must be a tuple of {n_layers} per-layer tuples (decoder_layers)")
    past_len = None
    for i, layer in enumerate(past_key_values):
        if not isinstance(layer, (tuple, list)) or len(layer) not in (2, 4):
            raise ValueError(f"past_key_values[{i}] must hold 4 arrays (self k, self v, cross k, cross v)")
        for j, arr in enumerate(layer):
            shape = np.shape(arr)
            # cross entries (j >= 2) may hold one row per input, shared by its bsz / rows beams
            rows_ok = shape[:1] == (bsz,) or (j >= 2 and len(shape) == 4 and 0 < shape[0] and bsz % shape[0] == 0)
            if len(shape) != 4 or not rows_ok or shape[1] != n_heads or shape[3] != hd:
                raise ValueError(
                    f"past_key_values[{i}][{j}] must have shape (batch={bsz}, heads={n_heads}, length, "
                    f"head_dim={hd}), got {shape}"
                )
        if len(layer) == 4 and np.shape(layer[2]) != np.shape(layer[3]):
            raise ValueError(f"past_key_values[{i}]: cross-attention key and value shapes differ")
        if np.shape(layer[0]) != np.shape(layer[1]):
            raise ValueError(f"past_key_values[{i}]: self-attention key and value shapes differ")
        if past_len is None:
            past_len = np.shape(layer[0])[2]
        elif np.shape(layer[0])[2] != past_len:
            raise ValueError("past_key_values: every layer must cache the same number of positions")
    return past_len


def decoder_layer(
    p,
    x,
    n_heads,
    act,
    self_mask=None,
    encoder_hidden_states=None,
    cross_mask=None,
    past_key_value=None,
    output_attentions=False,
):
    """Post-LN decoder layer: causal self-attention, cross-attention, feed-forward (spec/SPEC.md#decoder-layer).

    Returns (x, self_probs, cross_probs, present) with present = (self k, self v[, cross k, cross v]).
    """
    self_past = tuple(past_key_value[:2]) if past_key_value is not None else None
    attn, self_probs, present = decoder_attention(
        p["self_attn"],
        x,
        n_heads,
        past_key_value=self_past,
        attention_mask=self_mask,
        output_attentions=output_attentions,
    )
    x = layer_norm(p["self_attn_layer_norm"], x + attn)
    cross_probs = None
    if encoder_hidden_states is not None:
        cross_past = tuple(past_key_value[-2:]) if past_key_value is not None and len(past_key_value) == 4 else None
        attn, cross_probs, cross_present = decoder_attention(
            p["encoder_attn"],
            x,
            n_heads,
            key_value_states=encoder_hidden_states,
            past_key_value=cross_past,
            attention_mask=cross_mask,
            output_attentions=output_attentions,
        )
        x = layer_norm(p["encoder_attn_layer_norm"], x + attn)
        present = present + cross_present
    x = layer_norm(p["final_layer_norm"], x + feed_forward(p, x, act))
    return x, self_probs, cross_probs, present


@threads.in_region(decoding=True)
def decoder(
    params,
    config,
    input_ids=None,
    encoder_hidden_states=None,
    encoder_attention_mask=None,
    decoder_attention_mask=None,
    past_key_values=None,
    inputs_embeds=None,
    use_cache=None,
    output_attentions=False,
    output_hidden_states=False,
):
    """LED decoder with KV cache (spec/SPEC.md#decoder). Returns BaseModelOutputWithPastAndCrossAttentions.

    Masks are HF's additive masks in the model dtype: the causal mask (built only when T > 1;
    a single new token attends to the whole cache and decoder_attention_mask is then unused)
    plus the inverted decoder_attention_mask (length P + T); cross-attention uses the inverted
    encoder_attention_mask. Masked entries get finfo.min, so a fully masked row is uniform, never NaN.
    """
    dec = params["decoder"]
    dtype = _token_embeddings(params).dtype
    n_heads = config.decoder_attention_heads
    hd = config.d_model // n_heads
    use_cache = inputs.flag("use_cache", use_cache, config.use_cache)
    input_ids, hidden = _input_embeddings(
        params, config, input_ids, inputs_embeds, "decoder_input_ids", "decoder_inputs_embeds"
    )
    bsz, tgt = hidden.shape[:2]  # hidden: (B, T, D)
    past_len = 0
    if past_key_values is not None:
        past_len = _check_past(past_key_values, config.decoder_layers, bsz, n_heads, hd)
        past_key_values = [tuple(np.asarray(a, dtype=dtype) for a in layer) for layer in past_key_values]
    inputs.check_decoder_length(past_len, tgt, config.max_decoder_position_embeddings)
    if encoder_hidden_states is not None:
        encoder_hidden_states = inputs.encoder_hidden_states(encoder_hidden_states, bsz, config.d_model)
        encoder_hidden_states = encoder_hidden_states.astype(dtype, copy=False)
        # cached cross-attention keys/values stand for the encoder states: their length must be S
        src = encoder_hidden_states.shape[1]
        for i, layer in enumerate(past_key_values or ()):
            if len(layer) == 4 and layer[2].shape[2] != src:
                raise ValueError(
                    f"past_key_values[{i}] caches cross-attention over {layer[2].shape[2]} encoder positions, but "
                    f"encoder_hidden_states has length {src}: pass the past that was computed for these encoder states"
                )

    self_mask = None
    if decoder_attention_mask is not None:
        decoder_attention_mask = inputs.mask("decoder_attention_mask", decoder_attention_mask, (bsz, past_len + tgt))
    if inputs.decoder_masks_apply(tgt):
        self_mask = np.broadcast_to(_causal_mask(tgt, past_len, dtype), (bsz, 1, tgt, past_len + tgt))
        if decoder_attention_mask is not None:
            with np.errstate(over="ignore"):  # finfo.min + finfo.min = -inf, as in HF
                self_mask = self_mask + _inverted_mask(decoder_attention_mask, dtype, tgt)
    cross_mask = None
    if encoder_hidden_states is not None and encoder_attention_mask is not None:
        enc_mask = inputs.cross_attention_mask(encoder_attention_mask, encoder_hidden_states.shape)
        cross_mask = _inverted_mask(enc_mask, dtype, tgt)

    hidden = hidden + dec["embed_positions"]["weight"][inputs.position_ids(tgt, past_len)]
    hidden = layer_norm(dec["layernorm_embedding"], hidden)

    act = get_activation(config.activation_function)
    states, self_attns, cross_attns, cache = [], [], [], []
    # With a BLAS controller a step runs on led_ref's pool with BLAS at one thread (threads.region(decoding=True)):
    # projections split by output features, cross-attention by input rows / heads. A one-row step (greedy, batch 1)
    # with a cache keeps BLAS's own threads while the machine is quiet (threads.one_row_step: the same results either
    # way).
    with threads.one_row_step(bsz * tgt, past_key_values is not None):
        for i, layer in enumerate(dec["layers"]):
            if output_hidden_states:
                states.append(hidden)
            hidden, self_probs, cross_probs, present = decoder_layer(
                layer,
                hidden,
                n_heads,
                act,
                self_mask=self_mask,
                encoder_hidden_states=encoder_hidden_states,
                cross_mask=cross_mask,
                past_key_value=past_key_values[i] if past_key_values is not None else None,
                output_attentions=output_attentions,
            )
            if use_cache:
                cache.append(present)
            if output_attentions:
                self_attns.append(self_probs)
                cross_attns.append(cross_probs)
    if output_hidden_states:
        states.append(hidden)
    return BaseModelOutputWithPastAndCrossAttentions(
        last_hidden_state=hidden,
        past_key_values=tuple(cache) if use_cache else None,
        hidden_states=tuple(states) if output_hidden_states else None,
        attentions=tuple(self_attns) if output_attentions else None,
        cross_attentions=tuple(cross_attns) if output_attentions else None,
    )


def cross_entropy(logits, labels, ignore_index=-100):
    """Mean cross-entropy over entries whose label != ignore_index (torch CrossEntropyLoss).

    logits (N, C), labels (N,). With no counted entry the result is 0.0 (torch gives NaN).
    """
    keep = labels != ignore_index
    if not np.any(keep):
        return logits.dtype.type(0.0)
    z = logits[keep]
    target = labels[keep]
    m = z.max(axis=-1, keepdims=True)
    log_norm = np.log(np.exp(z - m).sum(axis=-1)) + m[:, 0]
    return (log_norm - z[np.arange(z.shape[0]), target]).mean(dtype=logits.dtype)


# ----------------------------------------------------------------------------------------------
# classes with HF's API


def _wrap_encoder_outputs(encoder_outputs):
    if isinstance(encoder_outputs, LEDEncoderBaseModelOutput):
        return encoder_outputs
    if isinstance(encoder_outputs, np.ndarray):
        return LEDEncoderBaseModelOutput(last_hidden_state=encoder_outputs)
    if isinstance(encoder_outputs, (tuple, list)) and encoder_outputs:
        items = list(encoder_outputs) + [None] * 3
        return LEDEncoderBaseModelOutput(*items[:4])
    raise ValueError(
        "encoder_outputs must be an LEDEncoderBaseModelOutput, a tuple whose first item is the encoder "
        f"last_hidden_state, or an array; got {type(encoder_outputs).__name__}"
    )


class _EncoderFn:
    """``model.get_encoder()``: HF LEDEncoder.forward's signature, returns LEDEncoderBaseModelOutput."""

    def __init__(self, model):
        self._model = model

    def __call__(
        self,
        input_ids=None,
        attention_mask=None,
        global_attention_mask=None,
        head_mask=None,
        inputs_embeds=None,
        output_attentions=False,
        output_hidden_states=False,
        return_dict=True,
    ):
        if head_mask is not None:
            raise ValueError("head_mask is not supported by led-ref (HF 5 removed it); pass None")
        m = self._model
        return encoder(
            m.params,
            m.config,
            input_ids,
            attention_mask,
            global_attention_mask,
            inputs_embeds,
            bool(output_attentions),
            bool(output_hidden_states),
            m.encoder_layer_callback,
        )


class _DecoderFn:
    """``model.get_decoder()``: HF LEDDecoder.forward's signature, returns BaseModelOutputWithPastAndCrossAttentions."""

    def __init__(self, model):
        self._model = model

    def __call__(
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
        output_attentions=False,
        output_hidden_states=False,
        return_dict=True,
    ):
        if head_mask is not None or cross_attn_head_mask is not None:
            raise ValueError("head_mask / cross_attn_head_mask are not supported by led-ref; pass None")
        m = self._model
        return decoder(
            m.params,
            m.config,
            input_ids,
            encoder_hidden_states,
            encoder_attention_mask,
            attention_mask,
            past_key_values,
            inputs_embeds,
            use_cache,
            bool(output_attentions),
            bool(output_hidden_states),
        )


class LEDModel:
    """Bare LED: encoder + decoder, returns LEDSeq2SeqModelOutput (spec/SPEC.md#classes)."""

    head = "base"

    def __init__(self, config, params):
        from .config import as_config
        from .weights import check_params

        config = as_config(config)  # an LEDConfig, a dict, or any object with HF's LEDConfig fields
        check_params(params, config, self.head)
        self.config = config
        self.params = params
        # progress hook for long inputs: layer_callback of ``encoder`` (set by the app layer, None = silent)
        self.encoder_layer_callback = None

    @classmethod
    def from_pretrained(cls, path, dtype=np.float32):
        """Load ``config.json`` + ``model.safetensors`` from a directory (HF save_pretrained layout) or hub id."""
        from .config import LEDConfig
        from .hub import resolve_pretrained_dir
        from .weights import load_params

        directory = resolve_pretrained_dir(path)
        config = LEDConfig.from_pretrained(directory)
        return cls(config, load_params(directory, config, cls.head, dtype=dtype))

    def save_pretrained(self, save_directory):
        from .weights import save_params

        self.config.save_pretrained(save_directory)
        save_params(save_directory, self.params, self.head)

    @property
    def dtype(self):
        return _model_dtype(self.params)

    def get_encoder(self):
        return _EncoderFn(self)

    def get_decoder(self):
        return _DecoderFn(self)

    def _seq2seq(
        self,
        input_ids,
        attention_mask,
        global_attention_mask,
        decoder_input_ids,
        decoder_attention_mask,
        encoder_outputs,
        past_key_values,
        inputs_embeds,
        use_cache,
        output_attentions,
        output_hidden_states,
        decoder_inputs_embeds=None,
    ):
        """The LEDModel.forward computation; returns (encoder output, decoder output)."""
        cfg = self.config
        output_attentions = inputs.flag("output_attentions", output_attentions, False)
        output_hidden_states = inputs.flag("output_hidden_states", output_hidden_states, False)
        if decoder_input_ids is None and decoder_inputs_embeds is None:
            if input_ids is None:
                raise ValueError(
                    "decoder_input_ids is required when input_ids is not given (it defaults to "
                    "shift_tokens_right(input_ids))"
                )
            ids = inputs.token_ids("input_ids", input_ids, cfg.vocab_size)
            decoder_input_ids = shift_tokens_right(ids, cfg.pad_token_id, cfg.decoder_start_token_id)
        if encoder_outputs is None:
            enc = encoder(
                self.params,
                cfg,
                input_ids,
                attention_mask,
                global_attention_mask,
                inputs_embeds,
                output_attentions,
                output_hidden_states,
                self.encoder_layer_callback,
            )
        else:
            enc = _wrap_encoder_outputs(encoder_outputs)
        dec = decoder(
            self.params,
            cfg,
            decoder_input_ids,
            enc.last_hidden_state,
            attention_mask,
            decoder_attention_mask,
            past_key_values,
            decoder_inputs_embeds,
            use_cache,
            output_attentions,
            output_hidden_states,
        )
        return enc, dec

    @staticmethod
    def _fields(enc, dec):
        return dict(
            past_key_values=dec.past_key_values,
            decoder_hidden_states=dec.hidden_states,
            decoder_attentions=dec.attentions,
            cross_attentions=dec.cross_attentions,
            encoder_last_hidden_state=enc.last_hidden_state,
            encoder_hidden_states=enc.hidden_states,
            encoder_attentions=enc.attentions,
            encoder_global_attentions=enc.global_attentions,
        )

    def __call__(
        self,
        input_ids=None,
        attention_mask=None,
        global_attention_mask=None,
        decoder_input_ids=None,
        decoder_attention_mask=None,
        encoder_outputs=None,
        past_key_values=None,
        inputs_embeds=None,
        labels=None,
        use_cache=None,
        output_attentions=False,
        output_hidden_states=False,
        decoder_inputs_embeds=None,
    ):
        if labels is not None:
            raise ValueError("labels are not used by LEDModel (it has no head); use LEDForConditionalGeneration")
        enc, dec = self._seq2seq(
            input_ids,
            attention_mask,
            global_attention_mask,
            decoder_input_ids,
            decoder_attention_mask,
            encoder_outputs,
            past_key_values,
            inputs_embeds,
            use_cache,
            output_attentions,
            output_hidden_states,
            decoder_inputs_embeds,
        )
        return LEDSeq2SeqModelOutput(last_hidden_state=dec.last_hidden_state, **self._fields(enc, dec))

    forward = __call__


class LEDForConditionalGeneration(LEDModel):
    """LED with the LM head: logits = h @ shared.T + final_logits_bias (spec/SPEC.md#lm-head)."""

    head = "lm"

    def __init__(self, config, params):
        super().__init__(config, params)
        self.generation_config = None  # generate() then derives the defaults from config, like HF

    @classmethod
    def from_pretrained(cls, path, dtype=np.float32):
        """As LEDModel.from_pretrained, plus the checkpoint's generation defaults (generation_config.json,
        else config.json) in ``generation_config``, like HF."""
        from .generation import GenerationConfig
        from .hub import resolve_pretrained_dir

        directory = resolve_pretrained_dir(path)
        model = super().from_pretrained(directory, dtype=dtype)
        model.generation_config = GenerationConfig.for_model(directory)
        return model

    def save_pretrained(self, save_directory):
        super().save_pretrained(save_directory)
        if self.generation_config is not None and hasattr(self.generation_config, "save_pretrained"):
            self.generation_config.save_pretrained(save_directory)

    def __call__(
        self,
        input_ids=None,
        attention_mask=None,
        global_attention_mask=None,
        decoder_input_ids=None,
        decoder_attention_mask=None,
        encoder_outputs=None,
        past_key_values=None,
        inputs_embeds=None,
        labels=None,
        use_cache=None,
        output_attentions=False,
        output_hidden_states=False,
        decoder_inputs_embeds=None,
    ):
        cfg = self.config
        if labels is not None:
            labels_arr = np.asarray(labels)
            if labels_arr.ndim != 2:
                raise ValueError(f"labels must have shape (batch, target_length), got {labels_arr.shape}")
            labels_arr = inputs.labels("labels", labels_arr, labels_arr.shape, cfg.vocab_size)
            use_cache = False
            if decoder_input_ids is None and decoder_inputs_embeds is None:
                decoder_input_ids = shift_tokens_right(labels_arr, cfg.pad_token_id, cfg.decoder_start_token_id)
        enc, dec = self._seq2seq(
            input_ids,
            attention_mask,
            global_attention_mask,
            decoder_input_ids,
            decoder_attention_mask,
            encoder_outputs,
            past_key_values,
            inputs_embeds,
            use_cache,
            output_attentions,
            output_hidden_states,
            decoder_inputs_embeds,
        )
        logits = self.lm_logits(dec.last_hidden_state)
        loss = None
        if labels is not None:
            if labels_arr.shape != logits.shape[:2]:
                raise ValueError(
                    f"labels must have shape {logits.shape[:2]} (batch, decoder length), got {labels_arr.shape}"
                )
            loss = cross_entropy(logits.reshape(-1, logits.shape[-1]), labels_arr.reshape(-1))
        return LEDSeq2SeqLMOutput(loss=loss, logits=logits, **self._fields(enc, dec))

    forward = __call__

    def lm_logits(self, hidden):
        """(B, T, D) decoder states -> (B, T, vocab) logits."""
        # vocabulary slices spread over led_ref.threads (the weight read is a decoding step's largest cost)
        return parallel_linear(
            {"weight": self.params["lm_head"]["weight"], "bias": self.params["final_logits_bias"].reshape(-1)}, hidden
        )

    def generate(self, *args, **kwargs):
        from . import generation

        return generation.generate(self, *args, **kwargs)


class LEDForSequenceClassification(LEDModel):
    """LED classification head on the decoder state at the last eos token.

    HF 4.x; spec/SPEC.md#sequence-classification.
    """

    head = "seq_cls"

    def __call__(
        self,
        input_ids=None,
        attention_mask=None,
        global_attention_mask=None,
        decoder_input_ids=None,
        decoder_attention_mask=None,
        encoder_outputs=None,
        past_key_values=None,
        inputs_embeds=None,
        labels=None,
        use_cache=None,
        output_attentions=False,
        output_hidden_states=False,
        decoder_inputs_embeds=None,
    ):
        cfg = self.config
        if input_ids is None:
            raise ValueError("LEDForSequenceClassification needs input_ids (it pools at the eos tokens of input_ids)")
        input_ids = inputs.token_ids("input_ids", input_ids, cfg.vocab_size)
        if labels is not None:
            use_cache = False
        enc, dec = self._seq2seq(
            input_ids,
            attention_mask,
            global_attention_mask,
            decoder_input_ids,
            decoder_attention_mask,
            encoder_outputs,
            past_key_values,
            inputs_embeds,
            use_cache,
            output_attentions,
            output_hidden_states,
            decoder_inputs_embeds,
        )
        hidden = dec.last_hidden_state
        if hidden.shape[1] != input_ids.shape[1]:
            raise ValueError(
                f"decoder length {hidden.shape[1]} must equal input_ids length {input_ids.shape[1]}: the head "
                "pools the decoder state at the eos positions of input_ids"
            )
        last_eos = inputs.eos_positions(input_ids, cfg.eos_token_id)  # (B,)
        pooled = hidden[np.arange(hidden.shape[0]), last_eos]  # (B, D)
        head = self.params["classification_head"]
        logits = linear(head["out_proj"], np.tanh(linear(head["dense"], pooled)))
        loss = None if labels is None else self._loss(logits, labels)
        return LEDSeq2SeqSequenceClassifierOutput(loss=loss, logits=logits, **self._fields(enc, dec))

    forward = __call__

    def _loss(self, logits, labels):
        """HF's problem_type rules (inferred per call; HF also writes it into the config)."""
        cfg = self.config
        labels = np.asarray(labels)
        n = cfg.num_labels
        problem = getattr(cfg, "problem_type", None)
        if problem is None:
            if n == 1:
                problem = "regression"
            elif np.issubdtype(labels.dtype, np.integer):
                problem = "single_label_classification"
            else:
                problem = "multi_label_classification"
        dt = logits.dtype
        if problem == "regression":
            y = labels.astype(dt)
            x = np.squeeze(logits) if n == 1 else logits
            y = np.squeeze(y) if n == 1 else y
            if x.shape != y.shape:
                raise ValueError(f"labels must have shape {x.shape} for regression, got {labels.shape}")
            return np.mean(np.square(x - y), dtype=dt)
        if problem == "single_label_classification":
            flat = labels.reshape(-1)
            flat = inputs.labels("labels", flat, (logits.shape[0],), n)
            return cross_entropy(logits.reshape(-1, n), flat)
        y = labels.astype(dt)
        if y.shape != logits.shape:
            raise ValueError(
                f"labels must have shape {logits.shape} for multi-label classification, got {labels.shape}"
            )
        # BCEWithLogits, stable form: max(x, 0) - x y + log(1 + exp(-|x|))
        return np.mean(np.maximum(logits, 0) - logits * y + np.log1p(np.exp(-np.abs(logits))), dtype=dt)


class LEDForQuestionAnswering(LEDModel):
    """LED span head: start/end logits over the decoder positions (spec/SPEC.md#question-answering)."""

    head = "qa"

    def __call__(  # type: ignore[override]  # HF's argument order: start/end positions before use_cache
        self,
        input_ids=None,
        attention_mask=None,
        global_attention_mask=None,
        decoder_input_ids=None,
        decoder_attention_mask=None,
        encoder_outputs=None,
        past_key_values=None,
        inputs_embeds=None,
        start_positions=None,
        end_positions=None,
        use_cache=None,
        output_attentions=False,
        output_hidden_states=False,
        decoder_inputs_embeds=None,
        labels=None,
    ):
        if labels is not None:
            raise ValueError("LEDForQuestionAnswering takes start_positions and end_positions, not labels")
        if start_positions is not None and end_positions is not None:
            use_cache = False
        enc, dec = self._seq2seq(
            input_ids,
            attention_mask,
            global_attention_mask,
            decoder_input_ids,
            decoder_attention_mask,
            encoder_outputs,
            past_key_values,
            inputs_embeds,
            use_cache,
            output_attentions,
            output_hidden_states,
            decoder_inputs_embeds,
        )
        logits = linear(self.params["qa_outputs"], dec.last_hidden_state)  # (B, T, 2)
        start_logits = np.ascontiguousarray(logits[..., 0])
        end_logits = np.ascontiguousarray(logits[..., 1])
        loss = None
        if start_positions is not None and end_positions is not None:
            bsz, length = start_logits.shape
            pos = []
            for name, value in (("start_positions", start_positions), ("end_positions", end_positions)):
                arr = np.asarray(value)
                if arr.ndim > 1:
                    arr = arr.squeeze(-1)
                if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer) or arr.shape != (bsz,):
                    raise ValueError(f"{name} must be integers of shape ({bsz},), got {arr.dtype} {arr.shape}")
                # positions outside the sequence are clamped to `length` and then ignored, like HF
                pos.append(np.clip(arr.astype(np.int64), 0, length))
            start_loss = cross_entropy(start_logits, pos[0], ignore_index=length)
            end_loss = cross_entropy(end_logits, pos[1], ignore_index=length)
            loss = (start_loss + end_loss) / start_logits.dtype.type(2)
        return LEDSeq2SeqQuestionAnsweringModelOutput(
            loss=loss, start_logits=start_logits, end_logits=end_logits, **self._fields(enc, dec)
        )

    forward = __call__  # type: ignore[assignment]  # the __call__ above


def model_class(head):
    """The led_ref class of a head key of ``led_ref.heads`` ("lm" -> LEDForConditionalGeneration)."""
    return globals()[get_head(head).numpy_class]

"""led_ref.export.hf_models: one test per HF API item of the "switch from transformers" issue, each against HF's
own LED classes on the same weights (float32, within led_ref.tolerances: HF's decoder cannot run in float64) or
against HF's documented behaviour; checks of led-ref's classes alone run in float64. Tiny configs: seconds."""

import pytest

transformers = pytest.importorskip("transformers", reason="needs the hf extra (transformers 4.46)")
torch = pytest.importorskip("torch", reason="needs the export extra (torch)")

import numpy as np

import led_ref
from led_ref.export import hf_models as H
from led_ref.export import torch_model
from led_ref.tolerances import relative_error, tolerance

pytestmark = [
    pytest.mark.hf,
    pytest.mark.filterwarnings("ignore:The `transformers.LEDForSequenceClassification` class is deprecated"),
]

# windows 4 and 8: per-layer windows, one-sided 2 and 4; HF pads 11 tokens to 16
CFG = dict(
    vocab_size=60,
    d_model=16,
    encoder_layers=2,
    decoder_layers=2,
    encoder_attention_heads=4,
    decoder_attention_heads=4,
    encoder_ffn_dim=24,
    decoder_ffn_dim=24,
    attention_window=[4, 8],
    max_encoder_position_embeddings=64,
    max_decoder_position_embeddings=32,
    dropout=0.0,
)
HEADS = {
    "LEDModel": "base",
    "LEDForConditionalGeneration": "lm",
    "LEDForSequenceClassification": "seq_cls",
    "LEDForQuestionAnswering": "qa",
}


def pair(name, seed=0, dtype=torch.float32, **overrides):
    """(ours, HF's) class ``name`` with the same weights, in eval mode. HF's decoder cannot run in float64
    (its causal mask overflows), so comparisons with HF are float32, within led_ref.tolerances; checks of ours
    alone use float64."""
    kw = {**CFG, "num_labels": 3, **overrides}
    torch.manual_seed(seed)
    ours = getattr(H, name)(H.LEDConfig(**kw)).to(dtype).eval()
    theirs = getattr(transformers, name)(transformers.LEDConfig(**kw)).to(dtype).eval()
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


def batch(seed=0, length=11, vocab=60):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab, (3, length), generator=g)
    ids[:, -1] = 2  # an eos per row (sequence classification)
    mask = torch.ones_like(ids, dtype=torch.bool)
    mask[1, -4:] = False
    glob = torch.zeros_like(ids)
    glob[1, [0, 3]] = 1
    glob[2, 5] = 1
    return ids, mask, glob


def assert_outputs_close(a, b, dtype="float32", where=""):
    """Every tensor of two (nested) outputs within led_ref.tolerances' bound for ``dtype``, same structure."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.shape == b.shape, where
        finite = torch.isfinite(b)
        assert torch.equal(torch.isfinite(a), finite) and torch.equal(a[~finite], b[~finite]), where  # -inf scores
        err = relative_error(a[finite].detach().numpy(), b[finite].detach().numpy())
        assert err <= tolerance(dtype), f"{where}: relative error {err:.2e}"
    elif isinstance(a, (tuple, list)):
        assert isinstance(b, (tuple, list)) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_outputs_close(x, y, dtype, f"{where}[{i}]")
    else:
        assert a == b, where


# -- config ----------------------------------------------------------------------------------------------------
def test_config_has_hfs_fields_defaults_and_aliases():
    ours, theirs = H.LEDConfig(), transformers.LEDConfig()
    assert isinstance(ours, transformers.PretrainedConfig) and ours.model_type == "led"
    assert ours.to_dict() == theirs.to_dict()
    assert ours.to_json_string() == theirs.to_json_string()
    c = H.LEDConfig(hidden_size=32, num_attention_heads=8, initializer_range=0.5, attention_probs_dropout_prob=0.2)
    assert (c.d_model, c.encoder_attention_heads, c.init_std, c.attention_dropout) == (32, 8, 0.5, 0.2)
    assert H.LEDConfig(**CFG).layer_attention_windows() == [4, 8]


def test_config_converts_to_and_from_led_refs(tmp_path):
    core = led_ref.LEDConfig(**CFG, num_labels=3, my_field="x")
    hf = H.LEDConfig.from_led_ref(core)
    assert hf.num_labels == 3 and hf.my_field == "x" and hf.attention_window == [4, 8]
    assert hf.to_led_ref() == core
    hf.save_pretrained(tmp_path)
    assert led_ref.LEDConfig.from_pretrained(tmp_path).d_model == 16  # each reads the other's config.json
    assert H.LEDConfig.from_pretrained(tmp_path).to_dict() == transformers.LEDConfig.from_pretrained(tmp_path).to_dict()
    model = H.LEDModel(core)  # led_ref's config is accepted and converted
    assert isinstance(model.config, H.LEDConfig)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(my_custom_field=[1, 2]),  # unknown: accepted and kept (HF)
        dict(use_return_dict=False),  # a read-only property: AttributeError (HF)
        dict(label2id=[1]),  # ValueError (HF)
        dict(id2label="x"),  # ValueError (HF)
        dict(problem_type="ranking"),  # ValueError (HF)
        dict(torch_dtype="float16"),  # converted to torch.float16 (HF)
        dict(torch_dtype="nonsense"),  # AttributeError (HF)
        dict(name_or_path=3),  # kept as the string "3" (HF)
    ],
)
def test_config_keywords_are_accepted_or_refused_like_hf(kwargs):
    def outcome(cls):
        try:
            c = cls(**kwargs)
        except Exception as e:  # the kind of error is what is compared
            return type(e)
        key = next(iter(kwargs))
        return getattr(c, key if key != "name_or_path" else "_name_or_path")

    ours, theirs = outcome(H.LEDConfig), outcome(transformers.LEDConfig)
    assert ours == theirs
    core = outcome(led_ref.LEDConfig)  # the core config (no transformers import) behaves the same
    assert core == theirs


def test_a_model_refuses_a_config_it_cannot_run_with():
    with pytest.raises(ValueError, match="d_model=15"):
        H.LEDModel(H.LEDConfig(**{**CFG, "d_model": 15}))
    with pytest.raises(ValueError, match="attention_window"):
        H.LEDForConditionalGeneration(H.LEDConfig(**{**CFG, "attention_window": 5}))


# -- initialisation --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(HEADS))
def test_a_fresh_model_has_hfs_initialisation_statistics(name):
    kw = {**CFG, "d_model": 64, "encoder_ffn_dim": 128, "decoder_ffn_dim": 128, "init_std": 0.05, "num_labels": 3}
    torch.manual_seed(0)
    ours = getattr(H, name)(H.LEDConfig(**kw))
    torch.manual_seed(0)
    theirs = getattr(transformers, name)(transformers.LEDConfig(**kw))
    stats = {}
    for model in (ours, theirs):
        for pname, p in model.named_parameters():
            p = p.detach()
            if pname.endswith("bias") or "norm" in pname:
                # zero biases, LayerNorm (1, 0): exactly HF's
                expected = 1.0 if ("norm" in pname and pname.endswith("weight")) else 0.0
                assert torch.all(p == expected), (name, pname)
            elif p.numel() >= 4096:
                stats.setdefault(pname, []).append((float(p.mean()), float(p.std())))
    for pname, ((m1, s1), (m2, s2)) in stats.items():
        assert abs(s1 / 0.05 - 1) < 0.05 and abs(s2 / 0.05 - 1) < 0.05, pname
        assert abs(m1) < 0.01 and abs(m2) < 0.01, pname
    shared = ours.get_input_embeddings().weight
    assert torch.count_nonzero(shared[ours.config.pad_token_id]) == 0  # the padding row


# -- forward contract ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(HEADS))
def test_forward_equals_hfs_with_every_output_head_masks_and_bool_masks(name):
    ours, theirs = pair(name)
    ids, mask, glob = batch()
    g = torch.Generator().manual_seed(1)
    kw = dict(
        input_ids=ids,
        attention_mask=mask,
        global_attention_mask=glob,
        head_mask=torch.rand(2, 4, generator=g),
        decoder_head_mask=torch.rand(2, 4, generator=g),
        cross_attn_head_mask=torch.rand(2, 4, generator=g),
        output_attentions=True,
        output_hidden_states=True,
    )
    if name != "LEDForSequenceClassification":
        kw["decoder_input_ids"] = ids[:, :6]
        kw["decoder_attention_mask"] = torch.ones_like(ids[:, :6])
        kw["decoder_attention_mask"][0, 2] = 0
    a, b = ours(**kw), theirs(**kw)
    assert type(a) is type(b) and list(a.keys()) == list(b.keys())
    assert a.encoder_global_attentions is not None
    assert_outputs_close(a.to_tuple(), b.to_tuple(), where=name)
    assert_outputs_close(ours(**kw, return_dict=False), theirs(**kw, return_dict=False), where=name + " tuple")


def test_config_output_flags_take_effect_after_construction():
    ours, theirs = pair("LEDModel")
    ids, mask, glob = batch()
    for model in (ours, theirs):
        model.config.output_attentions = True
        model.config.output_hidden_states = True
    a, b = (
        ours(ids, attention_mask=mask, global_attention_mask=glob),
        theirs(ids, attention_mask=mask, global_attention_mask=glob),
    )
    assert a.encoder_global_attentions is not None and a.decoder_hidden_states is not None
    assert_outputs_close(a.to_tuple(), b.to_tuple())


def test_inputs_embeds_and_encoder_outputs_equal_the_ids_path():
    ours, theirs = pair("LEDForConditionalGeneration")
    ours64 = pair("LEDForConditionalGeneration", dtype=torch.float64)[0]
    ids, mask, glob = batch()
    dec = ids[:, :5]
    emb = ours64.get_input_embeddings()
    want = ours64(ids, attention_mask=mask, global_attention_mask=glob, decoder_input_ids=dec).logits
    got = ours64(
        inputs_embeds=emb(ids), attention_mask=mask, global_attention_mask=glob, decoder_inputs_embeds=emb(dec)
    )
    assert_outputs_close(got.logits, want, "float64")
    enc = ours64.get_encoder()(ids, attention_mask=mask, global_attention_mask=glob)
    again = ours64(encoder_outputs=(enc.last_hidden_state,), attention_mask=mask, decoder_input_ids=dec).logits
    assert_outputs_close(again, want, "float64")
    emb = ours.get_input_embeddings()
    a = ours(inputs_embeds=emb(ids), attention_mask=mask, global_attention_mask=glob, decoder_inputs_embeds=emb(dec))
    b = theirs(inputs_embeds=emb(ids), attention_mask=mask, global_attention_mask=glob, decoder_inputs_embeds=emb(dec))
    assert_outputs_close(a.logits, b.logits)
    with pytest.raises(ValueError, match="both input_ids and inputs_embeds"):
        ours(input_ids=ids, inputs_embeds=emb(ids), decoder_input_ids=dec)


def test_cached_steps_equal_one_shot_and_hfs_legacy_past():
    ours, theirs = pair("LEDForConditionalGeneration")
    ours64 = pair("LEDForConditionalGeneration", dtype=torch.float64)[0]
    ids, mask, glob = batch()
    dec = torch.randint(3, 60, (3, 6))
    full = ours64(ids, attention_mask=mask, global_attention_mask=glob, decoder_input_ids=dec).logits
    first = ours64(ids, attention_mask=mask, global_attention_mask=glob, decoder_input_ids=dec[:, :4], use_cache=True)
    enc = (first.encoder_last_hidden_state,)
    past = first.past_key_values
    assert len(past) == 2 and all(len(layer) == 4 and layer[0].shape == (3, 4, 4, 4) for layer in past)
    for t in (4, 5):
        step = ours64(
            encoder_outputs=enc, attention_mask=mask, decoder_input_ids=dec[:, t : t + 1], past_key_values=past
        )
        assert_outputs_close(step.logits[:, 0], full[:, t], "float64")
        hf_past = [[x.float() for x in layer] for layer in past]
        kw = dict(encoder_outputs=(enc[0].float(),), attention_mask=mask, decoder_input_ids=dec[:, t : t + 1])
        assert_outputs_close(
            ours(**kw, past_key_values=hf_past).to_tuple(), theirs(**kw, past_key_values=hf_past).to_tuple()
        )
        past = step.past_key_values
    beams = torch.tensor([2, 0, 0])
    reordered = ours._reorder_cache(past, beams)
    assert torch.equal(reordered[0][0], past[0][0][beams]) and reordered[0][2] is past[0][2]  # cross caches kept


def test_the_decoder_runs_alone_like_hfs():
    ours, theirs = pair("LEDModel")
    ids = torch.randint(3, 60, (3, 7))
    mask = torch.ones_like(ids)
    mask[0, 2:4] = 0
    a = ours.get_decoder()(ids, attention_mask=mask, use_cache=True, output_hidden_states=True, output_attentions=True)
    b = theirs.get_decoder()(
        ids, attention_mask=mask, use_cache=True, output_hidden_states=True, output_attentions=True
    )
    assert all(len(layer) == 2 for layer in a.past_key_values)  # self-attention caches only
    assert_outputs_close(a.to_tuple(), b.to_tuple())
    decoder = pair("LEDModel", dtype=torch.float64)[0].get_decoder()
    first = decoder(ids, attention_mask=mask, use_cache=True)
    nxt = torch.randint(3, 60, (3, 3))
    full_mask = torch.cat([mask, torch.ones_like(nxt)], 1)
    c = decoder(nxt, attention_mask=full_mask, past_key_values=first.past_key_values)
    d = decoder(torch.cat([ids, nxt], 1), attention_mask=full_mask)
    assert_outputs_close(c.last_hidden_state, d.last_hidden_state[:, -3:], "float64")


def test_head_masks_are_applied_and_differentiable():
    ours, _ = pair("LEDModel")
    ids, mask, glob = batch()
    head_mask = torch.ones(2, 4)
    head_mask[0, 1] = 0
    head_mask.requires_grad_(True)
    out = ours(
        ids,
        attention_mask=mask,
        global_attention_mask=glob,
        decoder_input_ids=ids[:, :4],
        head_mask=head_mask,
        decoder_head_mask=head_mask,
        cross_attn_head_mask=head_mask,
        output_attentions=True,
    )
    out.last_hidden_state.sum().backward()
    assert head_mask.grad is not None and torch.count_nonzero(head_mask.grad) > 0
    for attns in (out.encoder_attentions, out.encoder_global_attentions, out.decoder_attentions, out.cross_attentions):
        assert torch.count_nonzero(attns[0][:, 1]) == 0 and torch.count_nonzero(attns[0][:, 0]) > 0
    plain = ours(ids, attention_mask=mask, global_attention_mask=glob, decoder_input_ids=ids[:, :4])
    assert not torch.allclose(plain.last_hidden_state, out.last_hidden_state)
    with pytest.raises(ValueError, match="head_mask"):
        ours(ids, decoder_input_ids=ids[:, :4], head_mask=torch.ones(3, 4))


def test_bool_masks_equal_integer_masks():
    ours, _ = pair("LEDForConditionalGeneration")
    ids, mask, glob = batch()
    a = ours(ids, attention_mask=mask, global_attention_mask=glob.bool(), decoder_input_ids=ids[:, :4]).logits
    b = ours(ids, attention_mask=mask.long(), global_attention_mask=glob, decoder_input_ids=ids[:, :4]).logits
    assert torch.equal(a, b)


# -- from_pretrained / save_pretrained --------------------------------------------------------------------------
@pytest.mark.parametrize("safe", [True, False])
def test_checkpoints_load_both_ways(tmp_path, safe):
    ours, theirs = pair("LEDForConditionalGeneration")
    ids, mask, glob = batch()
    kw = dict(attention_mask=mask, global_attention_mask=glob, decoder_input_ids=ids[:, :4])
    ours.save_pretrained(tmp_path / "ours", safe_serialization=safe)
    loaded, info = transformers.LEDForConditionalGeneration.from_pretrained(tmp_path / "ours", output_loading_info=True)
    assert info["missing_keys"] == info["unexpected_keys"] == [] and loaded.dtype == torch.float32
    assert_outputs_close(loaded.eval()(ids, **kw).logits, ours(ids, **kw).logits)
    theirs.save_pretrained(tmp_path / "hf", safe_serialization=safe)
    back = H.LEDForConditionalGeneration.from_pretrained(tmp_path / "hf", torch_dtype=torch.float64)
    assert back.dtype == torch.float64 and not back.training
    assert_outputs_close(back(ids, **kw).logits.float(), theirs(ids, **kw).logits)
    # led_ref's own checkpoint reader (NumPy) reads it too
    assert led_ref.LEDForConditionalGeneration.from_pretrained(tmp_path / "ours").config.d_model == 16


def test_a_checkpoint_of_another_head_reports_its_keys(tmp_path):
    """HF's loading info: the missing head is reported (and freshly initialised), never silently half-loaded."""
    base, _ = pair("LEDModel")
    base.save_pretrained(tmp_path)
    model, info = H.LEDForSequenceClassification.from_pretrained(tmp_path, output_loading_info=True)
    assert sorted(info["missing_keys"]) == [
        "classification_head.dense.bias",
        "classification_head.dense.weight",
        "classification_head.out_proj.bias",
        "classification_head.out_proj.weight",
    ]
    assert torch.equal(model.led.shared.weight, base.shared.weight)  # the base part is loaded
    cls, _ = pair("LEDForSequenceClassification")
    cls.save_pretrained(tmp_path / "cls")
    _, info = H.LEDModel.from_pretrained(tmp_path / "cls", output_loading_info=True)
    assert info["missing_keys"] == [] and any(k.startswith("classification_head") for k in info["unexpected_keys"])


def test_mismatched_head_sizes_need_ignore_mismatched_sizes(tmp_path):
    cls, _ = pair("LEDForSequenceClassification")  # 3 labels
    cls.save_pretrained(tmp_path)
    with pytest.raises(RuntimeError, match="size mismatch"):
        H.LEDForSequenceClassification.from_pretrained(tmp_path, num_labels=5)
    model, info = H.LEDForSequenceClassification.from_pretrained(
        tmp_path, num_labels=5, ignore_mismatched_sizes=True, output_loading_info=True
    )
    assert model.config.num_labels == 5 and model.classification_head.out_proj.weight.shape == (5, 16)
    assert sorted(k for k, *_ in info["mismatched_keys"]) == [
        "classification_head.out_proj.bias",
        "classification_head.out_proj.weight",
    ]


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(num_beams=3),  # a config field: updates the loaded config (HF)
        dict(my_setting=1),  # unknown: HF hands it to the class's __init__, which refuses it (TypeError)
        dict(torch_dtype="float64"),
        dict(torch_dtype="float17"),  # refused (HF: no such torch dtype)
    ],
)
def test_from_pretrained_keywords_are_accepted_or_refused_like_hf(tmp_path, kwargs):
    pair("LEDForConditionalGeneration")[0].save_pretrained(tmp_path)

    def outcome(cls):
        try:
            model = cls.from_pretrained(tmp_path, **kwargs)
        except Exception as e:  # the kind of error is what is compared
            return type(e)
        return model.config.num_beams, getattr(model.config, "my_setting", None), model.dtype

    assert outcome(H.LEDForConditionalGeneration) == outcome(transformers.LEDForConditionalGeneration)
    with pytest.raises(TypeError, match="unexpected keyword"):
        H.LEDModel(H.LEDConfig(**CFG))(torch.ones(1, 4, dtype=torch.long), not_an_argument=1)  # as HF's forward


def test_from_pretrained_with_config_and_subfolder(tmp_path):
    ours, _ = pair("LEDForConditionalGeneration")
    ours.save_pretrained(tmp_path / "sub")
    model = H.LEDForConditionalGeneration.from_pretrained(tmp_path, subfolder="sub")
    assert torch.equal(model.lm_head.weight, ours.lm_head.weight)
    no_checkpoint = H.LEDForConditionalGeneration.from_pretrained(
        None, config=ours.config, state_dict=ours.state_dict()
    )
    assert torch.equal(no_checkpoint.lm_head.weight, ours.lm_head.weight)


# -- embeddings, resize, tying ----------------------------------------------------------------------------------
def test_embeddings_get_set_and_resize():
    model, _ = pair("LEDForConditionalGeneration")
    shared = model.get_input_embeddings()
    assert model.get_output_embeddings().weight is shared.weight  # tied
    assert model.led.encoder.embed_tokens is shared and model.led.decoder.embed_tokens is shared
    model.final_logits_bias.fill_(0.5)
    new = model.resize_token_embeddings(70)
    assert new.weight.shape == (70, 16) and model.config.vocab_size == 70
    assert model.final_logits_bias.shape == (1, 70)
    assert torch.all(model.final_logits_bias[:, :60] == 0.5) and torch.all(model.final_logits_bias[:, 60:] == 0)
    assert model.lm_head.weight is model.led.shared.weight
    ids = torch.randint(3, 70, (2, 9))
    assert model(ids, decoder_input_ids=ids[:, :3]).logits.shape == (2, 3, 70)
    model.resize_token_embeddings(50)
    assert model.final_logits_bias.shape == (1, 50)
    replacement = torch.nn.Embedding(50, 16, padding_idx=1)
    model.led.set_input_embeddings(replacement)
    assert model.led.encoder.embed_tokens is replacement and model.led.decoder.embed_tokens is replacement


# -- training ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reentrant", [True, False])
def test_gradient_checkpointing_through_hfs_hook_keeps_the_gradients(reentrant):
    model, _ = pair("LEDForConditionalGeneration", dtype=torch.float64, dropout=0.1, attention_dropout=0.1)
    ids, mask, glob = batch()
    labels = torch.randint(3, 60, (3, 5))
    grads = []
    for on in (False, True):
        if on:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": reentrant})
            assert model.is_gradient_checkpointing and model.led.encoder.gradient_checkpointing
            assert model.led.encoder._gradient_checkpointing_func.keywords == {"use_reentrant": reentrant}
        model.train()
        model.zero_grad()
        torch.manual_seed(3)
        out = model(ids, attention_mask=mask, global_attention_mask=glob, labels=labels, use_cache=True)
        assert out.past_key_values is None  # labels (and checkpointing in training) turn the cache off
        out.loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    model.gradient_checkpointing_disable()
    assert not model.is_gradient_checkpointing
    assert grads[0].keys() == grads[1].keys()
    for n in grads[0]:
        assert_outputs_close(grads[0][n], grads[1][n], "float64", n)


@pytest.mark.parametrize("name", ["LEDForSequenceClassification", "LEDForQuestionAnswering"])
def test_head_losses_equal_hfs(name):
    ours, theirs = pair(name)
    ids, mask, glob = batch()
    if name == "LEDForQuestionAnswering":
        kw = dict(start_positions=torch.tensor([1, 4, 20]), end_positions=torch.tensor([3, 9, 2]))
    else:
        kw = dict(labels=torch.tensor([0, 2, 1]))
    a = ours(ids, attention_mask=mask, global_attention_mask=glob, **kw)
    b = theirs(ids, attention_mask=mask, global_attention_mask=glob, **kw)
    assert_outputs_close(a.loss, b.loss)
    if name == "LEDForSequenceClassification":
        assert ours.config.problem_type == theirs.config.problem_type == "single_label_classification"
        with pytest.raises(ValueError, match="eos"):
            ours(ids[:, :-1])  # rows without an eos token


# -- generate ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(max_new_tokens=8),
        dict(num_beams=3, max_new_tokens=8, num_return_sequences=2, length_penalty=0.5),
        dict(num_beams=4, num_beam_groups=2, diversity_penalty=0.5, max_new_tokens=6),
        dict(penalty_alpha=0.6, top_k=4, max_new_tokens=6),
        dict(max_new_tokens=6, no_repeat_ngram_size=2, repetition_penalty=1.3, min_new_tokens=4),
    ],
    ids=["greedy", "beam", "group_beam", "contrastive", "processors"],
)
def test_generate_equals_hfs(kwargs):
    ours, theirs = pair("LEDForConditionalGeneration", seed=2)
    ids, mask, glob = batch(seed=4)
    a = ours.generate(
        ids, attention_mask=mask, global_attention_mask=glob, **kwargs, return_dict_in_generate=True, output_scores=True
    )
    b = theirs.generate(
        ids, attention_mask=mask, global_attention_mask=glob, **kwargs, return_dict_in_generate=True, output_scores=True
    )
    assert torch.equal(a.sequences, b.sequences)
    assert_outputs_close(a.scores, b.scores)


def test_generate_reads_the_generation_config_like_hf(tmp_path):
    ours, _ = pair("LEDForConditionalGeneration", seed=2)
    ours.generation_config.num_beams = 3
    ours.generation_config.max_length = 7
    ours.save_pretrained(tmp_path)
    model = H.LEDForConditionalGeneration.from_pretrained(tmp_path)
    assert model.generation_config.num_beams == 3
    hf = transformers.LEDForConditionalGeneration.from_pretrained(tmp_path)
    ids, mask, _ = batch(seed=5)
    out = model.generate(ids, attention_mask=mask)
    assert out.shape[1] <= 7 and torch.equal(out, hf.generate(ids, attention_mask=mask))


@pytest.mark.filterwarnings("ignore:`pad_token_id` should be positive")  # HF's own test sets -1 the same way
def test_a_continued_generation_equals_an_uninterrupted_one():
    """HF's test_generate_continue_from_past_key_values scenario: a decoder prompt whose mask has zeros, generation
    continued from the returned cache (the caller re-pads the mask); sequences and caches agree exactly."""
    model, _ = pair("LEDForConditionalGeneration", seed=2, dtype=torch.float64)
    model.generation_config.pad_token_id = model.generation_config.eos_token_id = -1  # never stop early
    model.generation_config.forced_eos_token_id = None
    ids, mask, glob = batch(seed=6)
    dec = torch.randint(3, 60, (3, 5))
    dec_mask = torch.ones_like(dec)
    dec_mask[0, 1] = dec_mask[2, 3] = 0
    kw = dict(attention_mask=mask, do_sample=False, return_dict_in_generate=True)
    full = model.generate(ids, decoder_input_ids=dec, decoder_attention_mask=dec_mask, max_new_tokens=4, **kw)
    part = model.generate(ids, decoder_input_ids=dec, decoder_attention_mask=dec_mask, max_new_tokens=3, **kw)
    seq = part.sequences
    repadded = torch.nn.functional.pad(dec_mask, (0, seq.shape[1] - dec_mask.shape[1]), value=1)
    cont = model.generate(
        ids,
        decoder_input_ids=seq,
        decoder_attention_mask=repadded,
        past_key_values=part.past_key_values,
        max_new_tokens=1,
        **kw,
    )
    assert torch.equal(full.sequences, cont.sequences)
    assert_outputs_close(full.past_key_values, cont.past_key_values, "float64")


def test_generate_on_the_class_hierarchy_hf_checks():
    assert issubclass(H.LEDForConditionalGeneration, transformers.GenerationMixin)
    assert "GenerationMixin" in str(H.LEDForConditionalGeneration.__bases__)
    assert issubclass(H.LEDModel, transformers.PreTrainedModel) and issubclass(H.LEDEncoder, H.LEDPreTrainedModel)
    assert H.LEDForConditionalGeneration.can_generate() and not H.LEDModel.can_generate()
    assert not H.LEDModel._supports_sdpa  # claims no more than HF's LED


# -- torch_model's own classes ----------------------------------------------------------------------------------
@pytest.mark.parametrize("config_class", [transformers.LEDConfig, H.LEDConfig])
def test_torch_model_classes_build_from_a_transformers_config(config_class):
    config = config_class(**CFG)
    model = torch_model.LEDForConditionalGeneration(config)
    assert [layer.self_attn.longformer_self_attn.w for layer in model.led.encoder.layers] == [2, 4]
    ids = torch.randint(3, 60, (2, 9))
    assert model(input_ids=ids, decoder_input_ids=ids[:, :3]).logits.shape == (2, 3, 60)
    theirs = transformers.LEDForConditionalGeneration(transformers.LEDConfig(**CFG)).eval()
    theirs.load_state_dict(model.state_dict(), strict=False)
    np.testing.assert_allclose(
        model.eval()(input_ids=ids, decoder_input_ids=ids[:, :3]).logits.detach().numpy(),
        theirs(ids, decoder_input_ids=ids[:, :3]).logits.detach().numpy(),
        atol=2e-5,
    )

"""led_ref.testing: the conformance kit's library side (needs the ``test`` extra: hypothesis).

Check any LED implementation against led-ref:

- ``strategies``: hypothesis strategies for valid configs, encoder inputs (lengths around the window; right, left,
  both-sided, inner and mixed padding; masks that disagree with the pad ids both ways; 0/1/many/all/non-prefix
  global tokens), decoder inputs and cached prefixes up to the config's decoder positions, labels and tokenizer
  texts;
- ``reference_outputs(config, params, inputs)``: led-ref's HF-named outputs (float64 oracle);
- ``assert_matches_reference(candidate_outputs, reference_outputs, dtype)``: the project's one error metric and
  tolerance table (``led_ref.tolerances``); the AssertionError names output, index and error;
- ``cases`` / ``boundary_cases`` / ``candidate_inputs`` / ``save_case`` / ``load_case``: the properties
  ``led-ref verify`` runs; ``coverage``: what a run's cases drew.

A ``python:module:function`` candidate of ``led-ref verify`` is ``function(config, params, inputs) -> dict``:
``config`` an ``LEDConfig`` (led-ref's functions also take a dict of its fields or any object with HF's LEDConfig
fields, e.g. HF's own or a vendored copy's: ``led_ref.config.as_config``; a vendored led-ref older than that
converts with ``its_LEDConfig.from_dict(config.to_dict())``); ``params`` a flat dict of NumPy arrays with the HF
state-dict names of ``LEDForConditionalGeneration`` (``led.encoder.layers.0.self_attn.longformer_self_attn.query.
weight``, ..., ``lm_head.weight``, ``final_logits_bias``) in the dtype under test; ``inputs`` HF forward keyword
arguments (``input_ids``, ``attention_mask``, ``global_attention_mask``, ``decoder_input_ids``,
``past_key_values``, ``labels``, ``use_cache``, ``output_attentions``); it returns HF-named outputs
(``encoder_last_hidden_state``, ``logits``, ``past_key_values``, ``encoder_attentions``, ... , ``loss``) as
arrays / tuples of arrays. ``reference_candidate`` is led-ref itself under that contract.
"""

from . import strategies
from .oracle import (
    ContractError,
    MismatchError,
    assert_matches_reference,
    build_cache,
    check_contract,
    compare_outputs,
    flatten_outputs,
    hf_defined,
    hf_state_dict,
    params_tree,
    reference_candidate,
    reference_outputs,
)
from .properties import (
    FFN_REGIMES,
    OUTPUT_KEYS,
    OUTPUT_PROPERTY,
    PROPERTIES,
    Case,
    boundary_cases,
    candidate_inputs,
    case_params,
    cases,
    load_case,
    save_case,
)

__all__ = [
    "strategies",
    "ContractError",
    "MismatchError",
    "assert_matches_reference",
    "build_cache",
    "check_contract",
    "compare_outputs",
    "flatten_outputs",
    "hf_defined",
    "hf_state_dict",
    "params_tree",
    "reference_candidate",
    "reference_outputs",
    "FFN_REGIMES",
    "OUTPUT_KEYS",
    "OUTPUT_PROPERTY",
    "PROPERTIES",
    "Case",
    "boundary_cases",
    "candidate_inputs",
    "case_params",
    "cases",
    "load_case",
    "save_case",
]

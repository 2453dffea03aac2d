"""Property: ``generate()`` of led_ref.export.hf_models (transformers' GenerationMixin on led-ref's torch graph)
gives the NumPy reference's tokens on drawn inputs -- greedy, beam search, sampling and beam sampling.

Sampling: HF draws with ``torch.multinomial`` on torch's RNG, the reference with NumPy's; the two generators
cannot give the same numbers. What is compared is what sampling means: with the *same uniform draws* both must
pick the same tokens, i.e. their sampling distributions (logits, processors, warpers) agree. So the test routes
HF's ``torch.multinomial`` through the reference's own draw (led_ref.generation.processors.draw_tokens, fed by a
NumPy generator seeded like the reference's). Both models run in float64, so no draw lands on a bin edge that
the two differ about."""

from unittest import mock

import numpy as np
import pytest

transformers = pytest.importorskip("transformers", reason="needs the hf extra (transformers 4.46)")
torch = pytest.importorskip("torch", reason="needs the export extra (torch)")

from hypothesis import given, settings
from hypothesis import strategies as st

from led_ref.export import hf_models as H
from led_ref.export.torch_model import state_dict_from_params
from led_ref.generation.processors import draw_tokens
from tests.testlib import tiny_model

pytestmark = pytest.mark.hf

_MODELS = {}


def models(seed):
    """(NumPy reference, hf_models class) with the same float64 weights (TINY: windows 4 and 6)."""
    if seed not in _MODELS:
        ref = tiny_model("lm", seed=seed)
        model = H.LEDForConditionalGeneration(H.LEDConfig.from_led_ref(ref.config)).double().eval()
        model.load_state_dict(state_dict_from_params(ref.params, "lm"))
        _MODELS[seed] = ref, model
    return _MODELS[seed]


def numpy_multinomial(rng):
    """torch.multinomial(probs, n) (without replacement) drawn by the reference's draw_tokens from ``rng``."""

    def multinomial(probs, num_samples, replacement=False, generator=None):
        assert not replacement and generator is None
        return torch.from_numpy(draw_tokens(probs.detach().to(torch.float64).numpy(), num_samples, rng))

    return multinomial


@st.composite
def encoder_inputs(draw):
    batch = draw(st.integers(1, 3))
    length = draw(st.integers(1, 13))
    ids = np.array(
        draw(st.lists(st.lists(st.integers(3, 39), min_size=length, max_size=length), min_size=batch, max_size=batch)),
        dtype=np.int64,
    )
    lengths = [draw(st.integers(1, length)) for _ in range(batch)]
    mask = (np.arange(length)[None, :] < np.array(lengths)[:, None]).astype(np.int64)
    ids[mask == 0] = 1  # right padding with the pad id
    glob = (
        np.array(
            draw(
                st.lists(st.lists(st.integers(0, 1), min_size=length, max_size=length), min_size=batch, max_size=batch)
            ),
            dtype=np.int64,
        )
        * mask
    )
    return ids, mask, glob


DECODING = st.one_of(
    st.fixed_dictionaries({}),
    st.fixed_dictionaries(
        {
            "num_beams": st.integers(2, 3),
            "length_penalty": st.sampled_from([0.5, 1.0, 2.0]),
            "early_stopping": st.sampled_from([True, False, "never"]),
            "no_repeat_ngram_size": st.sampled_from([0, 2]),
        }
    ),
    st.fixed_dictionaries(
        {
            "do_sample": st.just(True),
            "temperature": st.sampled_from([0.7, 1.0, 1.5]),
            "top_k": st.sampled_from([0, 5, 50]),
            "top_p": st.sampled_from([0.8, 1.0]),
        }
    ),
    st.fixed_dictionaries({"do_sample": st.just(True), "num_beams": st.just(2), "top_k": st.sampled_from([0, 7])}),
)


@settings(max_examples=30)
@given(
    inputs=encoder_inputs(),
    decoding=DECODING,
    max_new_tokens=st.integers(1, 9),
    model_seed=st.sampled_from([3, 4]),
    seed=st.integers(0, 2**32 - 1),
)
def test_generate_gives_the_reference_tokens(inputs, decoding, max_new_tokens, model_seed, seed):
    ref, model = models(model_seed)
    ids, mask, glob = inputs
    kw = dict(decoding, max_new_tokens=max_new_tokens)
    sampling = decoding.get("do_sample", False)
    want = ref.generate(
        ids, attention_mask=mask, global_attention_mask=glob, **kw, **({"seed": seed} if sampling else {})
    )
    with mock.patch.object(torch, "multinomial", numpy_multinomial(np.random.default_rng(seed))):
        got = model.generate(
            torch.from_numpy(ids),
            attention_mask=torch.from_numpy(mask),
            global_attention_mask=torch.from_numpy(glob),
            **kw,
        )
    np.testing.assert_array_equal(got.numpy(), want)


def test_the_sampling_route_is_a_real_check():
    """The patched draw decides the tokens: two seeds give different samples, one seed the same ones twice."""
    ref, model = models(3)
    ids = np.full((2, 6), 7, dtype=np.int64)
    kw = dict(do_sample=True, max_new_tokens=8, top_k=0, temperature=2.0)
    runs = []
    for seed in (1, 2, 1):
        with mock.patch.object(torch, "multinomial", numpy_multinomial(np.random.default_rng(seed))):
            runs.append(model.generate(torch.from_numpy(ids), **kw).numpy())
        np.testing.assert_array_equal(runs[-1], ref.generate(ids, **kw, seed=seed))
    assert np.array_equal(runs[0], runs[2]) and not np.array_equal(runs[0], runs[1])

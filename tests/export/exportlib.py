"""Helpers shared by the export tests."""

import numpy as np

from led_ref.export.ort import DeviceTensor
from tests.testlib import TINY_EXPORT, tiny_checkpoint


def make_checkpoint(directory, head, seed=0, **overrides):
    """A seeded random checkpoint of the export tests' model (TINY_EXPORT) in ``directory``; (config, params)."""
    return tiny_checkpoint(directory, head, seed, base=TINY_EXPORT, **overrides)


def same_tokens(plain, bound):
    """An ORT model without and with IO binding generate the same tokens (greedy and beam 3), and the bound one keeps
    its cache as device tensors between steps."""
    assert not plain.io_binding and bound.io_binding
    ids = np.random.default_rng(3).integers(3, 50, size=(3, 19)).astype(np.int64)
    mask = np.ones_like(ids)
    mask[2, 8:] = 0
    glob = np.zeros_like(ids)
    glob[:, 0] = 1
    for beams in (1, 3):
        a = plain.generate(ids, attention_mask=mask, global_attention_mask=glob, max_new_tokens=10, num_beams=beams)
        b = bound.generate(ids, attention_mask=mask, global_attention_mask=glob, max_new_tokens=10, num_beams=beams)
        assert a.shape[1] > 2
        np.testing.assert_array_equal(a, b)
    # the cache stays an OrtValue between steps: fed back as it is, cross entries reused without a copy
    h, m = bound.encode(ids, mask, glob)
    _, past = bound.decode(ids[:, :2], h, m)
    assert all(isinstance(t, DeviceTensor) for layer in past for t in layer)
    _, past2 = bound.decode(ids[:, 2:3], h, m, past)
    assert isinstance(past2[0][0], DeviceTensor) and past2[0][0].shape[2] == 3 and past2[0][2] is past[0][2]
    lp, _ = plain.decode(ids[:, 2:3], h, m, plain.decode(ids[:, :2], h, m)[1])
    lb, _ = bound.decode(ids[:, 2:3], h, m, past)
    np.testing.assert_array_equal(lp, lb)

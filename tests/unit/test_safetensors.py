"""led_ref.safetensors: format compatibility, round trips, and malformed-file errors."""

import json
import os
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from hypothesis.extra import numpy as hnp

from led_ref import safetensors as st
from tests.testlib import FIXTURES

DTYPES = [
    np.float64,
    np.float32,
    np.float16,
    np.int64,
    np.int32,
    np.int16,
    np.int8,
    np.uint64,
    np.uint32,
    np.uint16,
    np.uint8,
    np.bool_,
]


def raw_file(path, header, data=b"", pad=True):
    """Write a safetensors file byte by byte (header dict or raw bytes) for error tests."""
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return path


# -- compatibility with files written by the safetensors library (via HF save_pretrained) --
@pytest.mark.parametrize("name", ["lm", "lm_untied", "seq_cls", "qa"])
def test_reads_hf_written_float32_file(name):
    tensors = st.load_file(os.path.join(FIXTURES, name, "model.safetensors"))
    ref = np.load(os.path.join(FIXTURES, name + ".npz"))
    assert tensors and set(tensors) <= set(ref.files)
    for key, value in tensors.items():
        assert value.dtype == np.float32
        np.testing.assert_array_equal(value, ref[key], err_msg=key)
    assert st.load_metadata(os.path.join(FIXTURES, name, "model.safetensors")) == {"format": "pt"}


def test_reads_hf_written_fp16_file_as_float16():
    tensors = st.load_file(os.path.join(FIXTURES, "lm_fp16", "model.safetensors"))
    ref = np.load(os.path.join(FIXTURES, "lm_fp16.npz"))
    for key, value in tensors.items():
        assert value.dtype == np.float16
        np.testing.assert_array_equal(value.astype(np.float32), ref[key], err_msg=key)


def test_reads_hf_written_bf16_file_as_exact_float32():
    path = os.path.join(FIXTURES, "lm_bf16", "model.safetensors")
    entries, _, _ = st.read_header(path)
    assert {e["dtype"] for e in entries.values()} == {"BF16"}
    tensors = st.load_file(path)
    ref = np.load(os.path.join(FIXTURES, "lm_bf16.npz"))
    for key, value in tensors.items():
        assert value.dtype == np.float32
        np.testing.assert_array_equal(value, ref[key], err_msg=key)
        # bf16 values have zero low halves
        assert not (value.view(np.uint32) & 0xFFFF).any()


def test_bf16_bit_decoding_known_values(tmp_path):
    bits = np.array([0x3F80, 0xC000, 0x0000, 0x8000, 0x7F80, 0xFF80, 0x4049, 0x0001], dtype="<u2")
    path = raw_file(
        tmp_path / "b.safetensors", {"x": {"dtype": "BF16", "shape": [8], "data_offsets": [0, 16]}}, bits.tobytes()
    )
    x = st.load_file(path)["x"]
    expected = np.array([1.0, -2.0, 0.0, -0.0, np.inf, -np.inf, 3.140625, 9.183549615799121e-41], np.float32)
    np.testing.assert_array_equal(x, expected)
    assert np.signbit(x[3])


def test_bf16_encode_round_to_nearest_even():
    x = np.array([1.0, 1.00390625, 1.01171875, 1.0 + 2**-9, -3.5, np.inf], np.float32)
    # 1.00390625 = 1 + 2^-8 lies exactly between two bf16 values -> ties to even (1.0)
    got = st.bf16_bits_to_float32(st.float32_to_bf16_bits(x))
    np.testing.assert_array_equal(got, np.array([1.0, 1.0, 1.015625, 1.0, -3.5, np.inf], np.float32))
    assert np.isnan(st.bf16_bits_to_float32(st.float32_to_bf16_bits(np.array([np.nan], np.float32))))[0]


def test_writer_layout_matches_reference(tmp_path):
    path = tmp_path / "w.safetensors"
    st.save_file({"b": np.ones((2, 3), np.float16), "a": np.arange(3, dtype=np.int64)}, path, {"format": "pt"})
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    assert n % 8 == 0
    text = raw[8 : 8 + n].decode()
    assert text.startswith('{"__metadata__":{"format":"pt"},') and text == text.rstrip() + " " * (
        len(text) - len(text.rstrip())
    )
    header = json.loads(text)
    # 8-byte dtype first, so every tensor is aligned to its itemsize
    assert header["a"] == {"dtype": "I64", "shape": [3], "data_offsets": [0, 24]}
    assert header["b"] == {"dtype": "F16", "shape": [2, 3], "data_offsets": [24, 36]}
    assert len(raw) == 8 + n + 36
    assert raw[8 + n : 8 + n + 24] == np.arange(3, dtype="<i8").tobytes()


def test_big_endian_and_non_contiguous_inputs(tmp_path):
    a = np.arange(12, dtype=">f4").reshape(3, 4)
    b = np.arange(20, dtype=np.float64).reshape(4, 5)[:, ::2]
    path = tmp_path / "x.safetensors"
    st.save_file({"a": a, "b": b}, path)
    out = st.load_file(path)
    np.testing.assert_array_equal(out["a"], a)
    np.testing.assert_array_equal(out["b"], b)
    assert out["a"].dtype == np.float32 and out["a"].dtype.isnative


def test_load_subset_and_missing_name(tmp_path):
    path = tmp_path / "x.safetensors"
    st.save_file({"a": np.zeros(2, np.float32), "b": np.ones(3, np.float32)}, path)
    assert list(st.load_file(path, names=["b"])) == ["b"]
    with pytest.raises(KeyError, match="'c'"):
        st.load_file(path, names=["c"])


def test_empty_file_ok(tmp_path):
    path = tmp_path / "e.safetensors"
    st.save_file({}, path)
    assert st.load_file(path) == {} and st.load_metadata(path) == {}


@settings(max_examples=60)
@given(
    hst.dictionaries(
        hst.text(hst.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8).filter(
            lambda s: s != "__metadata__"
        ),
        hst.sampled_from(DTYPES).flatmap(
            lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5))
        ),
        max_size=5,
    ),
    hst.one_of(hst.none(), hst.dictionaries(hst.text(max_size=5), hst.text(max_size=5), max_size=3)),
)
def test_round_trip_hypothesis(tensors, metadata):
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "r.safetensors")
        st.save_file(tensors, path, metadata)
        out = st.load_file(path)
        assert st.load_metadata(path) == (metadata or {})
    assert set(out) == set(tensors)
    for k, v in tensors.items():
        assert out[k].dtype == v.dtype and out[k].shape == v.shape
        np.testing.assert_array_equal(out[k], v)
        # bitwise equal (NaN payloads and -0.0 included)
        assert out[k].tobytes() == np.ascontiguousarray(v).tobytes()


# -- writer errors -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "tensors, metadata, exc, word",
    [
        ({"x": np.zeros(2, np.complex64)}, None, TypeError, "complex64"),
        ({"x": np.array(["a"], dtype=object)}, None, TypeError, "'x'"),
        ({"x": [1.0, 2.0]}, None, TypeError, "numpy.ndarray"),
        ({1: np.zeros(2)}, None, TypeError, "names must be str"),
        ({"__metadata__": np.zeros(2)}, None, ValueError, "reserved"),
        ({"x": np.zeros(2)}, {"k": 1}, TypeError, "metadata"),
    ],
)
def test_save_file_errors(tmp_path, tensors, metadata, exc, word):
    with pytest.raises(exc, match=word):
        st.save_file(tensors, tmp_path / "x.safetensors", metadata)


# -- malformed files -----------------------------------------------------------------------
def ok_entry(begin=0, end=8, dtype="F32", shape=(2,)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": [begin, end]}


@pytest.mark.parametrize(
    "header, data, word",
    [
        ({"x": ok_entry()}, b"\0" * 4, "outside the 4-byte data buffer"),  # truncated data
        ({"x": ok_entry(dtype="F8_E4M3")}, b"\0" * 8, "unsupported dtype 'F8_E4M3'"),
        ({"x": ok_entry(dtype="Q4")}, b"\0" * 8, "unsupported dtype"),
        ({"x": ok_entry(shape=(3,))}, b"\0" * 8, "needs 12"),
        ({"x": ok_entry(shape=(-2,))}, b"\0" * 8, "shape"),
        ({"x": ok_entry(shape=(2.0,))}, b"\0" * 8, "shape"),
        ({"x": {**ok_entry(), "shape": "2"}}, b"\0" * 8, "shape"),
        ({"x": ok_entry(begin=8, end=0)}, b"\0" * 8, "data_offsets"),
        ({"x": ok_entry(begin=-8, end=0)}, b"\0" * 8, "data_offsets"),
        ({"x": {**ok_entry(), "data_offsets": [0]}}, b"\0" * 8, "data_offsets must be two ints"),
        ({"x": {"dtype": "F32", "shape": [2]}}, b"\0" * 8, "exactly dtype, shape, data_offsets"),
        ({"x": ok_entry(), "y": ok_entry(4, 12)}, b"\0" * 12, "overlaps"),
        ({"x": ok_entry(), "y": ok_entry(0, 8)}, b"\0" * 8, "overlaps"),
        ({"x": ok_entry(), "y": ok_entry(12, 20)}, b"\0" * 20, "gap"),
        ({"x": ok_entry()}, b"\0" * 16, "data buffer is 16 bytes but the tensors cover 8"),
        ({"x": ok_entry(end=2**62, shape=(2**60,))}, b"\0" * 8, "outside"),  # huge: no allocation
        ({"__metadata__": {"a": 1}, "x": ok_entry()}, b"\0" * 8, "__metadata__"),
        ({"__metadata__": ["a"]}, b"", "__metadata__"),
        ({"x": 3}, b"", "exactly dtype"),
    ],
)
def test_malformed_header_entries(tmp_path, header, data, word):
    path = raw_file(tmp_path / "bad.safetensors", header, data)
    with pytest.raises(ValueError, match="not a valid safetensors file") as info:
        st.load_file(path)
    assert word in str(info.value)
    assert str(path) in str(info.value)


def test_file_shorter_than_header_length_field(tmp_path):
    path = tmp_path / "t.safetensors"
    path.write_bytes(b"\x10\x00\x00")
    with pytest.raises(ValueError, match="shorter than the 8-byte header length"):
        st.load_file(path)


def test_header_length_past_end_of_file(tmp_path):
    path = tmp_path / "t.safetensors"
    path.write_bytes(struct.pack("<Q", 1000) + b"{}")
    with pytest.raises(ValueError, match="runs past the end of the file"):
        st.load_file(path)


def test_absurd_header_length_is_refused_before_reading(tmp_path):
    path = tmp_path / "t.safetensors"
    path.write_bytes(struct.pack("<Q", 2**63 + 5) + b"{}      ")
    with pytest.raises(ValueError, match="exceeds the 100000000-byte limit"):
        st.load_file(path)


def test_truncated_real_file(tmp_path):
    raw = open(os.path.join(FIXTURES, "lm", "model.safetensors"), "rb").read()
    for cut in (5, 100, len(raw) // 2, len(raw) - 1):
        path = tmp_path / f"cut{cut}.safetensors"
        path.write_bytes(raw[:cut])
        with pytest.raises(ValueError, match="not a valid safetensors file"):
            st.load_file(path)


@pytest.mark.parametrize(
    "header, word",
    [
        (b"{not json}", "not valid JSON"),
        (b"\xff\xfe{}", "not valid JSON"),
        (b"[1, 2]", "start with '{'"),
        (b'{"x": 1, "x": 2}', "duplicate key 'x'"),
        (b'  {"x": 1}', "start with '{'"),
        (b'"str"', "start with '{'"),
        (b'{"x": ' + b"[" * 100000 + b"]" * 100000 + b"}", "RecursionError"),
    ],
)
def test_bad_header_json(tmp_path, header, word):
    path = raw_file(tmp_path / "j.safetensors", header)
    with pytest.raises(ValueError, match="not a valid safetensors file") as info:
        st.load_file(path)
    assert word in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        st.load_file(tmp_path / "nope.safetensors")

"""The torch-free pytorch_model.bin reader (led_ref/torch_pickle.py): equal to torch.load on what torch writes,
and hostile archives (forbidden globals, out-of-range views, damaged zips) refused with the file named."""

import os
import sys
import zipfile

import numpy as np
import pytest

from led_ref import torch_pickle
from led_ref.weights import load_checkpoint, load_state_dict
from tests.testlib import FIXTURES

BIN = os.path.join(FIXTURES, "lm_bin", "pytorch_model.bin")


def _tuple(values):
    return b"(" + b"".join(b"I%d\n" % v for v in values) + b"t"


def state_pickle(entries, extra=b""):
    """A hand-assembled data.pkl (no torch needed): {name: (key, storage class, numel, offset, size, stride)}, each
    an ``_rebuild_tensor_v2`` call on a persistent storage reference, as torch.save writes it."""
    out = [b"\x80\x02}("]
    for name, (key, cls, numel, offset, size, stride) in entries.items():
        out += [
            b"V" + name.encode() + b"\n",
            b"ctorch._utils\n_rebuild_tensor_v2\n(",
            b"(Vstorage\nctorch\n" + cls.encode() + b"\nV" + key.encode() + b"\nVcpu\nI%d\ntQ" % numel,
            b"I%d\n" % offset,
            _tuple(size),
            _tuple(stride),
            b"I00\nccollections\nOrderedDict\n)RtR",
        ]
    out += [extra, b"u."]
    return b"".join(out)


def write_archive(path, pkl, storages, byteorder=b"little"):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/byteorder", byteorder)
        for key, raw in storages.items():
            z.writestr(f"archive/data/{key}", raw)
    return str(path)


def test_fixture_loads_without_torch_bit_exact_to_hf_state_dict(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # importing torch now fails: the reader must not need it
    state = load_state_dict(BIN)
    ref = np.load(os.path.join(FIXTURES, "lm.npz"))
    assert set(state) >= set(ref.files) and len(state) > 50
    for key in ref.files:
        assert state[key].dtype == ref[key].dtype, key
        np.testing.assert_array_equal(state[key], ref[key], err_msg=key)
    config, params = load_checkpoint(os.path.dirname(BIN), "lm")
    assert params["shared"]["weight"].shape == (config.vocab_size, config.d_model)


@pytest.mark.export
def test_equal_to_torch_load_for_every_dtype_and_view(tmp_path):
    torch = pytest.importorskip("torch")
    base = torch.arange(48, dtype=torch.float32).reshape(6, 8) / 7
    state = {
        "f32": base,
        "f64": base.double(),
        "f16": base.half(),
        "bf16": base.bfloat16(),
        "i64": torch.arange(5),
        "i32": torch.arange(5, dtype=torch.int32),
        "i8": torch.arange(-3, 3, dtype=torch.int8),
        "u8": torch.arange(7, dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "transposed": base.t(),
        "slice": base[2:5, 1::3],
        "tied": base,
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 4),
    }
    path = tmp_path / "pytorch_model.bin"
    torch.save(state, path)
    got = torch_pickle.load(path)
    want = torch.load(path, weights_only=True)
    assert set(got) == set(want)
    for name, t in want.items():
        expected = (t.float() if t.dtype == torch.bfloat16 else t).contiguous().numpy()
        assert got[name].dtype == expected.dtype and got[name].shape == expected.shape, name
        assert got[name].flags.c_contiguous and got[name].flags.writeable, name
        np.testing.assert_array_equal(got[name], expected, err_msg=name)
    assert not np.shares_memory(got["f32"], got["tied"])  # fresh arrays, as before
    # and the HF-written fixture equals torch.load of it
    want = torch.load(BIN, weights_only=True)
    got = torch_pickle.load(BIN)
    assert set(got) == set(want)
    for name, t in want.items():
        assert got[name].dtype == t.numpy().dtype
        np.testing.assert_array_equal(got[name], t.numpy(), err_msg=name)


def test_hand_built_archive_views_and_big_endian(tmp_path):
    data = np.arange(12, dtype=np.float32)
    entries = {
        "whole": ("0", "FloatStorage", 12, 0, (3, 4), (4, 1)),
        "strided": ("0", "FloatStorage", 12, 1, (2, 3), (1, 4)),  # a transposed slice at an offset
        "bf16": ("1", "BFloat16Storage", 2, 0, (2,), (1,)),
    }
    bf16 = np.array([1.5, -2.25], np.float32).view(np.uint32) >> 16
    got = torch_pickle.load(
        write_archive(
            tmp_path / "le.bin", state_pickle(entries), {"0": data.tobytes(), "1": bf16.astype("<u2").tobytes()}
        )
    )
    np.testing.assert_array_equal(got["whole"], data.reshape(3, 4))
    np.testing.assert_array_equal(got["strided"], np.array([[1, 5, 9], [2, 6, 10]], np.float32))
    np.testing.assert_array_equal(got["bf16"], np.array([1.5, -2.25], np.float32))
    assert got["bf16"].dtype == np.float32
    big = torch_pickle.load(
        write_archive(
            tmp_path / "be.bin",
            state_pickle(entries),
            {"0": data.astype(">f4").tobytes(), "1": bf16.astype(">u2").tobytes()},
            byteorder=b"big",
        )
    )
    for name in got:
        assert big[name].dtype.isnative
        np.testing.assert_array_equal(big[name], got[name], err_msg=name)


def test_forbidden_global_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    evil = b"Vx\ncos\nsystem\n(V" + f"touch {marker}".encode() + b"\ntR"
    path = write_archive(tmp_path / "evil.bin", state_pickle({}, extra=evil), {})
    with pytest.raises(ValueError, match=r"evil\.bin: .*global os\.system.*refused"):
        torch_pickle.load(path)
    assert not marker.exists()
    # the same for a global reached through STACK_GLOBAL (protocol 4) and through builtins
    for module, name in (("builtins", "eval"), ("torch", "load"), ("numpy", "frombuffer")):
        pkl = (
            b"\x80\x04}(Vx\n\x8c"
            + bytes([len(module)])
            + module.encode()
            + b"\x8c"
            + bytes([len(name)])
            + name.encode()
            + b"\x93)Ru."
        )
        path = write_archive(tmp_path / "evil2.bin", pkl, {})
        with pytest.raises(ValueError, match=rf"evil2\.bin: .*global {module}\.{name}"):
            torch_pickle.load(path)


def test_pickle_of_arbitrary_objects_refused_via_load_state_dict(tmp_path):
    d = tmp_path / "evil"
    d.mkdir()
    write_archive(d / "pytorch_model.bin", b"\x80\x02cposix\ngetcwd\n)R.", {})
    with pytest.raises(ValueError, match=r"pytorch_model\.bin: .*global posix\.getcwd"):
        load_state_dict(d)


@pytest.mark.parametrize(
    "entry, message",
    [
        (("0", "FloatStorage", 12, 10, (3,), (1,)), "reaches element 12, beyond its storage's 12 elements"),
        (("0", "FloatStorage", 12, 0, (4, 4), (4, 1)), "reaches element 15"),
        (("0", "FloatStorage", 12, 0, (2, 2), (20, 1)), "reaches element 21"),
        (("0", "FloatStorage", 12, 13, (0,), (1,)), "storage offset 13 is beyond"),
        (("0", "FloatStorage", 12, 0, (2**40, 2**40), (0, 0)), "expanded tensors are not supported"),
        (("0", "FloatStorage", 12, 0, (0, 2**62, 2**62), (1, 1, 1)), "dimension past its storage"),
        (("0", "FloatStorage", 12, 0, (3,), (1, 1)), "different lengths"),
        (("0", "FloatStorage", 99, 0, (3,), (1,)), "holds 48 bytes; its 99 float32 elements need 396"),
        (("7", "FloatStorage", 12, 0, (3,), (1,)), "storage record 'archive/data/7' is missing"),
        (("0", "ComplexFloatStorage", 12, 0, (3,), (1,)), "global torch.ComplexFloatStorage"),
    ],
)
def test_views_beyond_the_storage_are_refused_before_building(tmp_path, entry, message):
    path = write_archive(tmp_path / "bad.bin", state_pickle({"w": entry}), {"0": np.zeros(12, np.float32).tobytes()})
    with pytest.raises(ValueError, match=r"bad\.bin") as e:
        torch_pickle.load(path)
    assert message in str(e.value)
    if "elements" in message and "storage record" not in message and "holds" not in message:
        assert "tensor 'w'" in str(e.value)


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "not_zip", "legacy"])
def test_damaged_archive_names_the_file(tmp_path, damage):
    raw = open(BIN, "rb").read()
    path = tmp_path / "pytorch_model.bin"
    if damage == "truncate":
        raw = raw[: len(raw) // 2]
    elif damage == "flip":  # a byte inside a storage record: the zip CRC catches it
        i = raw.index(b"pytorch_model/data/1") + 200
        raw = raw[:i] + bytes([raw[i] ^ 0xFF]) + raw[i + 1 :]
    elif damage == "empty":
        raw = b""
    elif damage == "not_zip":
        raw = b"<html>not found</html>"
    else:  # the pre-1.6 format starts with a pickled magic number
        raw = b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19." + raw[:64]
    path.write_bytes(raw)
    with pytest.raises(ValueError, match=str(path).replace(".", r"\.")) as e:
        load_state_dict(path)
    if damage == "legacy":
        assert "legacy" in str(e.value) and "safetensors" in str(e.value)

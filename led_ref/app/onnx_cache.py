"""``--backend onnx`` on a checkpoint directory: export it once into a user cache and reuse it (optimum's
``export=True``).

The cache entry of a checkpoint is ``<cache root>/<fingerprint>``, the fingerprint a hash of what the export
reads (config.json, the weights files, generation_config.json and the tokenizer files it copies) and of what
writes it (led-ref's and torch's versions, the opset): a changed checkpoint or exporter gets a new entry, an
unchanged one finds its export. The cache root is ``$LED_REF_ONNX_CACHE``, else ``$XDG_CACHE_HOME/led-ref/onnx``,
else ``~/.cache/led-ref/onnx``: never inside the installed package.

An entry is exported into a temporary directory beside it and renamed into place once complete, with a manifest
(``led-ref-cache.json``: every file's size, mtime and sha256) written last. An entry whose manifest is missing or
whose files do not match it (an interrupted export, a truncated or altered file) is exported again. Processes
that export the same checkpoint at once (Ray actors on one machine) take turns on a lock file, so it is exported
once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time

__all__ = ["CACHE_ENV", "MANIFEST", "cache_root", "is_export_dir", "checkpoint_fingerprint", "onnx_export_dir"]

CACHE_ENV = "LED_REF_ONNX_CACHE"
MANIFEST = "led-ref-cache.json"
CACHE_FORMAT = 1  # bump when an entry's layout changes: older entries are then never found
_CHUNK = 1 << 22


def cache_root() -> str:
    """Where exports are cached: $LED_REF_ONNX_CACHE, else $XDG_CACHE_HOME/led-ref/onnx, else
    ~/.cache/led-ref/onnx."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(os.path.abspath(base), "led-ref", "onnx")


def is_export_dir(path) -> bool:
    """True for a directory written by ``led-ref export`` (it holds encoder_model.onnx or model.onnx)."""
    from led_ref.export.files import ENCODER_FILE, MODEL_FILE

    return any(os.path.isfile(os.path.join(path, f)) for f in (ENCODER_FILE, MODEL_FILE))


def _sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _checkpoint_files(model_dir) -> list[str]:
    """The files of ``model_dir`` that the export reads or copies, sorted by name."""
    from led_ref.export.onnx_export import COPIED_FILES
    from led_ref.weights import _weights_files

    _, weights, index = _weights_files(model_dir)
    names = {os.path.basename(p) for p in weights}
    if index is not None:
        names.add(os.path.basename(index[0]))
    names |= {n for n in ("config.json", *COPIED_FILES) if os.path.isfile(os.path.join(model_dir, n))}
    return sorted(names)


def checkpoint_fingerprint(model_dir) -> str:
    """Hex digest of the checkpoint's files (names and contents) and of the exporter (led-ref, torch, opset,
    head): the name of its cache entry."""
    import torch

    import led_ref
    from led_ref.export.onnx_export import DEFAULT_OPSET
    from led_ref.heads import GENERATION_HEAD

    h = hashlib.sha256()
    exporter = {
        "format": CACHE_FORMAT,
        "led_ref": led_ref.__version__,
        "torch": torch.__version__,
        "opset": DEFAULT_OPSET,
        "head": GENERATION_HEAD,
    }
    h.update(json.dumps(exporter, sort_keys=True).encode())
    for name in _checkpoint_files(model_dir):
        h.update(f"\0{name}\0{_sha256(os.path.join(model_dir, name))}".encode())
    return h.hexdigest()[:24]


def _manifest(entry) -> dict:
    files = {}
    for name in sorted(os.listdir(entry)):
        path = os.path.join(entry, name)
        if os.path.isfile(path) and name != MANIFEST:
            st = os.stat(path)
            files[name] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": _sha256(path)}
    return {"format": CACHE_FORMAT, "files": files}


def entry_problem(entry) -> str | None:
    """Why the cache entry ``entry`` cannot be used (None when it can): no manifest, a file missing, or a file
    whose size or content differs from the manifest (a file with its recorded size and mtime is not re-hashed)."""
    from led_ref.export.files import DECODER_FILE, DECODER_WITH_PAST_FILE, ENCODER_FILE

    try:
        with open(os.path.join(entry, MANIFEST), encoding="utf-8") as f:
            manifest = json.load(f)
        files = manifest["files"]
        if manifest.get("format") != CACHE_FORMAT or not isinstance(files, dict):
            return "its manifest is from another led-ref"
    except (OSError, ValueError, KeyError, TypeError):
        return f"it has no readable {MANIFEST} (an interrupted export?)"
    for name in (ENCODER_FILE, DECODER_FILE, DECODER_WITH_PAST_FILE, "config.json"):
        if name not in files:
            return f"its manifest lists no {name}"
    for name, meta in files.items():
        path = os.path.join(entry, name)
        try:
            st = os.stat(path)
            if st.st_size != meta["size"]:
                return f"{name} has {st.st_size} bytes, not {meta['size']}"
            if st.st_mtime_ns != meta["mtime_ns"] and _sha256(path) != meta["sha256"]:
                return f"{name} was changed after the export"
        except OSError:
            return f"{name} is missing"
        except (KeyError, TypeError):
            return f"its manifest entry for {name} is malformed"
    return None


class _Lock:
    """An exclusive lock on ``path`` (fcntl where the platform has it; elsewhere none: the rename into place keeps
    the cache consistent, at worst two processes both export)."""

    def __init__(self, path):
        self.path, self.file = path, None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:
            return self
        self.file = open(self.path, "a")  # held until __exit__
        fcntl.flock(self.file, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if self.file is not None:
            self.file.close()  # closing releases the lock


def _say(message):
    print(f"led-ref: {message}", file=sys.stderr, flush=True)


def onnx_export_dir(model_dir, log=_say) -> str:
    """The ONNX export to load for ``model_dir``: the directory itself when it is an export, else its cache entry,
    exported now (once, validated against the NumPy reference) when missing or unusable. ``log`` gets one line
    saying which."""
    model_dir = os.fspath(model_dir)
    if is_export_dir(model_dir):
        return model_dir
    try:
        import onnx  # noqa: F401 (imported to check that it is installed)
        import torch  # noqa: F401 (imported to check that it is installed)
    except ImportError as exc:
        raise ImportError(
            f"--backend onnx on a checkpoint exports it first, which needs the export extra "
            f"(pip install 'led-ref[export]'): {exc}"
        ) from None
    root = cache_root()
    fingerprint = checkpoint_fingerprint(model_dir)
    entry = os.path.join(root, fingerprint)
    if entry_problem(entry) is None:
        log(f"using the ONNX export of {model_dir} cached in {entry}")
        return entry
    os.makedirs(root, exist_ok=True)
    with _Lock(os.path.join(root, fingerprint + ".lock")):
        problem = entry_problem(entry)
        if problem is None:  # another process exported it while this one waited
            log(f"using the ONNX export of {model_dir} cached in {entry}")
            return entry
        from led_ref.export.onnx_export import export_checkpoint
        from led_ref.heads import GENERATION_HEAD

        redo = f" (the cached one is unusable: {problem})" if os.path.exists(entry) else ""
        t0 = time.perf_counter()
        tmp = tempfile.mkdtemp(prefix=f".{fingerprint}-", dir=root)
        try:
            export_checkpoint(model_dir, tmp, head=GENERATION_HEAD, log=lambda *a, **k: None)
            with open(os.path.join(tmp, MANIFEST), "w", encoding="utf-8") as f:
                json.dump(_manifest(tmp), f, indent=1)
            if os.path.exists(entry):
                shutil.rmtree(entry)
            os.rename(tmp, entry)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        log(
            f"exported {model_dir} to ONNX once{redo} in {time.perf_counter() - t0:.0f} s; cached in {entry} "
            f"(${CACHE_ENV} moves the cache)"
        )
        return entry

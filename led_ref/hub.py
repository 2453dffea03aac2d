"""Where a checkpoint lives: a local directory, or a Hugging Face Hub id fetched with huggingface_hub.

Its own module so that both ``led_ref.config`` and ``led_ref.weights`` use it without importing each other.
"""

import os
import re

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")


def resolve_pretrained_dir(path) -> str:
    """A local checkpoint directory for ``path``: a directory, or a hub id downloaded with
    huggingface_hub.snapshot_download (only config, safetensors/bin weights and JSON files)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return path
    if os.path.exists(path):
        raise FileNotFoundError(f"{path} is a file; pass the checkpoint directory that holds config.json")
    if not _HUB_ID.match(path) or path.startswith(".") or "--" in path or ".." in path:
        raise FileNotFoundError(f"checkpoint directory not found: {path}")
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise FileNotFoundError(
            f"{path} is not a local directory; to fetch it from the Hugging Face Hub run "
            f"'pip install huggingface_hub', or download the checkpoint (config.json + "
            f"model.safetensors) and pass its directory"
        ) from None
    try:
        return snapshot_download(path, allow_patterns=["*.json", "*.safetensors", "pytorch_model*.bin", "*.txt"])
    except Exception as e:  # network errors, unknown repos, gated repos: one clear line
        # huggingface_hub's own message quotes the id several times and spans lines: its first line, bounded
        lines = str(e).strip().splitlines()
        detail = lines[0] if lines else type(e).__name__
        detail = detail if len(detail) <= 300 else detail[:300] + "..."
        raise FileNotFoundError(f"could not download {path!r} from the Hugging Face Hub: {detail}") from None

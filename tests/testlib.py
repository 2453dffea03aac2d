"""Shared by every test group: repository paths and the tiny model configs the tests build on."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository root
DATA = ROOT / "led_ref" / "data"  # bundled vocabulary and text
FIXTURES = str(ROOT / "tests" / "fixtures" / "checkpoints")  # HF-written checkpoints (spec/make_checkpoint_fixtures.py)
GOLDENS = ROOT / "spec" / "goldens"  # conformance vectors (spec/make_*_goldens.py)

__all__ = ["ROOT", "DATA", "FIXTURES", "GOLDENS"]

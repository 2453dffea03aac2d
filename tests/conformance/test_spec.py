"""spec/SPEC.md is the normative text that docstrings link to: every link must resolve."""

import pathlib
import re

from testlib import ROOT


def _anchors(markdown):
    """GitHub-style heading anchors (lower case, punctuation dropped, spaces to dashes)."""
    anchors = set()
    for line in markdown.splitlines():
        if line.startswith("#"):
            text = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^a-z0-9 _-]", "", text).replace(" ", "-"))
    return anchors


def test_every_spec_link_resolves():
    anchors = _anchors((ROOT / "spec" / "SPEC.md").read_text(encoding="utf-8"))
    files = [ROOT / "README.md"] + [
        p for d in ("led_ref", "export", "spec", "tests") for p in (ROOT / d).rglob("*") if p.suffix in (".py", ".md")
    ]
    cited = {}
    for path in files:
        for anchor in re.findall(r"SPEC\.md#([A-Za-z0-9_-]+)", path.read_text(encoding="utf-8")):
            cited.setdefault(anchor, []).append(str(path.relative_to(ROOT)))
    assert len(cited) > 20, "docstrings are expected to link the spec"
    missing = {a: where for a, where in cited.items() if a not in anchors}
    assert not missing, f"links to headings that spec/SPEC.md does not have: {missing}"


def test_led_ref_core_never_imports_torch_or_onnx():
    # design rule: the reference runs on numpy + regex; only export/ (loaded lazily by the CLI) needs torch
    import subprocess
    import sys

    code = (
        "import sys, led_ref\n"
        "from led_ref import config, safetensors, weights, activations, attention, model, outputs, tokenizer, bpe\n"
        "from led_ref import heads, hub, inputs, tolerances\n"
        "from led_ref import generation\nfrom led_ref.app import cli, demo, progress\n"
        "led_ref.LEDForConditionalGeneration, led_ref.LEDTokenizerFast, led_ref.GenerationConfig\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'onnx', 'onnxruntime', 'export') or m.startswith('led_ref.export'))\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr

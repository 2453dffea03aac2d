"""spec/SPEC.md is the normative text that docstrings link to, spec/DESIGN.md and spec/GOLDENS.md its informative
companions: every link to a heading of one of them must resolve."""

import re

from tests.testlib import ROOT


def _anchors(markdown):
    """GitHub-style heading anchors (lower case, punctuation dropped, spaces to dashes)."""
    anchors = set()
    for line in markdown.splitlines():
        if line.startswith("#"):
            text = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^a-z0-9 _-]", "", text).replace(" ", "-"))
    return anchors


DOCS = ("SPEC", "DESIGN", "GOLDENS")


def test_every_spec_link_resolves():
    anchors = {doc: _anchors((ROOT / "spec" / f"{doc}.md").read_text(encoding="utf-8")) for doc in DOCS}
    files = [ROOT / "README.md", ROOT / "CONTRIBUTING.md"] + [
        p
        for d in ("led_ref", "export", "spec", "tests", "docs")
        for p in (ROOT / d).rglob("*")
        if p.suffix in (".py", ".md")
    ]
    cited = {}
    for path in files:
        for doc, anchor in re.findall(
            r"\b(SPEC|DESIGN|GOLDENS)\.md#([A-Za-z0-9_-]+)", path.read_text(encoding="utf-8")
        ):
            cited.setdefault((doc, anchor), []).append(str(path.relative_to(ROOT)))
    assert sum(doc == "SPEC" for doc, _ in cited) > 20, "docstrings are expected to link the spec"
    assert {doc for doc, _ in cited} == set(DOCS)
    missing = {f"{doc}.md#{a}": where for (doc, a), where in cited.items() if a not in anchors[doc]}
    assert not missing, f"links to headings that spec/ does not have: {missing}"


def test_spec_holds_no_provenance_or_measurements():
    """SPEC.md is normative: scratch-venv paths and measured figures live in GOLDENS.md / DESIGN.md."""
    spec = (ROOT / "spec" / "SPEC.md").read_text(encoding="utf-8")
    assert "/work/" not in spec and "scratch" not in spec
    assert not re.search(r"\bMeasured\b(?! errors: \[)", spec)


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
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'onnx', 'onnxruntime', 'export')"
        " or m.startswith('led_ref.export'))\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr

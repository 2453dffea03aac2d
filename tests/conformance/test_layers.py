"""The three layers import one way only, and no module imports itself back.

Every module's source is parsed (``ast``): all imports count, those inside functions included, relative
imports resolved, and ``importlib.import_module("...")`` string literals too. The ``export/`` folder is the
``led_ref.export`` package (pyproject's package-dir). Layers:

- core: ``led_ref.*`` except the three below; imports only core and never an optional extra;
- export: ``led_ref.export.*``; imports core and export, never app;
- testing: ``led_ref.testing.*`` (the conformance kit); imports core and testing only;
- app: ``led_ref.app.*`` and ``led_ref.__main__``; imports anything.
"""

import ast
import os
import re
import subprocess
import sys

import pytest

from tests.testlib import ROOT

# optional extras and test/peer tools: the core runs on its runtime dependencies alone (numpy, regex, threadpoolctl)
FORBIDDEN_IN_CORE = (
    "torch",
    "onnx",
    "onnxruntime",
    "ray",
    "rouge_score",
    "matplotlib",
    "hypothesis",
    "transformers",
)
# (module, imported top-level name) pairs outside the rules, each with its reason. Keep this short.
# Empty: .bin checkpoints are read by led_ref/torch_pickle.py without torch.
KNOWN_EXCEPTIONS = {}


def _modules():
    """{module name: source path} for led_ref (and export/ as led_ref.export)."""
    out = {}
    for folder, package in ((ROOT / "led_ref", "led_ref"), (ROOT / "export", "led_ref.export")):
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package] + parts)] = path
    return out


MODULES = _modules()


def _is_package(name):
    return MODULES[name].name == "__init__.py"


def _resolve(importer, level, module):
    """Absolute name of a (possibly relative) import in ``importer``."""
    if not level:
        return module
    base = importer.split(".") if _is_package(importer) else importer.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _imports(name):
    """Absolute names imported anywhere in module ``name`` (top-level, in functions, import_module literals)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"), str(MODULES[name]))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(name, node.level, node.module)
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in MODULES else target)
        elif isinstance(node, ast.Call):
            func = node.func
            fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if (
                fname == "import_module"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(
                    _resolve(
                        name,
                        len(node.args[0].value) - len(node.args[0].value.lstrip(".")),
                        node.args[0].value.lstrip("."),
                    )
                )
    return found


def _own(name):
    """The led_ref module an imported name refers to (the longest known prefix), or None if external."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        candidate = ".".join(parts[:i])
        if candidate in MODULES:
            return candidate
    return None


def layer(name):
    if name == "led_ref.__main__" or name.startswith("led_ref.app"):
        return "app"
    if name == "led_ref.export" or name.startswith("led_ref.export."):
        return "export"
    if name == "led_ref.testing" or name.startswith("led_ref.testing."):
        return "testing"
    return "core"


MAY_IMPORT = {
    "core": {"core"},
    "export": {"core", "export"},
    "testing": {"core", "testing"},
    "app": {"core", "export", "testing", "app"},
}


def graph():
    """(edges {module: set of led_ref modules}, external {module: set of top-level external names})."""
    edges, external = {}, {}
    for name in MODULES:
        edges[name], external[name] = set(), set()
        for imported in _imports(name):
            own = _own(imported)
            if own is None:
                if imported.split(".")[0] == "export":
                    raise AssertionError(f"{name} imports the top-level name {imported!r}: use led_ref.export")
                if imported.split(".")[0] == "tools":
                    raise AssertionError(
                        f"{name} imports {imported!r}: tools/ is not installed, nothing shipped uses it"
                    )
                external[name].add(imported.split(".")[0])
            elif own != name:
                edges[name].add(own)
    return edges, external


def test_the_graph_sees_every_kind_of_import():
    edges, external = graph()
    assert {"led_ref.config", "led_ref.model", "led_ref.export.ort", "led_ref.app.cli"} <= set(MODULES)
    assert "led_ref.inputs" in edges["led_ref.model"]  # from . import inputs
    assert "led_ref.generation.step" in edges["led_ref.generation"]  # from .step import ... in a package
    assert "led_ref.export.files" in edges["led_ref.export.ort"]  # relative, in the export folder
    assert "led_ref.export.ort" in edges["led_ref.export.onnx_export"]  # relative, inside a function
    assert "led_ref.export.onnx_export" in edges["led_ref.app.export_cli"]  # ..export inside a function
    assert "torch" in external["led_ref.export.torch_model"]


def test_layers_import_one_way():
    edges, external = graph()
    wrong = sorted(
        f"{a} ({layer(a)}) -> {b} ({layer(b)})"
        for a, targets in edges.items()
        for b in targets
        if layer(b) not in MAY_IMPORT[layer(a)]
    )
    assert not wrong, "imports against the layers core <- export <- app (testing: core only):\n" + "\n".join(wrong)
    extras = sorted(
        f"{a} -> {x}"
        for a, names in external.items()
        if layer(a) in ("core", "testing")
        for x in names
        if x in FORBIDDEN_IN_CORE
        and (a, x) not in KNOWN_EXCEPTIONS
        and not (layer(a) == "testing" and x == "hypothesis")
    )  # the kit needs the test extra
    assert not extras, "the core imports an optional extra:\n" + "\n".join(extras)
    for (module, name), reason in KNOWN_EXCEPTIONS.items():  # an exception that no longer happens must go
        assert name in external.get(module, ()), f"{module} no longer imports {name}: drop it from KNOWN_EXCEPTIONS"
        assert reason


def test_the_core_imports_only_its_runtime_dependencies():
    """Every third-party name the core imports is a runtime dependency in pyproject.toml (so `pip install led-ref`
    alone runs it; huggingface_hub is the one lazy, optional exception), and threadpoolctl -- the BLAS thread control
    every `import led_ref` program gets -- is one."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11: sys.stdlib_module_names too

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    runtime = {re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0].strip().lower() for d in deps}
    assert runtime == {"numpy", "regex", "threadpoolctl"}
    _, external = graph()
    third_party = {
        x for a, names in external.items() if layer(a) == "core" for x in names if x not in sys.stdlib_module_names
    }
    # imported inside a function, with an install hint when missing: led_ref.hub (only for Hub ids)
    lazily_optional = {"huggingface_hub"}
    assert third_party - lazily_optional == runtime, (
        f"the core imports {sorted(third_party)}; runtime dependencies: {sorted(runtime)}"
    )


def test_tools_stay_outside_the_installed_packages():
    """tools/ (maintainer tools: the demo-model recipe, corpus builders, GPU check, deep-dive benchmarks) is not
    installed, and no installed module imports it (graph() raises for such an import)."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = setuptools["packages"]
    assert "led_ref" in packages and not any(p == "tools" or p.startswith("tools.") for p in packages)
    assert all(not d.startswith("tools") for d in setuptools.get("package-dir", {}).values())
    assert (ROOT / "tools" / "gpu_check.py").is_file() and not any(n.startswith("led_ref.tools") for n in MODULES)
    graph()  # raises on an import of tools from led_ref or led_ref.export


def _cycles(edges):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    edges, _ = graph()
    # a package importing its own submodules (generation/__init__ re-exporting them) is how packages work;
    # a submodule importing its package back (to reach a sibling) would close a cycle and is counted
    plain = {a: {b for b in targets if not b.startswith(a + ".")} for a, targets in edges.items()}
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]  # the checker works
    cycles = _cycles(plain)
    assert not cycles, "import cycles between modules:\n" + "\n".join(" <-> ".join(c) for c in cycles)


# -- the CLI never picks up a stray export.py -------------------------------------------------------------------------
@pytest.mark.parametrize("argv", [["-m", "led_ref", "export", "--help"], ["led-ref", "export", "--help"]])
def test_cli_runs_from_a_directory_holding_an_export_module(tmp_path, argv):
    (tmp_path / "export.py").write_text("raise RuntimeError('the user\\'s export.py was imported')\n")
    if argv[0] == "led-ref":
        exe = os.path.join(os.path.dirname(sys.executable), "led-ref")
        if not os.path.isfile(exe):
            pytest.skip("the led-ref console script is not installed beside this interpreter")
        cmd = [exe] + argv[1:]
    else:
        cmd = [sys.executable] + argv
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert "MODEL_DIR" in result.stdout and "OUT_DIR" in result.stdout
    assert "export.py was imported" not in result.stderr

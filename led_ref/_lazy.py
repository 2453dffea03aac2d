"""Lazy package attributes (PEP 562): ``import led_ref`` / ``import export`` stay cheap and a missing
optional piece (torch for export) only fails when the name that needs it is used."""

import importlib


def lazy_attributes(package, exports, namespace):
    """``__getattr__`` and ``__dir__`` for a package whose public ``name`` lives in
    ``package.<exports[name]>``; a loaded name is cached in ``namespace`` (the package's globals())."""

    def __getattr__(name):
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    def __dir__():
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__

"""Griffe extension for the API reference: the repository's ``export/`` folder is the ``led_ref.export`` package.

pyproject.toml maps ``led_ref.export`` to the top-level ``export/`` folder (``[tool.setuptools.package-dir]``).
Griffe finds packages by their folders, so on its own it looks for ``led_ref/export/`` and stops the build with
"led_ref.export.ort could not be found". This extension loads ``export/`` and attaches it under ``led_ref`` as
``export``, so ``::: led_ref.export.ort`` in docs/ documents the installed names. Used by mkdocs.yml.
"""

from pathlib import Path

import griffe

EXPORT_DIR = Path(__file__).resolve().parents[2] / "export"


class ExportFolder(griffe.Extension):
    def on_package(self, *, pkg, loader, **kwargs):
        if pkg.name != "led_ref" or "export" in pkg.members:
            return
        export = loader.load(EXPORT_DIR, submodules=True)
        pkg.set_member("export", export)

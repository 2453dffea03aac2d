"""Maintainer tools: run from the repository root as ``python -m tools.<module>``; not installed with led-ref."""

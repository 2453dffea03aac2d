"""The application layer: command line, main job (demo), benchmarks, progress display.

It imports the core (``led_ref``) and the deployment layer (``led_ref.export``); neither imports it.
"""

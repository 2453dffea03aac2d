"""Tests of led_ref.export.hf_models (the hf extra: transformers); skipped without transformers."""

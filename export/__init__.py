"""led-ref export: a torch graph of LED built from led_ref's parameters, ONNX export and an
ONNX Runtime backend that reuses led_ref's generation code. Needs the ``export`` extra."""

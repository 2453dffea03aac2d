"""A tiny progress bar for long work (encoding long inputs, beam search, export, validation).

It draws on stderr only when stderr is a terminal, so logs, pipes and tests stay clean.
``LED_REF_PROGRESS=1`` forces it on, ``LED_REF_PROGRESS=0`` forces it off.

    for layer in progress(layers, desc="encoder"):
        ...
    with Progress(total=max_new_tokens, desc="generate", unit="tok") as bar:
        bar.update()
    with task("export to ONNX"):
        ...
"""

import os
import sys
import time

__all__ = ["Progress", "progress", "task", "enabled", "EncoderLayerBar", "LONG_INPUT_TOKENS"]

_MIN_INTERVAL = 0.1  # seconds between redraws: a bar must not slow the work it reports


def enabled(file=None):
    """Whether a bar should draw on ``file`` (default stderr): a terminal, unless overridden."""
    flag = os.environ.get("LED_REF_PROGRESS", "").strip().lower()
    if flag in ("1", "true", "yes", "on"):
        return True
    if flag in ("0", "false", "no", "off"):
        return False
    file = sys.stderr if file is None else file
    isatty = getattr(file, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):  # closed or detached stream
        return False


def _fmt_seconds(s):
    s = int(round(s))
    return f"{s // 60:d}:{s % 60:02d}"


class Progress:
    """A counter drawn as ``desc  [#####.....]  n/total unit  elapsed<eta``; silent when disabled.

    ``total=None`` draws a counter without a bar. Use as a context manager or call ``close()``.
    """

    def __init__(self, total=None, desc="", unit="it", file=None, enable=None, width=24):
        if total is not None:
            if isinstance(total, bool) or not hasattr(total, "__index__") or total.__index__() < 0:
                raise ValueError(f"Progress: total must be a non-negative int or None, got {total!r}")
            total = total.__index__()
        self.total = total
        self.desc = desc
        self.unit = unit
        self.file = sys.stderr if file is None else file
        self.enable = enabled(self.file) if enable is None else bool(enable)
        self.width = width
        self.n = 0
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._closed = False
        self._line_len = 0
        if self.enable:
            self._draw(force=True)

    def update(self, n=1):
        """Advance by ``n`` and redraw (at most every 0.1 s)."""
        self.n += n
        if self.enable:
            self._draw()

    def set_description(self, desc):
        self.desc = desc
        if self.enable:
            self._draw(force=True)

    def _render(self):
        elapsed = time.perf_counter() - self.start
        head = f"{self.desc}  " if self.desc else ""
        if self.total:
            frac = min(1.0, self.n / self.total)
            filled = int(frac * self.width)
            bar = "#" * filled + "." * (self.width - filled)
            eta = (elapsed / self.n * (self.total - self.n)) if self.n else 0.0
            tail = f"{_fmt_seconds(elapsed)}<{_fmt_seconds(eta)}" if self.n else _fmt_seconds(elapsed)
            return f"{head}[{bar}] {self.n}/{self.total} {self.unit}  {tail}"
        return f"{head}{self.n} {self.unit}  {_fmt_seconds(elapsed)}"

    def _draw(self, force=False):
        now = time.perf_counter()
        if not force and now - self._last_draw < _MIN_INTERVAL and self.n != self.total:
            return
        self._last_draw = now
        line = self._render()
        pad = " " * max(0, self._line_len - len(line))
        self._line_len = len(line)
        try:
            self.file.write("\r" + line + pad)
            self.file.flush()
        except (ValueError, OSError):  # the stream went away: stop drawing, keep working
            self.enable = False

    def close(self):
        """Draw the final state and end the line (once)."""
        if self._closed:
            return
        self._closed = True
        if self.enable:
            self._draw(force=True)
            try:
                self.file.write("\n")
                self.file.flush()
            except (ValueError, OSError):
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def progress(iterable, total=None, desc="", unit="it", file=None, enable=None):
    """Yield from ``iterable`` while drawing a bar (``total`` defaults to ``len(iterable)``)."""
    if total is None:
        try:
            total = len(iterable)
        except TypeError:
            total = None
    with Progress(total=total, desc=desc, unit=unit, file=file, enable=enable) as bar:
        for item in iterable:
            yield item
            bar.update()


class task:
    """Context manager for one long step without a count: ``desc ...`` then ``desc ... done (3.2 s)``.

    Also usable where the caller wants the duration: ``with task("x") as t: ...; t.seconds``.
    """

    def __init__(self, desc, file=None, enable=None):
        self.desc = desc
        self.file = sys.stderr if file is None else file
        self.enable = enabled(self.file) if enable is None else bool(enable)
        self.seconds = None

    def __enter__(self):
        self.start = time.perf_counter()
        if self.enable:
            self.file.write(f"{self.desc} ...")
            self.file.flush()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.seconds = time.perf_counter() - self.start
        if self.enable:
            status = "done" if exc_type is None else "failed"
            self.file.write(f" {status} ({self.seconds:.1f} s)\n")
            self.file.flush()
        return False


# Encoder inputs of at least this many (batch x padded) tokens draw a per-layer bar on a terminal.
LONG_INPUT_TOKENS = 4096


class EncoderLayerBar:
    """A ``layer_callback`` for ``led_ref.model.encoder`` (set ``model.encoder_layer_callback = EncoderLayerBar()``):
    draws one bar per encoder pass over the layers when the input has at least ``min_tokens`` tokens."""

    def __init__(self, min_tokens=LONG_INPUT_TOKENS, file=None, enable=None):
        self.min_tokens, self.file, self.enable = min_tokens, file, enable
        self._bar = None

    def __call__(self, done, n_layers, tokens):
        if tokens < self.min_tokens:
            return
        if done == 0:
            self._bar = Progress(
                total=n_layers, desc=f"encoder ({tokens} tokens)", unit="layers", file=self.file, enable=self.enable
            )
        elif self._bar is not None:
            self._bar.update(done - self._bar.n)
            if done == n_layers:
                self._bar.close()
                self._bar = None

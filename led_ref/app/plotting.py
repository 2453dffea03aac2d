"""What the plotting commands share: the optional matplotlib import, output-path checks, PNG saving.

matplotlib is the ``plot`` extra. It is imported only inside :func:`require_matplotlib`, which only
``bench --scaling --plot`` and ``attention-map`` call: the core and the default CLI paths never load it.
Figures are drawn on a ``matplotlib.figure.Figure`` with the Agg canvas (no pyplot, no GUI, no global state).
"""

import os

INSTALL_HINT = "pip install 'led-ref[plot]' (or: pip install 'matplotlib>=3.5')"


def require_matplotlib(option):
    """Import matplotlib or raise one ImportError line naming ``option`` and the install command."""
    try:
        import matplotlib  # noqa: F401 (imported to check that it is installed)
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401 (imported to check that it is installed)
    except ImportError:
        raise ImportError(f"{option} needs matplotlib (the plot extra): {INSTALL_HINT}") from None


def check_output_path(path, option, suffix=None):
    """Fail before any long work when ``path`` cannot be written: (FileNotFoundError, ValueError) naming ``option``."""
    if not path:
        raise ValueError(f"{option}: empty path")
    if suffix and not path.lower().endswith(suffix):
        raise ValueError(f"{option} {path}: the file name must end in {suffix}")
    if os.path.isdir(path):
        raise ValueError(f"{option} {path}: is a directory (give a file name)")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise FileNotFoundError(f"{option} {path}: directory {parent} does not exist")
    target = path if os.path.exists(path) else parent
    if not os.access(target, os.W_OK):
        raise ValueError(f"{option} {path}: not writable ({target})")


def new_figure(width_px, height_px, dpi=100):
    """A Figure of exactly ``width_px`` x ``height_px`` pixels when saved with :func:`save_png`, on the Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def save_png(fig, path):
    """Write ``fig`` as PNG at its own size (no tight bbox: the pixel size stays the one stated)."""
    fig.savefig(path, format="png", dpi=fig.dpi)
    return png_size(path)


def png_size(path):
    """(width, height) from a PNG's IHDR chunk; ValueError if the file is not a PNG."""
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise ValueError(f"{path}: not a PNG file")
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")

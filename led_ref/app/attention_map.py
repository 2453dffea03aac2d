"""``led-ref attention-map --model DIR FILE --layer L --head H -o OUT.png``: one encoder head's attention as a picture.

The first N tokens of FILE (default 2,048; a shorter document is padded to N with attention_mask 0)
run through the NumPy reference encoder with ``output_attentions=True``. The layer's band layout
(``attentions[l]``, one row per query: the global columns, then the 2c+1 band keys) and its global
rows (``global_attentions[l]``) are put back into an N x N matrix (:func:`attention_matrix`: no new
math, only indexing) and drawn with rows = queries, columns = keys: the sliding band, the global
rows and columns, and the padding. Global attention is on <s> (position 0) by default, as for
summarization; ``--global-positions`` adds others.

The whole encoder's attentions are kept for one pass (layers x heads x N x (w + 1) floats: 0.6 GB
for led-base at 2,048 tokens), so large N wants a large machine.
"""

import os
import sys

import numpy as np

FIG_PX = (1000, 900)  # the PNG's size in pixels (width, height)
DEFAULT_TOKENS = 2048
MAX_PIXELS = 600  # larger matrices are max-pooled to at most this many cells per side before drawing


def add_cli_arguments(parser):
    parser.add_argument("file", metavar="FILE", help="text file (its first --tokens tokens are used)")
    parser.add_argument(
        "--model",
        required=True,
        metavar="DIR",
        help="checkpoint directory (config.json + model.safetensors; the tokenizer files too, "
        "else led-ref's bundled LED/BART vocabulary is used)",
    )
    parser.add_argument("--layer", type=int, required=True, metavar="L", help="encoder layer, 0-based")
    parser.add_argument("--head", type=int, required=True, metavar="H", help="attention head, 0-based")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.png", help="the PNG to write")
    parser.add_argument(
        "--tokens",
        type=int,
        default=None,
        metavar="N",
        help=f"first N tokens of the document (default {DEFAULT_TOKENS}, or the model's position "
        "limit if lower; shorter documents are padded to N)",
    )
    parser.add_argument(
        "--global-positions",
        default="0",
        metavar="I,J,..",
        help="token positions with global attention (default 0: the <s> token)",
    )


# ================================================================ the mapping (pure)


def attention_matrix(local, global_probs=None, global_positions=()):
    """One head's encoder attention, HF's band layout -> the dense (S, S) matrix (rows queries, columns keys).

    local: (S, x + w + 1), one batch row and head of ``attentions[l]``: column s < x is the probability
        the query gives global slot s (the key at ``global_positions[s]``), column x + k the probability
        of key i - c + k, c = w / 2 (spec/SPEC.md#encoder-self-attention).
    global_probs: (S, x), the same row and head of ``global_attentions[l]``: [j, s] = probability that
        the query at global slot s gives key j. None when nothing is global.
    global_positions: the row's global token positions in slot order (ascending); x may exceed their
        number (empty slots of a batch, all zero).
    Global rows hold zeros in ``local`` (HF zeroes them) and get their values from ``global_probs``;
    global keys are zero inside the band, so nothing is counted twice.
    """
    local = np.asarray(local)
    gpos = np.asarray(global_positions, dtype=np.intp).reshape(-1)
    if local.ndim != 2:
        raise ValueError(f"attention_matrix: local must be (S, x + w + 1), got shape {local.shape}")
    seq, width = local.shape
    n_slots = 0
    if global_probs is not None:
        global_probs = np.asarray(global_probs)
        if global_probs.ndim != 2 or global_probs.shape[0] != seq:
            raise ValueError(f"attention_matrix: global_probs must be (S={seq}, x), got {global_probs.shape}")
        n_slots = global_probs.shape[1]
    if len(gpos) > n_slots:
        raise ValueError(f"attention_matrix: {len(gpos)} global positions but {n_slots} global slots")
    if len(gpos) and (gpos.min() < 0 or gpos.max() >= seq or np.any(np.diff(gpos) <= 0)):
        raise ValueError(f"attention_matrix: global positions must be ascending in 0..{seq - 1}, got {gpos.tolist()}")
    band = width - n_slots  # w + 1
    if band < 1 or band % 2 != 1:
        raise ValueError(f"attention_matrix: {width} columns minus {n_slots} global slots is not an odd band width")
    c = band // 2

    matrix = np.zeros((seq, seq), dtype=local.dtype)
    rows = np.broadcast_to(np.arange(seq)[:, None], (seq, band))
    keys = rows - c + np.arange(band)[None, :]  # (S, w + 1): band column k of query i is key i - c + k
    inside = (keys >= 0) & (keys < seq)
    matrix[rows[inside], keys[inside]] = local[:, n_slots:][inside]
    if len(gpos):
        matrix[:, gpos] += local[:, : len(gpos)]
        matrix[gpos, :] = global_probs[:, : len(gpos)].T
    return matrix


# ================================================================ the command


def _parse_positions(text, n_real):
    out = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit():
            raise ValueError(f"--global-positions: {part!r} is not a non-negative integer (give e.g. 0,100,500)")
        if int(part) >= n_real:
            raise ValueError(
                f"--global-positions: {part} is not a token of the input (it has {n_real} tokens, "
                f"positions 0..{n_real - 1})"
            )
        out.append(int(part))
    return sorted(set(out))


def _tokenizer(model_dir):
    from led_ref.tokenizer import LEDTokenizerFast

    if os.path.isfile(os.path.join(model_dir, "vocab.json")):
        return LEDTokenizerFast.from_pretrained(model_dir), None
    bundled = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
    return LEDTokenizerFast.from_pretrained(
        bundled
    ), "no tokenizer files in --model: led-ref's bundled LED/BART vocabulary is used"


def compute(model, ids, mask, global_positions, layer, head):
    """The (N, N) attention matrix of ``layer``/``head`` for one sequence; ids/mask: (N,) arrays."""
    glob = np.zeros_like(ids)
    glob[list(global_positions)] = 1
    enc = model.get_encoder()(
        input_ids=ids[None], attention_mask=mask[None], global_attention_mask=glob[None], output_attentions=True
    )
    local = enc.attentions[layer][0, head]  # (N, x + w + 1)
    gprobs = enc.global_attentions[layer][0, head] if enc.global_attentions is not None else None
    # the model's own global set: positions with attention_mask 1 and global mask 1 (slot order = position order)
    gpos = [p for p in global_positions if mask[p]]
    return attention_matrix(local, gprobs, gpos)


def run_cli(args):
    from led_ref.app.plotting import check_output_path, require_matplotlib
    from led_ref.config import LEDConfig

    if not os.path.isdir(args.model):
        raise FileNotFoundError(f"--model {args.model}: not a directory (expected a checkpoint directory)")
    if not os.path.isfile(args.file):
        raise FileNotFoundError(f"{args.file}: no such file (give a text file)")
    check_output_path(args.output, "--output", suffix=".png")
    require_matplotlib("attention-map")
    config = LEDConfig.from_pretrained(args.model)
    if not 0 <= args.layer < config.encoder_layers:
        raise ValueError(f"--layer {args.layer}: out of range, the encoder has layers 0..{config.encoder_layers - 1}")
    heads = config.encoder_attention_heads
    if not 0 <= args.head < heads:
        raise ValueError(f"--head {args.head}: out of range, the encoder has heads 0..{heads - 1}")
    limit = config.max_encoder_position_embeddings
    if args.tokens is None:
        args.tokens = min(DEFAULT_TOKENS, limit)
    if not 2 <= args.tokens <= limit:
        raise ValueError(f"--tokens {args.tokens}: must be in 2..{limit} (the model's max_encoder_position_embeddings)")
    with open(args.file, encoding="utf-8") as f:
        text = f.read()
    if not text.strip():
        raise ValueError(f"{args.file}: the input text is empty")

    _parse_positions(args.global_positions, args.tokens)  # syntax and range first; the document's length below
    tokenizer, note = _tokenizer(args.model)
    ids = np.asarray(tokenizer(text, truncation=True, max_length=args.tokens)["input_ids"], dtype=np.int64)
    n_real = len(ids)
    mask = np.ones(args.tokens, np.int64)
    if n_real < args.tokens:  # pad to N: the padding shows as empty rows and columns
        ids = np.concatenate([ids, np.full(args.tokens - n_real, config.pad_token_id, np.int64)])
        mask[n_real:] = 0
    if ids.max() >= config.vocab_size:
        raise ValueError(
            f"{args.file}: token id {int(ids.max())} >= the model's vocab_size {config.vocab_size} "
            "(the tokenizer does not match --model)"
        )
    positions = _parse_positions(args.global_positions, n_real)
    if note:
        print(f"led-ref attention-map: {note}", file=sys.stderr)

    from led_ref.model import LEDModel

    model = LEDModel.from_pretrained(args.model)
    matrix = compute(model, ids, mask, positions, args.layer, args.head)
    windows = config.layer_attention_windows()
    w, h = draw(
        matrix,
        args.output,
        positions,
        n_real,
        title=f"{os.path.basename(os.path.abspath(args.model))}: encoder layer {args.layer}, head {args.head}, "
        f"window {windows[args.layer]}; first {args.tokens} tokens of {os.path.basename(args.file)}",
    )
    print(
        f"wrote {args.output} ({w} x {h} px): {args.tokens} x {args.tokens} attention, {n_real} real tokens, "
        f"global positions {positions}"
    )
    return 0


# ================================================================ the figure


def _pool_max(matrix, cells):
    """Max over square blocks so that at most ``cells`` per side remain (thin global rows stay visible)."""
    n = matrix.shape[0]
    k = -(-n // cells)
    if k <= 1:
        return matrix, 1
    m = -(-n // k) * k
    padded = np.zeros((m, m), matrix.dtype)
    padded[:n, :n] = matrix
    return padded.reshape(m // k, k, m // k, k).max(axis=(1, 3)), k


def draw(matrix, path, global_positions, n_real, title=""):
    """Draw the attention matrix (log colour scale; exact zeros white; padding grey; globals marked)."""
    from matplotlib.colors import LogNorm

    from led_ref.app.plotting import new_figure, save_png

    n = matrix.shape[0]
    pooled, k = _pool_max(matrix, MAX_PIXELS)
    fig = new_figure(*FIG_PX)
    ax = fig.add_axes([0.08, 0.08, 0.72, 0.8])
    cax = fig.add_axes([0.85, 0.08, 0.03, 0.8])
    ext = (-0.5, pooled.shape[1] * k - 0.5, pooled.shape[0] * k - 0.5, -0.5)  # axes in token positions
    if n_real < n:  # padding rows and columns: grey under the (all-zero) attention
        pad = np.zeros(pooled.shape, bool)
        first = n_real // k
        pad[first:, :] = pad[:, first:] = True
        ax.imshow(np.where(pad, 0.8, 1.0), cmap="gray", vmin=0, vmax=1, extent=ext, interpolation="nearest")
    positive = pooled[pooled > 0]
    vmin = max(float(positive.min()), 1e-8) if positive.size else 1e-8
    shown = np.ma.masked_less_equal(pooled, 0)  # exact zeros (not allowed) stay transparent
    im = ax.imshow(
        shown,
        cmap="viridis",
        norm=LogNorm(vmin=vmin, vmax=max(float(pooled.max()), vmin * 10)),
        extent=ext,
        interpolation="nearest",
    )
    fig.colorbar(im, cax=cax, label="attention probability (log scale; white = not attended)")
    for p in global_positions:  # global tokens: markers on both axes
        ax.plot([p], [-0.5 - 0.01 * n], marker="v", color="red", markersize=9, clip_on=False)
        ax.plot([-0.5 - 0.01 * n], [p], marker=">", color="red", markersize=9, clip_on=False)
    margin = 0.01 * n  # so that row/column 0 (the usual global token) is not hidden by the frame
    ax.set_xlim(ext[0] - margin, ext[1])
    ax.set_ylim(ext[2], ext[3] - margin)
    ax.set_xlabel("key position")
    ax.set_ylabel("query position")
    labels = ", ".join(map(str, global_positions[:8])) + (" ..." if len(global_positions) > 8 else "")
    note = f"red marks: global tokens at {labels or 'none'}"
    if n_real < n:
        note += f"; grey: padding ({n_real}..{n - 1})"
    if k > 1:
        note += f"; {k}x{k} max-pooled"
    ax.set_title(f"{title}\n{note}", fontsize=9)
    return save_png(fig, path)

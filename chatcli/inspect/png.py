"""Pictures with matplotlib (an optional dependency): attention grids and training curves."""
from __future__ import annotations

from pathlib import Path

from chatcli.errors import ChatcliError
from chatcli.inspect.common import piece_label


def _pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ChatcliError('--png needs matplotlib: pip install -e ".[plot]"') from None
    return plt


def _check_target(path: Path) -> None:
    if path.suffix.lower() != ".png":
        raise ChatcliError(f"{path}: --png writes PNG images; give a file name ending in .png")
    if not path.parent.exists():
        raise ChatcliError(f"{path.parent}: directory does not exist")


def attention_png(doc_all_heads: dict, path: Path) -> None:
    """Every head of one layer as a grid of heatmaps, token labels on the axes when they fit."""
    _check_target(path)
    plt = _pyplot()
    weights = doc_all_heads["weights"]
    heads = doc_all_heads["heads"]
    n = len(weights)
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    T = len(weights[0])
    labels = [piece_label(t["piece"]) for t in doc_all_heads["tokens"]]
    size = 3.2 if T <= 24 else 4.5
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows + 0.6), squeeze=False)
    for k in range(rows * cols):
        ax = axes[k // cols][k % cols]
        if k >= n:
            ax.axis("off")
            continue
        im = ax.imshow(weights[k], cmap="plasma", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_title(f"head {heads[k]}", fontsize=9)
        if T <= 40:
            ax.set_xticks(range(T), labels, rotation=90, fontsize=6)
            ax.set_yticks(range(T), labels, fontsize=6)
        else:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(f"attention, layer {doc_all_heads['layer']} (rows: reading token, columns: read token)",
                 fontsize=10)
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8)
    _save(fig, plt, path)


def curve_png(doc: dict, path: Path) -> None:
    _check_target(path)
    plt = _pyplot()
    stages = doc["stages"]
    fig, axes = plt.subplots(1, len(stages), figsize=(6 * len(stages), 4), squeeze=False)
    for ax, s in zip(axes[0], stages):
        tr = [(x, y) for x, y in zip(s["train"]["step"], s["train"]["loss"]) if y is not None]
        va = [(x, y) for x, y in zip(s["val"]["step"], s["val"]["loss"]) if y is not None]
        if tr:
            ax.plot(*zip(*tr), label="train loss", color="tab:blue", linewidth=1)
        if va:
            ax.plot(*zip(*va), "o-", label="val loss", color="tab:purple", markersize=4)
        ax.set_title(s["stage"])
        ax.set_xlabel("step")
        ax.set_ylabel("loss (nats)")
        ax.grid(alpha=0.3)
        ax.legend()
    _save(fig, plt, path)


def _save(fig, plt, path: Path) -> None:
    try:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    except OSError as e:
        raise ChatcliError(f"{path}: cannot write ({e.strerror or e})") from None
    finally:
        plt.close(fig)

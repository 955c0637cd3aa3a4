"""Draw the figures that verdicts ask for (``claims/figures.py`` describes the specifications).

Each figure is written as PNG (for the HTML report and the README) and SVG (for papers), with
matplotlib's non-interactive Agg backend. Artifact references are read from the store, never
built: a figure whose artifact is missing is reported as missing and drawn with what is there.
"""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

PALETTE = ["#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB", "#000000"]


class MissingArtifact(Exception):
    """A figure refers to an artifact the store does not hold."""


@dataclass(frozen=True)
class Drawn:
    png: Path
    svg: Path
    title: str
    caption: str


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
                         "svg.hashsalt": "claims-report", "figure.dpi": 110})
    return plt


def draw(spec: dict[str, Any], stem: Path, store=None) -> Drawn:
    """Draw one figure to ``stem.png`` and ``stem.svg``; raise MissingArtifact or ValueError."""
    kind = spec.get("kind")
    if kind not in DRAWERS:
        raise ValueError(f"figure kind {kind!r} is unknown; allowed: {sorted(DRAWERS)}")
    plt = _plt()
    fig, caption = DRAWERS[kind](plt, spec, store)
    width_chars = int(fig.get_figwidth() * 15)  # about 15 characters per inch at 10 pt
    fig.suptitle(textwrap.fill(spec.get("title", kind), max(30, width_chars)), fontsize=10)
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, svg = stem.with_suffix(".png"), stem.with_suffix(".svg")
    for path in (png, svg):  # write under a temporary name, then rename: no half-written figure
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")  # unique per writer
        fig.savefig(tmp, format=path.suffix[1:], metadata={"Date": None} if path.suffix == ".svg" else None)
        tmp.replace(path)
    plt.close(fig)
    return Drawn(png, svg, spec.get("title", kind), caption)


def _accuracy_bars(plt, spec, store):
    bars = spec["bars"]
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(bars), 3.2), layout="constrained")
    xs = np.arange(len(bars))
    values = [b["value"] for b in bars]
    # no interval: NaN, so that no zero-length error bar (a stray cap) is drawn
    err = np.array([[b["value"] - b["ci"][0], b["ci"][1] - b["value"]] if b["ci"] else [np.nan, np.nan]
                    for b in bars]).T
    ax.bar(xs, values, color=[PALETTE[i % len(PALETTE)] for i in range(len(bars))], yerr=err, capsize=4)
    papers = [(x, b["paper"]) for x, b in zip(xs, bars, strict=True) if b.get("paper") is not None]
    if papers:
        ax.scatter([p[0] for p in papers], [p[1] for p in papers], marker="_", s=600, color="black",
                   linewidths=2, zorder=3, label="paper")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    lo = max(0.0, min(values + [p[1] for p in papers]) - 0.15)
    for x, v in zip(xs, values, strict=True):
        ax.text(x, (lo + v) / 2, f"{v:.3f}", ha="center", va="center", color="white", fontsize=8)
    ax.set_xticks(xs, [b["name"] for b in bars], rotation=15)
    ax.set_ylim(lo, 1.0)
    ax.set_ylabel("accuracy")
    return fig, "Bars: measured accuracy with its 95% bootstrap interval; black ticks: the paper's figure."


def _pca_curves(plt, spec, store):
    fig, ax = plt.subplots(figsize=(5.2, 3.4), layout="constrained")
    for i, c in enumerate(spec["curves"]):
        cum = np.asarray(c["cumulative"])
        k = int(np.searchsorted(cum, spec["variance"] - 1e-12) + 1)
        ax.plot(np.arange(1, len(cum) + 1), cum, color=PALETTE[i % len(PALETTE)], label=f"{c['name']} ({k} PCs)")
        ax.axvline(k, color=PALETTE[i % len(PALETTE)], ls=":", lw=0.8)
    ax.axhline(spec["variance"], color="grey", ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("principal components")
    ax.set_ylabel("cumulative explained variance")
    ax.legend(frameon=False, loc="lower right")
    return fig, (f"Dotted lines: components needed for {spec['variance']:.0%} of the variance "
                 "(as in Bogaert et al., section 3.3).")


def _embedding_maps(plt, spec, store):
    from harness.store import Predictions

    panels = spec["panels"]
    fig, axes = plt.subplots(2, len(panels), figsize=(3.6 * len(panels), 6.6), squeeze=False, layout="constrained")
    missing, method = [], ""
    for col, panel in enumerate(panels):
        m = store.open(panel["map"]) if store is not None else None
        p = store.open(panel["predictions"]) if store is not None else None
        if m is None or p is None:
            missing += [r for r, a in ((panel["map"], m), (panel["predictions"], p)) if a is None]
            for row in range(2):
                axes[row, col].text(0.5, 0.5, "artifact not in store", ha="center", transform=axes[row, col].transAxes)
                axes[row, col].set_axis_off()
            continue
        method = method or f" Map: {m.meta.get('method')}, perplexities {m.meta.get('perplexities')}."
        xy, labels = m.array("coords"), m.array("labels")
        names = m.meta.get("label_names", [str(i) for i in range(labels.max() + 1)])
        correct = Predictions.of(p, m.meta.get("split", "test")).correct
        ax = axes[0, col]
        for k, name in enumerate(names):
            sel = labels == k
            ax.scatter(xy[sel, 0], xy[sel, 1], s=5, color=PALETTE[k % len(PALETTE)], label=name, alpha=0.8)
        ax.set_title(f"{panel['name']}: by label", fontsize=9)
        if len(names) <= 8:
            ax.legend(markerscale=3, fontsize=7, frameon=False, loc="best")
        ax = axes[1, col]
        ax.scatter(xy[correct, 0], xy[correct, 1], s=5, color="#BBBBBB", label="correct")
        ax.scatter(xy[~correct, 0], xy[~correct, 1], s=9, color="#CC3311", label=f"wrong ({(~correct).sum()})")
        ax.set_title(f"{panel['name']}: by prediction", fontsize=9)
        ax.legend(markerscale=2, fontsize=7, frameon=False, loc="best")
        for row in range(2):
            axes[row, col].set_xticks([])
            axes[row, col].set_yticks([])
    if len(missing) == 2 * len(panels):
        plt.close(fig)
        raise MissingArtifact(", ".join(missing))
    note = f" Not in the store: {', '.join(missing)}." if missing else ""
    return fig, "Top: coloured by gold label; bottom: the model's mistakes in red." + method + note


def _distance_trajectories(plt, spec, store):
    fig, ax = plt.subplots(figsize=(5.2, 3.4), layout="constrained")
    labels = spec["labels"]
    for r, run in enumerate(spec["runs"]):
        dist = np.asarray(run["min_distance"])
        for k, name in enumerate(labels):
            ax.plot(run["steps"], dist[:, k], marker="o", ms=3, color=PALETTE[k % len(PALETTE)],
                    alpha=1.0 if r == 0 else 0.4, label=name if r == 0 else None)
    ax.set_xlabel("fine-tuning step")
    ax.set_ylabel("minimum distance to other labels")
    if len(labels) <= 12:
        ax.legend(frameon=False, fontsize=7)
    return fig, "One line per label (faint lines: further seeds); Zhou and Srikumar's Fig. 2 draws the same."


def _distance_bars(plt, spec, store):
    labels, series = spec["labels"], spec["series"]
    fig, ax = plt.subplots(figsize=(1.5 + 0.9 * len(labels), 3.2), layout="constrained")
    width = 0.8 / len(series)
    for i, s in enumerate(series):
        ax.bar(np.arange(len(labels)) + i * width, s["values"], width, label=s["name"], color=PALETTE[i % len(PALETTE)])
    ax.set_xticks(np.arange(len(labels)) + width * (len(series) - 1) / 2, labels, rotation=15)
    ax.set_ylabel("minimum distance")
    ax.legend(frameon=False, fontsize=7)
    return fig, "Each target label's minimum DirectProbe distance to the other labels, before and after."


def _layer_similarity(plt, spec, store):
    fig, ax = plt.subplots(figsize=(5.2, 3.4), layout="constrained")
    for i, s in enumerate(spec["series"]):
        ax.plot(spec["layers"], s["values"], marker="o", ms=3, color=PALETTE[i % len(PALETTE)], label=s["name"])
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylabel("similarity, pre-trained vs fine-tuned")
    ax.set_ylim(min(0.0, min(min(s["values"]) for s in spec["series"])), 1.05)
    ax.legend(frameon=False, fontsize=7)
    return fig, "Each layer's representation of the same texts before and after fine-tuning (Merchant et al., Fig. 1)."


def _accuracy_by_layers(plt, spec, store):
    fig, ax = plt.subplots(figsize=(5.2, 3.4), layout="constrained")
    pts = sorted(spec["points"], key=lambda p: p["layers"])
    truncated = spec.get("mode") == "truncated"
    ax.plot([p["layers"] for p in pts], [p["accuracy"] for p in pts], marker="o", color=PALETTE[0],
            label="cut after layer k, fine-tuned" if truncated else "top k layers trained")
    ax.axhline(spec["full"], color=PALETTE[1], ls="--", label=f"all layers ({spec['full']:.3f})")
    base = "chance" if truncated else "frozen"
    ax.axhline(spec["frozen"], color=PALETTE[2], ls=":", label=f"{base} ({spec['frozen']:.3f})")
    ax.set_xlabel("layers kept k" if truncated else "trainable top layers k")
    ax.set_ylabel("test accuracy")
    ax.set_xticks([p["layers"] for p in pts])
    ax.legend(frameon=False, fontsize=7)
    if truncated:
        return fig, "Truncated fine-tuning: the encoder cut after layer k, then fine-tuned (Merchant et al., Fig. 4)."
    return fig, "Partial fine-tuning: only the top k layers and the head are trained (Merchant et al., Fig. 3)."


def _centroid_paths(plt, spec, store):
    fig, ax = plt.subplots(figsize=(5.2, 4.0), layout="constrained")
    for k, (name, path) in enumerate(zip(spec["labels"], spec["paths"], strict=True)):
        path = np.asarray(path)
        color = PALETTE[k % len(PALETTE)]
        ax.plot(path[:, 0], path[:, 1], color=color, lw=1, alpha=0.8)
        ax.scatter(path[:1, 0], path[:1, 1], color=color, s=10, marker="o")
        ax.scatter(path[-1:, 0], path[-1:, 1], color=color, s=24, marker=">")
        if len(spec["labels"]) <= 40:
            ax.annotate(name, path[-1], fontsize=6, color=color)
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    return fig, ("Each label's centroid at every checkpoint, projected on the first two principal components "
                 "of all checkpoints' centroids (circle: start, arrow: end; Zhou and Srikumar, Fig. 3).")


def _centroid_pca(plt, spec, store):
    panels = spec["panels"]
    fig, axes = plt.subplots(1, len(panels), figsize=(2.8 * len(panels), 3.0), layout="constrained", squeeze=False)
    lim = max(1e-12, max(float(np.abs(np.asarray(p["points"])).max()) for p in panels))
    for ax, panel in zip(axes[0], panels, strict=True):
        pts = np.asarray(panel["points"])
        ax.axhline(0, color="0.85", lw=0.5)
        ax.axvline(0, color="0.85", lw=0.5)
        for k, (x, y) in enumerate(pts):
            ax.annotate("", (x, y), (0, 0), arrowprops={"arrowstyle": "->", "color": PALETTE[k % len(PALETTE)], "lw": 0.8})
        ax.set_xlim(-1.1 * lim, 1.1 * lim)
        ax.set_ylim(-1.1 * lim, 1.1 * lim)
        ax.set_title(f"layer {panel['layer']}", fontsize=8)
        ax.set_aspect("equal")
    return fig, ("Each label's centroid movement (fine-tuned minus pre-trained) per layer, on that layer's two "
                 "principal directions, same scale in every panel (Zhou and Srikumar, Fig. 5).")


def _seed_boxes(plt, spec, store):
    series = spec["series"]
    fig, ax = plt.subplots(figsize=(1.5 + 1.3 * len(series), 3.4), layout="constrained")
    ax.boxplot([s["values"] for s in series], tick_labels=[s["name"] for s in series], widths=0.5)
    rng = np.random.default_rng(0)
    for i, s in enumerate(series, start=1):
        ax.scatter(i + rng.uniform(-0.08, 0.08, len(s["values"])), s["values"], s=12,
                   color=PALETTE[(i - 1) % len(PALETTE)], zorder=3)
    ax.set_ylabel("test accuracy")
    return fig, "One dot per seed; boxes: quartiles and median (Hart, Figure 2)."


def _word_lists(plt, spec, store):
    """Two panels side by side: each model's most discriminant words, bar = relevance difference,
    annotated with the word's task-relatedness."""
    lists = spec["lists"]
    rows = max(len(lst["words"]) for lst in lists)
    fig, axes = plt.subplots(1, len(lists), figsize=(3.4 * len(lists), 0.6 + 0.28 * rows), layout="constrained")
    for i, (ax, lst) in enumerate(zip(np.atleast_1d(axes), lists, strict=True)):
        words = lst["words"]
        y = np.arange(len(words))[::-1]
        ax.barh(y, [abs(w["difference"]) for w in words], color=PALETTE[i % len(PALETTE)])
        ax.set_yticks(y, [f"{w['word']}  ({w['relatedness']:.3f})" for w in words], fontsize=7)
        ax.set_title(lst["name"], fontsize=9)
        ax.set_xlabel("| |mean relevance| difference |", fontsize=7)
    return fig, (f"Each model's top words by the difference of absolute mean relevance (Bogaert et al., 3.2); "
                 f"in brackets: {spec['relatedness']}.")


DRAWERS: dict[str, Callable] = {
    "word_lists": _word_lists,
    "seed_boxes": _seed_boxes,
    "accuracy_by_layers": _accuracy_by_layers,
    "layer_similarity": _layer_similarity,
    "accuracy_bars": _accuracy_bars,
    "pca_curves": _pca_curves,
    "embedding_maps": _embedding_maps,
    "distance_trajectories": _distance_trajectories,
    "distance_bars": _distance_bars,
    "centroid_paths": _centroid_paths,
    "centroid_pca": _centroid_pca,
}

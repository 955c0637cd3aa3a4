"""Figure specifications: what a verdict asks the report to draw, as plain JSON data.

Claims attach these to their verdicts (``Verdict.figures``); ``reports/draw.py`` draws them.
Small data travel inline (accuracies, PCA curves, distance trajectories); large data stay in the
artifact store and are referenced as ``"<kind>/<key>"`` (2-D maps of embeddings, predictions), so
``python -m reports build`` redraws every figure from a verdicts file and a store without
recomputing anything.

Kinds and their fields:

- ``accuracy_bars``: ``bars = [{name, value, ci: [low, high] | None, paper: float | None}]``
- ``pca_curves``: ``variance``, ``curves = [{name, cumulative: [...]}]`` (cumulative explained
  variance ratio per number of components)
- ``embedding_maps``: ``panels = [{name, map: "map2d/<key>", predictions: "<kind>/<key>"}]``
  (each panel drawn twice: coloured by label and by correct/incorrect)
- ``distance_trajectories``: ``labels``, ``runs = [{seed, steps, min_distance: [[per label]]}]``
- ``distance_bars``: ``labels``, ``series = [{name, values: [per label]}]``
- ``accuracy_by_layers``: ``points = [{layers, accuracy}]``, ``full``, ``frozen`` (partial
  fine-tuning: accuracy against the number of trainable top layers; with ``mode = "truncated"``,
  against the layers kept, and ``frozen`` holds chance)
- ``table``: ``columns``, ``rows = [[cell, ...]]`` (laid out as a table in the report, not drawn:
  Zhou and Srikumar's Table 5)
- ``centroid_paths``: ``labels``, ``paths = [[[x, y] per checkpoint] per label]`` (2-D PCA of the
  label centroids along fine-tuning)
- ``centroid_pca``: ``panels = [{layer, points: [[x, y] per label]}]`` (each label's centroid
  movement per layer on the two principal directions of all layers' movements)
- ``seed_boxes``: ``series = [{name, values: [per seed]}]`` (box plots of per-seed accuracies,
  as Hart's Figure 2)
- ``layer_similarity``: ``layers``, ``series = [{name, values: [per layer]}]`` (similarity of
  each layer before and after fine-tuning)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def _num(x: float) -> float:
    return float(round(float(x), 6))


def accuracy_bars(title: str, bars: Sequence[tuple[str, float, Sequence[float] | None, float | None]]
                  ) -> dict[str, Any]:
    """Bars of (name, accuracy, 95% CI or None, paper's figure or None)."""
    return {
        "kind": "accuracy_bars", "title": title,
        "bars": [{"name": n, "value": _num(v), "ci": [_num(c) for c in ci] if ci is not None else None,
                  "paper": _num(p) if isinstance(p, int | float) else None} for n, v, ci, p in bars],
    }


def pca_curves(title: str, variance: float, curves: Sequence[tuple[str, np.ndarray]]) -> dict[str, Any]:
    """Cumulative explained variance of each space, from its explained variance ratios."""
    return {
        "kind": "pca_curves", "title": title, "variance": float(variance),
        "curves": [{"name": n, "cumulative": [_num(v) for v in np.cumsum(r)]} for n, r in curves],
    }


def embedding_maps(title: str, panels: Sequence[tuple[str, str, str]]) -> dict[str, Any]:
    """Panels of (name, "map2d/<key>", "<kind>/<key>" of the predictions on the same texts)."""
    return {"kind": "embedding_maps", "title": title,
            "panels": [{"name": n, "map": m, "predictions": p} for n, m, p in panels]}


def distance_trajectories(title: str, labels: Sequence[str],
                          runs: Sequence[tuple[int, Sequence[int], Sequence[Sequence[float]]]]) -> dict[str, Any]:
    """Per seed: checkpoint steps and each label's minimum distance at every step."""
    return {
        "kind": "distance_trajectories", "title": title, "labels": list(labels),
        "runs": [{"seed": s, "steps": [int(t) for t in steps],
                  "min_distance": [[_num(v) for v in row] for row in dist]} for s, steps, dist in runs],
    }


def distance_bars(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]]
                  ) -> dict[str, Any]:
    return {"kind": "distance_bars", "title": title, "labels": list(labels),
            "series": [{"name": n, "values": [_num(v) for v in vals]} for n, vals in series]}


def layer_similarity(title: str, layers: Sequence[int], series: Sequence[tuple[str, Sequence[float]]]
                     ) -> dict[str, Any]:
    return {"kind": "layer_similarity", "title": title, "layers": [int(v) for v in layers],
            "series": [{"name": n, "values": [_num(v) for v in vals]} for n, vals in series]}


def accuracy_by_layers(title: str, points: Sequence[tuple[int, float]], full: float, frozen: float,
                       mode: str = "partial") -> dict[str, Any]:
    out = {"kind": "accuracy_by_layers", "title": title, "full": _num(full), "frozen": _num(frozen),
           "points": [{"layers": int(k), "accuracy": _num(a)} for k, a in points]}
    return out if mode == "partial" else {**out, "mode": mode}


def centroid_paths(title: str, labels: Sequence[str], centroids: Sequence[np.ndarray]) -> dict[str, Any]:
    """``centroids[t]``: every label's centroid (labels x dim) at checkpoint t; drawn as each
    label's path on the first two principal components of all of them."""
    stacked = np.concatenate([np.asarray(c, float) for c in centroids])
    centred = stacked - stacked.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    xy = (centred @ vt[:2].T).reshape(len(centroids), len(labels), -1)
    return {"kind": "centroid_paths", "title": title, "labels": list(labels),
            "paths": [[[_num(v) for v in xy[t, k, :2]] for t in range(len(centroids))] for k in range(len(labels))]}


def centroid_pca(title: str, layers: Sequence[int], movements: Sequence[np.ndarray]) -> dict[str, Any]:
    """``movements[l]``: each label's centroid movement (labels x dim) at layer ``layers[l]``,
    projected on that layer's first two (uncentred) principal directions: a layer whose labels
    move along one shared direction shows arrows on one line."""
    panels = []
    for layer, m in zip(layers, movements, strict=True):
        m = np.asarray(m, float)
        _, _, vt = np.linalg.svd(m, full_matrices=False)
        xy = m @ vt[:2].T
        xy = np.pad(xy, ((0, 0), (0, 2 - xy.shape[1])))  # (fewer than two directions: zeros)
        panels.append({"layer": int(layer), "points": [[_num(v) for v in row] for row in xy]})
    return {"kind": "centroid_pca", "title": title, "panels": panels}


def seed_boxes(title: str, series: Sequence[tuple[str, Sequence[float]]]) -> dict[str, Any]:
    return {"kind": "seed_boxes", "title": title,
            "series": [{"name": n, "values": [_num(v) for v in vals]} for n, vals in series]}


def word_lists(title: str, relatedness: str,
               lists: Sequence[tuple[str, Sequence[tuple[str, float, float]]]]) -> dict[str, Any]:
    """Side-by-side word lists: (name, [(word, relevance difference, relatedness), ...])."""
    return {"kind": "word_lists", "title": title, "relatedness": relatedness,
            "lists": [{"name": n, "words": [{"word": w, "difference": _num(d), "relatedness": _num(r)}
                                            for w, d, r in words]} for n, words in lists]}


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """A small table (strings and numbers) that the report lays out as one."""
    return {"kind": "table", "title": title, "columns": [str(c) for c in columns],
            "rows": [[_num(c) if isinstance(c, int | float) and not isinstance(c, bool) else str(c) for c in row]
                     for row in rows]}


def ref(artifact) -> str:
    """How a figure names an artifact: ``"<kind>/<key>"``."""
    return f"{artifact.kind}/{artifact.key}"

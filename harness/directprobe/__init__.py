"""DirectProbe (Zhou and Srikumar, NAACL 2021 and ACL 2022): label clusters and the distances
between them, exactly (docs/directprobe.md).

This is the public API. Below it: the engine (``engine``: the overlap LPs, their certificates,
the agglomeration, hull distances), the kept LPs' simplex walk (``simplex``) and the logistic
search for separating planes (``logistic``), both compiled with Numba, and the worker pool that
runs several probes side by side (``pool``)."""

from .engine import (
    OVERLAP_TIMINGS,
    Clusters,
    Counters,
    LabelDistances,
    Probed,
    cluster,
    label_distances,
    min_per_label,
    overlap_seconds,
    probe,
    replicate_label_distances,
    spatial_similarity,
)

__all__ = ["OVERLAP_TIMINGS", "Clusters", "Counters", "LabelDistances", "Probed", "cluster", "label_distances",
           "min_per_label", "overlap_seconds", "probe", "replicate_label_distances", "spatial_similarity"]

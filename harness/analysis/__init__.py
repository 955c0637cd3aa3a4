"""What the claims compute from artifacts, on the CPU, training nothing: statistics (``stats``:
paired intervals, equivalence, the jackknife, Holm), principal components (``geometry``),
representation similarity (``similarity``), Zhou and Srikumar's MLP probe (``probes``), 2-D maps
(``maps``), sparse baselines (``sparse``) and token relevance (``attribution``)."""

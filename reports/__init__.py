"""The report generator: verdicts (and artifacts) in, a reproducibility report out."""

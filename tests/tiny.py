"""Tiny fixture files for the tests that run claims in a subprocess: the offline encoder's first two
layers on a few generated reviews, so that a whole run takes seconds."""

from __future__ import annotations

TASK = """source = "synthetic"
kind = "{kind}"
n_train = {n_train}
n_validation = {n_validation}
n_test = {n_test}
seed = {seed}
"""


def tiny_fixture(name: str, claims: str, *, n_train: int = 48, n_validation: int = 16, n_test: int = 40,
                 head: str = 'kind = "logreg"', other_task: bool = False) -> str:
    """A fixture's TOML: ``claims`` is the text of its ``[claims.*]`` tables, ``head`` that of its
    ``[frozen_head]``; ``other_task`` adds generated topics as task B."""
    sizes = dict(n_train=n_train, n_validation=n_validation, n_test=n_test)
    other = f"[other_task]\n{TASK.format(kind='topic', seed=1, **sizes)}" if other_task else ""
    return (f'name = "{name}"\nprofile = "smoke"\n[encoder]\nname = "offline:minilm-l2"\n'
            f"[task]\n{TASK.format(kind='sentiment', seed=0, **sizes)}{other}"
            "[fine_tune]\nepochs = 1\nlr = 1e-4\nbatch_size = 16\nmax_length = 16\n"
            f"[frozen_head]\n{head}\n{claims.strip()}\n")

"""Zhou and Srikumar's probe (2022, section 2.1): a two-layer ReLU MLP from scikit-learn.

Hidden sizes are grid-searched over {32, 64, 128, 256} x {32, 64, 128, 256} and the L2 weight over
1e-7..1, with Adam and at most 1,000 iterations; the best setting (by validation accuracy) is then
trained from ``restarts`` initialisations (5 in the paper) and the test accuracy reported as mean
and sd. The same probe is trained on the original and on the fine-tuned representation alike.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

PAPER_HIDDEN = (32, 64, 128, 256)
PAPER_ALPHAS = (1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)


@dataclass(frozen=True)
class ProbeConfig:
    """The grid and the protocol (defaults: the paper's)."""

    hidden: tuple[int, ...] = PAPER_HIDDEN
    alphas: tuple[float, ...] = PAPER_ALPHAS
    max_iter: int = 1000
    restarts: int = 5

    def __post_init__(self) -> None:
        if not self.hidden or any(not isinstance(h, int) or h < 1 for h in self.hidden):
            raise ConfigError(f"probe hidden sizes must be positive integers, got {self.hidden}")
        if not self.alphas or any(not a >= 0 for a in self.alphas):
            raise ConfigError(f"probe L2 weights must be non-negative, got {self.alphas}")
        if self.max_iter < 1 or self.restarts < 1:
            raise ConfigError(f"probe max_iter and restarts must be at least 1, got {self.max_iter}, {self.restarts}")


@dataclass(frozen=True)
class ProbeResult:
    hidden: tuple[int, int]
    alpha: float
    validation_accuracy: float  # of the chosen setting, first initialisation
    test_accuracy: tuple[float, ...]  # one per restart
    test_correct: tuple[bool, ...] = ()  # per test item, the first initialisation (paired comparisons)

    @property
    def mean(self) -> float:
        return float(np.mean(self.test_accuracy))

    @property
    def sd(self) -> float:
        return float(np.std(self.test_accuracy, ddof=1)) if len(self.test_accuracy) > 1 else 0.0


def _mlp(hidden: tuple[int, int], alpha: float, max_iter: int, seed: int):
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(hidden_layer_sizes=hidden, activation="relu", solver="adam", alpha=alpha,
                         max_iter=max_iter, random_state=seed)


def zhou_probe(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
               x_test: np.ndarray, y_test: np.ndarray, config: ProbeConfig = ProbeConfig(), seed: int = 0
               ) -> ProbeResult:
    """Grid-search the probe on validation accuracy, then train the best setting ``restarts``
    times (initialisations ``seed``, ``seed + 1``, ...) and score each on the test split."""
    from sklearn.exceptions import ConvergenceWarning

    for name, (x, y) in {"train": (x_train, y_train), "validation": (x_val, y_val), "test": (x_test, y_test)}.items():
        if len(x) != len(y) or len(x) == 0:
            raise ConfigError(f"probe {name} split: {len(x)} vectors and {len(y)} labels")
    grid: Sequence[tuple[tuple[int, int], float]] = [((a, b), alpha) for a, b in itertools.product(config.hidden, repeat=2)
                                                     for alpha in config.alphas]
    best, best_acc, best_model = None, -1.0, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 1,000 iterations is the paper's cap
        for hidden, alpha in grid:
            model = _mlp(hidden, alpha, config.max_iter, seed).fit(x_train, y_train)
            acc = float(model.score(x_val, y_val))
            if acc > best_acc:  # ties: the first (smallest) setting in grid order
                best, best_acc, best_model = (hidden, alpha), acc, model
        hidden, alpha = best
        correct = []
        for r in range(config.restarts):  # the first restart is the grid's fit of the chosen setting (same seed)
            model = best_model if r == 0 else _mlp(hidden, alpha, config.max_iter, seed + r).fit(x_train, y_train)
            correct.append(np.asarray(model.predict(x_test)) == np.asarray(y_test))
    return ProbeResult(hidden, alpha, best_acc, tuple(float(c.mean()) for c in correct),
                       tuple(bool(v) for v in correct[0]))

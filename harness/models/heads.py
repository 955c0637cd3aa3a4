"""Classification heads on fixed feature vectors, and how to train them.

- ``roberta``: the head of RoBERTa / CamemBERT sequence classification (dense, tanh, dense) that
  Bogaert et al. train on frozen first-token vectors (no dropout there, 20 epochs); the fine-tuning
  protocol uses the same head on top of the encoder, with dropout as Hugging Face does.
- ``mlp``: Zhou and Srikumar's two-layer MLP probe (dense, ReLU, dense).
- ``logreg``: scikit-learn's L2 logistic regression on standardised features, the usual linear
  probe.

:func:`train_head` returns a fitted :class:`FittedHead` whose ``logits`` work on new features.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..constraints import Constraint, Interval, Options, OrNone, check_fields
from ..errors import ConfigError, diverged
from ..runtime import seeded

HEAD_KINDS = ("roberta", "mlp", "logreg")


class RobertaStyleHead(nn.Module):
    """dropout, dense (dim -> hidden), tanh, dropout, dense (hidden -> labels)."""

    def __init__(self, dim: int, num_labels: int, hidden: int | None = None, dropout: float = 0.0):
        super().__init__()
        hidden = hidden or dim
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(dim, hidden)
        self.out_proj = nn.Linear(hidden, num_labels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.tanh(self.dense(self.dropout(x)))
        return self.out_proj(self.dropout(x))


class MLPProbe(nn.Module):
    """dense (dim -> hidden), ReLU, dense (hidden -> labels)."""

    def __init__(self, dim: int, num_labels: int, hidden: int = 256):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, num_labels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@dataclass(frozen=True)
class HeadConfig:
    """How to train a head on frozen features.

    Defaults follow Bogaert et al.'s frozen protocol (RoBERTa-style head, no dropout, 20 epochs);
    the paper gives no learning rate for it, 1e-3 with AdamW is the usual choice for a head on
    fixed features. ``hidden`` defaults to the feature width (roberta) or 256 (mlp). ``C`` is the
    inverse regularisation strength of ``logreg``.
    """

    kind: str = "roberta"
    epochs: int = 20
    lr: float = 1e-3
    batch_size: int = 32
    hidden: int | None = None
    weight_decay: float = 0.0
    C: float = 1.0

    def __post_init__(self) -> None:
        check_fields(self, FROZEN_HEAD, "[frozen_head]")


# What each [frozen_head] key allows (harness/constraints.py)
FROZEN_HEAD: dict[str, Constraint] = {
    "kind": Options(HEAD_KINDS), "epochs": Interval(int, 1), "lr": Interval(float, 0, closed="right"),
    "batch_size": Interval(int, 1), "hidden": OrNone(Interval(int, 1)), "weight_decay": Interval(float, 0),
    "C": Interval(float, 0, closed="right"),
}


def make_head(config: HeadConfig, dim: int, num_labels: int, dropout: float = 0.0) -> nn.Module:
    if config.kind == "roberta":
        return RobertaStyleHead(dim, num_labels, config.hidden, dropout)
    if config.kind == "mlp":
        return MLPProbe(dim, num_labels, config.hidden or 256)
    raise ConfigError(f"head kind {config.kind!r} is not a torch module")


class FittedHead:
    """A trained head: ``logits(features)`` and ``save(folder)``."""

    def __init__(self, config: HeadConfig, module: nn.Module | None = None, sklearn_model=None):
        self.config, self.module, self.sklearn_model = config, module, sklearn_model

    def logits(self, features: np.ndarray) -> np.ndarray:
        x = np.asarray(features, dtype=np.float32)
        if self.sklearn_model is not None:
            scores = self.sklearn_model.decision_function(x)
            return np.stack([-scores, scores], axis=1) / 2 if scores.ndim == 1 else scores
        assert self.module is not None
        self.module.eval()
        with torch.inference_mode():
            return self.module(torch.from_numpy(x)).numpy()

    def save(self, folder: Path) -> None:
        """Weights as safetensors (torch) or .npy arrays (logreg); never pickle."""
        folder.mkdir(parents=True, exist_ok=True)
        if self.module is not None:
            from safetensors.torch import save_file

            save_file({k: v.contiguous() for k, v in self.module.state_dict().items()}, folder / "head.safetensors")
        else:
            scaler, clf = self.sklearn_model.named_steps.values()
            for name, value in (("scaler_mean", scaler.mean_), ("scaler_scale", scaler.scale_),
                                ("coef", clf.coef_), ("intercept", clf.intercept_)):
                np.save(folder / f"{name}.npy", value, allow_pickle=False)


def train_head(
    features: np.ndarray, labels: np.ndarray, num_labels: int, config: HeadConfig, seed: int,
    progress: Callable[[int], None] | None = None, device: str | torch.device = "cpu",
) -> FittedHead:
    """Fit a head of ``config.kind`` on ``(n, dim)`` features; deterministic for a given seed on
    the CPU. ``progress(epochs_done)`` is called after every epoch (torch heads).

    ``device``: where a torch head trains (the fitted head is returned on the CPU). On a GPU the
    features are copied there once and each step is a handful of small kernels. Bogaert's frozen
    protocol on Allocine (20 epochs over 160,000 vectors, batch 32: 100,000 steps) takes about
    10 minutes on 2 CPU cores (about 160 steps/s) and 2.8 minutes on an H100 (595 steps/s,
    tests/test_gpu.py).
    """
    features = np.asarray(features, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int64)
    if features.ndim != 2 or len(features) != len(labels):
        raise ConfigError(f"features must be (n, dim) with n = {len(labels)} labels, got {features.shape}")
    if config.kind == "logreg":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        model = make_pipeline(StandardScaler(), LogisticRegression(C=config.C, max_iter=5000))
        model.fit(features, labels)
        return FittedHead(config, sklearn_model=model)

    device = torch.device(device)
    with seeded(seed, deterministic=device.type == "cpu"):
        module = make_head(config, features.shape[1], num_labels).to(device)
        x, y = torch.from_numpy(features).to(device), torch.from_numpy(labels).to(device)
        optimizer = torch.optim.AdamW(module.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        steps_per_epoch = math.ceil(len(x) / config.batch_size)
        total = steps_per_epoch * config.epochs
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 - step / total)
        generator = torch.Generator().manual_seed(seed)
        loss_fn = nn.CrossEntropyLoss()
        module.train()
        for epoch in range(config.epochs):
            if progress is not None:
                progress(epoch)
            order = torch.randperm(len(x), generator=generator).to(device)
            epoch_losses = []
            for start in range(0, len(x), config.batch_size):
                batch = order[start : start + config.batch_size]
                loss = loss_fn(module(x[batch]), y[batch])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                epoch_losses.append(loss.detach())
            losses = torch.stack(epoch_losses)  # one host sync per epoch
            if not bool(torch.isfinite(losses).all()):
                first = int((~torch.isfinite(losses)).nonzero()[0, 0])
                raise diverged("the frozen head's training", float(losses[first]),
                               epoch * steps_per_epoch + first + 1, total, seed, config.lr)
        if progress is not None:
            progress(config.epochs)
        module.cpu().eval()
    return FittedHead(config, module=module)

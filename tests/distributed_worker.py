"""One rank of the data-parallel test (tests/test_distributed.py runs it under torchrun)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch


def run(out: Path, store_root: Path | None) -> dict:
    from harness import distributed
    from harness.data.synthetic import generate_task
    from harness.models.encoders import EncoderSpec, encode, load_encoder
    from harness.training.protocols import FineTuneConfig, fine_tune

    task = generate_task("sentiment", n_train=43, n_validation=8, n_test=21, signal=1.0, seed=5)
    enc = load_encoder(EncoderSpec("offline:minilm-l2"))
    for module in enc.model.modules():  # no dropout: one process and two draw different masks
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    config = FineTuneConfig(epochs=1, lr=1e-3, batch_size=8, max_length=24, head_dropout=0.0)
    result = fine_tune(enc, task, config, seed=0)
    weights = torch.cat([p.detach().flatten() for p in result.classifier.parameters()]).numpy()
    emb = encode(enc.model, enc.tokenizer, list(task["test"].texts), layers=(-1,), max_length=24, batch_size=4)[2]
    found = {}
    if store_root is not None:
        from harness.store import ArtifactStore

        store = ArtifactStore(store_root)
        calls = []

        def build(folder: Path):
            calls.append(distributed.rank())
            total = distributed.all_reduce_mean(torch.tensor(float(distributed.rank() + 1)))  # a collective
            (folder / "who.json").write_text(json.dumps({"rank": distributed.rank()}))
            return {"mean_rank_plus_one": float(total)}

        first = store.get_or_build("toy", "1", {"x": 1}, build)
        again = store.get_or_build("toy", "1", {"x": 1}, build)
        found = {"calls": calls, "first_hit": first.cache_hit, "again_hit": again.cache_hit,
                 "who": first.json("who")["rank"], "meta": first.meta, "same_path": str(first.path) == str(again.path)}
    if distributed.is_main():
        np.savez(out / "result.npz", losses=np.asarray(result.losses), weights=weights, emb=emb)
        (out / "store.json").write_text(json.dumps(found))
    return {"losses": result.losses, "weights": weights, "emb": emb}


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    run(Path(sys.argv[1]), Path(sys.argv[2]))

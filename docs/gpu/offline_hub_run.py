"""The first paper-scale run, offline: a Hugging Face cache holding the repositories the full
fixture `bert-base-sst2` names, filled with real rows, for a machine that cannot reach the hub.

    python docs/gpu/offline_hub_run.py prepare DIR    # here: DIR/hf_home (data) and DIR/minilm16
    python docs/gpu/offline_hub_run.py install DIR    # there: the encoder into DIR/hf_home

`prepare` writes, in the layouts the hub has them (tests/hubcache.py):

- `nyu-mll/glue`, configuration `sst2`: the SST-2 sentences of `../shared/data/sst2` (train 6,920,
  validation 872, test 1,821; the sentence-level SST-2, not GLUE's 67,349 phrases);
- `CogComp/trec` at `refs/convert/parquet`: the 5,452 + 500 TREC questions with both label columns
  (`coarse_label` from trec6, `fine_label` from trec50: the same questions in the same order);
- the offline MiniLM's weights in float16 (45 MB: the device tool carries 64 MiB at most), which
  `install` writes back as float32 under `google-bert/bert-base-uncased`, standing in for it.

Then, with `HF_HOME=DIR/hf_home HF_HUB_OFFLINE=1`, `pytest claims -m full --claim-fixtures
fixtures/full/bert-base-sst2.toml` reads everything through the project's own loaders.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
ENCODER = "google-bert/bert-base-uncased"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _write(snap: Path, rel: str, columns: dict, names: dict[str, list[str]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    features = {k: ({"names": names[k], "_type": "ClassLabel"} if k in names else {"dtype": "string", "_type": "Value"})
                for k in columns}
    table = pa.table(columns).replace_schema_metadata({b"huggingface": json.dumps({"info": {"features": features}}).encode()})
    path = snap / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def prepare(out: Path) -> None:
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    from hubcache import snapshot_folder

    from harness.models.encoders import offline_model_dir

    home = out / "hf_home"
    shutil.rmtree(home, ignore_errors=True)
    snap, _ = snapshot_folder(home, "datasets", "nyu-mll/glue", None)
    sst_names = ["negative", "positive"]
    for split in ("train", "validation", "test"):
        rows = _rows(SHARED / "sst2" / f"{split}.jsonl")
        _write(snap, f"sst2/{split}-00000-of-00001.parquet",
               {"sentence": [r["text"] for r in rows], "label": [sst_names.index(r["label"]) for r in rows],
                "idx": list(range(len(rows)))}, {"label": sst_names})
    snap, _ = snapshot_folder(home, "datasets", "CogComp/trec", "refs/convert/parquet")
    coarse = sorted({r["label"] for r in _rows(SHARED / "trec6" / "train.jsonl")})
    fine = sorted({r["label"] for r in _rows(SHARED / "trec50" / "train.jsonl")}
                  | {r["label"] for r in _rows(SHARED / "trec50" / "test.jsonl")})
    for split in ("train", "test"):
        six, fifty = _rows(SHARED / "trec6" / f"{split}.jsonl"), _rows(SHARED / "trec50" / f"{split}.jsonl")
        assert [r["text"] for r in six] == [r["text"] for r in fifty]
        _write(snap, f"default/{split}/0000.parquet",
               {"text": [r["text"] for r in six], "coarse_label": [coarse.index(r["label"]) for r in six],
                "fine_label": [fine.index(r["label"]) for r in fifty]}, {"coarse_label": coarse, "fine_label": fine})
    from safetensors.torch import load_file, save_file

    half = out / "minilm16"
    half.mkdir(parents=True, exist_ok=True)
    source = offline_model_dir()
    save_file({k: v.half().contiguous() for k, v in load_file(source / "model.safetensors").items()},
              half / "model.safetensors")
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (source / name).exists():
            shutil.copy(source / name, half / name)
    print(f"prepared {home} and {half}")


def install(out: Path) -> None:
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    from hubcache import snapshot_folder
    from safetensors.torch import load_file, save_file

    snap, commit = snapshot_folder(out / "hf_home", "models", ENCODER, None)
    half = out / "minilm16"
    save_file({k: v.float().contiguous() for k, v in load_file(half / "model.safetensors").items()},
              snap / "model.safetensors")
    for f in half.iterdir():
        if f.name != "model.safetensors":
            shutil.copy(f, snap / f.name)
    print(f"installed MiniLM (float16 -> float32) as {ENCODER}@{commit}")


if __name__ == "__main__":
    {"prepare": prepare, "install": install}[sys.argv[1]](Path(sys.argv[2]))

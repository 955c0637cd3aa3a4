"""The artifact store: keys, cache hits, atomic writes under kill, corruption, one builder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from harness.errors import ConfigError
from harness.store import ArtifactStore, artifact_key

ROOT = Path(__file__).resolve().parents[1]


def writer(calls: list, value: float = 1.0):
    def build(folder: Path):
        calls.append(folder)
        np.save(folder / "x.npy", np.full(4, value, dtype=np.float32))
        (folder / "sub").mkdir()
        (folder / "sub" / "note.txt").write_text("hello")
        return {"value": value}

    return build


def test_key_is_canonical_and_sensitive():
    a = artifact_key("k", "1", {"b": 1, "a": [1, 2], "c": {"y": 1, "x": 2}})
    b = artifact_key("k", "1", {"c": {"x": 2, "y": 1}, "a": (1, 2), "b": 1})
    assert a == b
    assert a != artifact_key("k", "2", {"b": 1, "a": [1, 2], "c": {"y": 1, "x": 2}})
    assert a != artifact_key("k", "1", {"b": 2, "a": [1, 2], "c": {"y": 1, "x": 2}})
    assert a != artifact_key("j", "1", {"b": 1, "a": [1, 2], "c": {"y": 1, "x": 2}})
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        artifact_key("k", "1", {"f": object()})


def test_second_call_is_a_cache_hit_and_recomputes_nothing(tmp_path):
    store, calls = ArtifactStore(tmp_path), []
    first = store.get_or_build("demo", "1", {"a": 1}, writer(calls))
    second = store.get_or_build("demo", "1", {"a": 1}, writer(calls))
    third = ArtifactStore(tmp_path).get_or_build("demo", "1", {"a": 1}, writer(calls))  # new process view
    assert len(calls) == 1
    assert not first.cache_hit and second.cache_hit and third.cache_hit
    assert first.path == second.path == third.path
    assert np.array_equal(third.array("x"), np.ones(4, dtype=np.float32))
    assert third.meta == {"value": 1.0}
    manifest = third.manifest
    assert manifest["inputs"] == {"a": 1} and set(manifest["files"]) == {"x.npy", "sub/note.txt"}
    assert manifest["environment"]["packages"]["numpy"] == np.__version__
    assert manifest["wall_time_s"] >= 0
    store.get_or_build("demo", "1", {"a": 2}, writer(calls))
    assert len(calls) == 2
    assert store.find("demo", "1", {"a": 1}) is not None and store.find("demo", "1", {"a": 3}) is None


def test_failed_build_leaves_nothing(tmp_path):
    store = ArtifactStore(tmp_path)

    def broken(folder: Path):
        (folder / "half.npy").write_bytes(b"partial")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        store.get_or_build("demo", "1", {"a": 1}, broken)
    assert store.find("demo", "1", {"a": 1}) is None
    assert not any((tmp_path / ".tmp").iterdir())
    assert not (tmp_path / "demo").exists() or not any((tmp_path / "demo").rglob("half.npy"))


KILLED_BUILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import numpy as np
    from harness.store import ArtifactStore

    def build(folder):
        np.save(folder / "x.npy", np.zeros(1000))
        Path(sys.argv[2]).write_text("writing")
        time.sleep(60)

    ArtifactStore(sys.argv[1]).get_or_build("demo", "1", {"a": 1}, build)
    """
)


def test_a_kill_mid_write_leaves_no_artifact_and_the_next_run_resumes(tmp_path):
    marker = tmp_path / "started"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_BUILD, str(tmp_path / "store"), str(marker)],
                            cwd=ROOT)
    deadline = time.time() + 60
    while not marker.exists():
        assert proc.poll() is None, "the builder died before it started writing"
        assert time.time() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert list((tmp_path / "store" / ".tmp").iterdir())  # the killed build's scratch folder
    store = ArtifactStore(tmp_path / "store")
    assert not list((tmp_path / "store" / ".tmp").iterdir())  # swept when the store is opened
    assert store.find("demo", "1", {"a": 1}) is None  # nothing half-written is visible
    calls = []
    art = store.get_or_build("demo", "1", {"a": 1}, writer(calls))
    assert len(calls) == 1 and art.array("x").shape == (4,)
    assert not list((tmp_path / "store" / ".tmp").iterdir())  # swept


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete", "manifest", "meta", "unlisted", "unsealed"])
def test_corrupt_artifact_is_detected_kept_aside_and_rebuilt(tmp_path, damage):
    calls = []
    art = ArtifactStore(tmp_path).get_or_build("demo", "1", {"a": 1}, writer(calls))
    target = art.path / "x.npy"
    if damage == "flip":
        raw = bytearray(target.read_bytes())
        raw[-1] ^= 0xFF
        target.write_bytes(bytes(raw))
    elif damage == "truncate":
        target.write_bytes(target.read_bytes()[:-3])
    elif damage == "delete":
        target.unlink()
    elif damage == "manifest":
        (art.path / "manifest.json").write_text("{not json")
    elif damage in ("meta", "unsealed"):  # an accuracy edited by hand, or the seal removed with it
        manifest = json.loads((art.path / "manifest.json").read_text())
        manifest["meta"]["edited"] = 0.99
        if damage == "unsealed":
            del manifest["seal"]
        (art.path / "manifest.json").write_text(json.dumps(manifest))
    else:  # a file planted beside the listed ones
        (art.path / "planted.npy").write_bytes(b"not listed")
    fresh = ArtifactStore(tmp_path)
    with pytest.warns(UserWarning, match="stored before manifests were sealed" if damage == "unsealed" else "is damaged"):
        again = fresh.get_or_build("demo", "1", {"a": 1}, writer(calls))
    assert len(calls) == 2 and not again.cache_hit
    assert np.array_equal(again.array("x"), np.ones(4, dtype=np.float32))
    assert len(list((tmp_path / ".corrupt").iterdir())) == 1  # kept for inspection, not deleted
    assert fresh.stats.rebuilt_corrupt


CONCURRENT_BUILD = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from harness.store import ArtifactStore

    def build(folder):
        with open(sys.argv[2], "a") as fh:
            fh.write("built\\n")
        time.sleep(1.5)
        np.save(folder / "x.npy", np.arange(3))

    art = ArtifactStore(sys.argv[1]).get_or_build("demo", "1", {"a": 1}, build)
    print(art.array("x").sum())
    """
)


def test_two_processes_needing_one_artifact_build_it_once(tmp_path):
    log = tmp_path / "builds.log"
    procs = [subprocess.Popen([sys.executable, "-c", CONCURRENT_BUILD, str(tmp_path / "s"), str(log)],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outs == ["3", "3"]
    assert log.read_text().count("built") == 1


def test_kind_must_be_a_plain_name(tmp_path):
    with pytest.raises(ConfigError, match="artifact kind"):
        ArtifactStore(tmp_path).get_or_build("../evil", "1", {}, writer([]))

"""``python -m harness.pipeline.stage_benchmark``: its table and its comparison of conclusions (the runs
themselves are the main job, timed in docs/benchmarks.md)."""

from __future__ import annotations

from harness.pipeline.stage_benchmark import compare, table


def run(wall, stages, conclusions):
    return {"wall_s": wall, "cpu_s": 2 * wall, "stage_times_s": stages, "conclusions": conclusions}


def test_a_changed_or_missing_conclusion_is_a_difference():
    base = run(100.0, {"fine-tune": 60.0}, {"a / f": "reproduced", "b / f": "inconclusive", "c / g": "contradicted"})
    same = run(50.0, {"fine-tune": 30.0}, dict(base["conclusions"]))
    assert compare(base, same) == []
    other = run(50.0, {}, {"a / f": "reproduced", "b / f": "contradicted"})
    assert compare(base, other) == ["b / f: inconclusive -> contradicted", "c / g: contradicted -> (absent)"]


def test_the_table_has_a_row_per_stage_of_any_run_and_a_column_per_run():
    runs = {"before": run(100.0, {"fine-tune": 60.0, "sparse": 5.0}, {"a / f": "reproduced"}),
            "after": run(50.0, {"fine-tune": 30.0, "zeta": 1.0}, {"a / f": "reproduced"})}
    lines = table(runs).splitlines()
    assert lines[0] == "| | before | after |"
    assert "| wall (s) | 100.0 | 50.0 |" in lines and "| CPU, user + system (s) | 200.0 | 100.0 |" in lines
    assert "| stage: fine-tune (s) | 60.0 | 30.0 |" in lines and "| stage: sparse (s) | 5.0 | 0.0 |" in lines
    assert lines.index("| stage: sparse (s) | 5.0 | 0.0 |") < lines.index("| stage: zeta (s) | 0.0 | 1.0 |")
    assert lines[-1] == "| verdicts | 1 | 1 |"


def test_it_runs_from_the_repository_with_each_trees_own_plugin(tmp_path, monkeypatch):
    """ROOT is the repository (the module sits two folders down); a tree's run loads that tree's
    claims plugin, or none beside its conftest.py for a tree from before claims/plugin.py."""
    from harness.pipeline import stage_benchmark

    assert (stage_benchmark.ROOT / "pyproject.toml").exists() and (stage_benchmark.ROOT / "claims").is_dir()
    seen, envs = [], []
    monkeypatch.setattr(stage_benchmark.subprocess, "run", lambda cmd, **kw: seen.append(cmd) or envs.append(kw["env"])
                        or stage_benchmark.subprocess.CompletedProcess(cmd, 0, stdout="done\n"))
    old = tmp_path / "old"
    (old / "claims").mkdir(parents=True)
    stage_benchmark.run_main_job(old, tmp_path / "s1", tmp_path / "r1", [], tmp_path / "n1")
    stage_benchmark.run_main_job(stage_benchmark.ROOT, tmp_path / "s2", tmp_path / "r2", [], tmp_path / "n2")
    assert "no:finetune_claims" in seen[0] and "claims.plugin" not in seen[0]
    assert seen[1][seen[1].index("no:finetune_claims") + 2] == "claims.plugin"
    # each run compiles DirectProbe's Numba loops into its own cache, not the sources' __pycache__
    # (which a tree that ran before has warm: a baseline worktree's first run would pay what this one does not)
    assert [e["NUMBA_CACHE_DIR"] for e in envs] == [str(tmp_path / "n1"), str(tmp_path / "n2")]

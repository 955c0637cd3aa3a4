"""Fixture files: the shipped ones load, and mistakes are named with file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from claims.fixture import load_fixture, load_fixtures
from harness.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]

MINIMAL = """
name = "mini"
profile = "smoke"
[encoder]
name = "offline:minilm-l2"
[task]
source = "synthetic"
kind = "sentiment"
[claims.no_overfitting]
"""


def write(tmp_path: Path, text: str, name: str = "f.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_fixtures_load():
    fixtures = load_fixtures([ROOT / "fixtures"])
    names = [f.name for f in fixtures]
    assert len(names) == len(set(names)) >= 1
    assert {f.profile for f in fixtures} <= {"smoke", "full"}
    for fx in fixtures:
        assert fx.claims, fx.path


def test_minimal_fixture_gets_defaults(tmp_path):
    fx = load_fixture(write(tmp_path, MINIMAL))
    assert fx.seeds == (0,) and fx.fine_tune.lr == 2e-5 and fx.frozen_head.kind == "roberta"
    assert fx.claims["no_overfitting"]["tolerance"] == 0.05
    assert not fx.needs_hub
    assert fx.with_seeds(3).seeds == (0, 1, 2)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: "learning_rate = 1\n" + t, r"unknown key\(s\) \[.learning_rate.\]; allowed: \[.claims."),
        (lambda t: t.replace('profile = "smoke"', 'profile = "huge"'), r"profile = 'huge': must be one of"),
        (lambda t: t + "\n[claims.overfits]\n", r"unknown claim 'overfits'"),
        (lambda t: t + "tolerence = 0.1\n", r"\[claims.no_overfitting\] unknown key\(s\) \['tolerence'\]"),
        (lambda t: t + "\n[claims.accuracy_gap]\nexpect = \"better\"\n",
         r"\[claims.accuracy_gap\] expect = 'better': must be one of \['reproduced', 'contradicted'"),
        (lambda t: t + "\n[claims.accuracy_gap]\nexpect = \"not_significant\"\n",
         r"expect = 'not_significant': .*now `paper_says = 'no_difference'`"),
        (lambda t: t + "\n[claims.cross_task]\n", r"\[claims.cross_task\] needs an \[other_task\]"),
        # the faithful-verdicts issue's late mistakes, now refused when the fixture is loaded
        (lambda t: t + "tolerance = \"five percent\"\n",
         r"\[claims.no_overfitting\] tolerance = 'five percent': must be a number in \[0, 1\]"),
        (lambda t: t + "\n[fine_tune]\nepochs = \"3\"\n", r"\[fine_tune\] epochs = '3': must be an integer"),
        (lambda t: t + "\n[fine_tune]\nepochs = 2.5\n", r"\[fine_tune\] epochs = 2.5: must be an integer"),
        (lambda t: t + "\n[fine_tune]\nbatch_size = true\n", r"\[fine_tune\] batch_size = True: must be an integer"),
        (lambda t: t + "\n[fine_tune]\nlr = \"fast\"\n", r"\[fine_tune\] lr = 'fast': must be a number > 0"),
        (lambda t: t + "\n[fine_tune]\nlr = inf\n", r"\[fine_tune\] lr = inf: must be a number > 0"),
        (lambda t: t + "\n[claims.accuracy_gap]\nalpha = 5\n",
         r"\[claims.accuracy_gap\] alpha = 5: must be a number in \(0, 0.5\)"),
        (lambda t: t + "\n[claims.label_distances]\n",
         r"\[claims.label_distances\] needs \[fine_tune\] snapshot_at with at least two checkpoints"),
        (lambda t: t + "\n[claims.discriminant_words]\nrelatedness = \"lexicon\"\n",
         r"relatedness = 'lexicon' needs a non-empty `lexicon`"),
        (lambda t: t + "\n[claims.seed_welch]\na = \"top-two\"\n", r"a = 'top-two': must be a string matching"),
        (lambda t: t + "\n[claims.no_forgetting]\n", r"\[claims.no_forgetting\] corpus: required \(the CoNLL-U treebank to probe\); must be a path"),
        (lambda t: t + "\n[claims.no_forgetting]\ncorpus = \"pud.conllu\"\nalphas = [\"small\"]\n",
         r"alphas = \['small'\]: each must be a non-negative number"),
        (lambda t: t + "\n[claims.sparse_baselines]\nfeatures = [\"bert\"]\n",
         r"features = \['bert'\]: must be a list of one of \['tfidf', 'counts', 'hashing'\]"),
        (lambda t: t + "\n[fine_tune]\nepoch = 3\n", r"\[fine_tune\]: unknown key\(s\) \['epoch'\]"),
        (lambda t: t + "\n[fine_tune]\nlr = -1.0\n", r"\[fine_tune\] lr = -1.0: must be a number > 0"),
        (lambda t: t.replace('name = "offline:minilm-l2"', 'name = "offline:gpt"'), r"\[encoder\] name = 'offline:gpt': must be a hub id, a local folder or one of"),
        (lambda t: "seeds = [-1]\n" + t, r": seeds = \[-1\]: must be a list of integers >= 0"),
        (lambda t: "seeds = [true]\n" + t, r": seeds = \[True\]: must be a list of integers >= 0"),
        (lambda t: t.replace('profile = "smoke"', 'profile = "quick"'), r": profile = 'quick': must be one of \['smoke', 'full'\]"),
        (lambda t: t.replace('kind = "sentiment"', 'kind = "sentiment"\nn_tran = 10'),
         r"\[task\]: unknown key\(s\) \['n_tran'\]; allowed: \[.*'n_train'"),
        (lambda t: t.replace('kind = "sentiment"', 'kind = "reviews"'),
         r"\[task\] kind = 'reviews': must be one of \['questions', 'sentiment', 'topic'\]"),
        (lambda t: t.replace('kind = "sentiment"', 'n_train = 10'), r"\[task\]: a synthetic task needs `kind`"),
        (lambda t: t.replace('source = "synthetic"', 'source = "local"'), r"\[task\]: unknown key\(s\) \['kind'\]"),
        (lambda t: t + "\n[frozen_head]\nC = 0\n", r"\[frozen_head\] C = 0: must be a number > 0"),
        (lambda t: t.replace("[encoder]", "[encoder"), "not valid TOML"),
    ],
)
def test_mistakes_name_the_file_and_key(tmp_path, edit, message):
    path = write(tmp_path, edit(MINIMAL))
    with pytest.raises(ConfigError, match=message) as info:
        load_fixture(path)
    assert str(path) in str(info.value)


def test_environment_variables_and_missing_ones(tmp_path, monkeypatch):
    text = MINIMAL.replace('source = "synthetic"\nkind = "sentiment"',
                           'source = "local"\npath = "${CLAIMS_TEST_DATA}/infopinion"')
    monkeypatch.delenv("CLAIMS_TEST_DATA", raising=False)
    assert load_fixture(write(tmp_path, text)).missing_variables == ("CLAIMS_TEST_DATA",)
    monkeypatch.setenv("CLAIMS_TEST_DATA", "/data")
    fx = load_fixture(write(tmp_path, text))
    assert fx.missing_variables == () and dict(fx.task.params)["path"] == "/data/infopinion"


def test_duplicate_names_across_files(tmp_path):
    write(tmp_path, MINIMAL, "a.toml")
    write(tmp_path, MINIMAL, "b.toml")
    with pytest.raises(ConfigError, match="fixture name 'mini' is used by both"):
        load_fixtures([tmp_path])


def test_hub_fixture_needs_hub(tmp_path):
    text = MINIMAL.replace('name = "offline:minilm-l2"', 'name = "bert-base-uncased"')
    assert load_fixture(write(tmp_path, text)).needs_hub


def test_a_fixture_that_is_not_utf8_is_named(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(MINIMAL.replace("mini", "caf\xe9").encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1.toml: not UTF-8 text \(byte \d+"):
        load_fixture(path)


def test_one_bad_file_is_reported_and_the_others_load(tmp_path):
    from claims.fixture import FixtureError

    write(tmp_path, MINIMAL, "good.toml")
    write(tmp_path, MINIMAL.replace('"mini"', '"bad"') + "\n[fine_tune]\nepochs = \"3\"\n", "bad.toml")
    errors: list[FixtureError] = []
    fixtures = load_fixtures([tmp_path], errors)
    assert [f.name for f in fixtures] == ["mini"]
    assert len(errors) == 1 and errors[0].name == "bad" and "epochs = '3'" in errors[0].message
    with pytest.raises(ConfigError, match="epochs = '3'"):
        load_fixtures([tmp_path])  # without a list to collect them, the first error raises


def test_a_local_encoder_folder_that_does_not_exist_is_named(tmp_path):
    """Not 'needs the Hugging Face hub': the skip names the missing folder."""
    fx = load_fixture(write(tmp_path, MINIMAL.replace('name = "offline:minilm-l2"', 'name = "./models/none"')))
    assert fx.missing_paths == (f"[encoder] name = './models/none': no folder at {tmp_path / 'models' / 'none'}",)
    (tmp_path / "models" / "here").mkdir(parents=True)
    fx = load_fixture(write(tmp_path, MINIMAL.replace('name = "offline:minilm-l2"', 'name = "./models/here"')))
    assert fx.missing_paths == () and fx.encoder.name == str(tmp_path / "models" / "here") and not fx.needs_hub


def test_a_claims_own_file_is_resolved_and_named_where_missing(tmp_path):
    """A claim parameter of kind path (no_forgetting's corpus) is relative to the fixture file, like
    a task's; where it is absent only that claim is held back, named by table, key and value."""
    text = MINIMAL + '\n[claims.no_forgetting]\ncorpus = "treebanks/pud.conllu"\n'
    fx = load_fixture(write(tmp_path, text))
    assert fx.claims["no_forgetting"]["corpus"] == str(tmp_path / "treebanks" / "pud.conllu")
    assert fx.missing_paths == ()
    assert fx.missing_claim_inputs == {"no_forgetting": (
        f"[claims.no_forgetting] corpus = 'treebanks/pud.conllu': nothing at {tmp_path / 'treebanks' / 'pud.conllu'}",)}
    (tmp_path / "treebanks").mkdir()
    (tmp_path / "treebanks" / "pud.conllu").write_text("")
    assert load_fixture(write(tmp_path, text)).missing_claim_inputs == {}


def test_the_token_fixtures_share_one_pud_fine_tuning_run():
    """The PUD fixture's task and protocol are the STREUSLE fixture's other task and protocol, so
    that a run fine-tunes PUD once for both (the first run's slowest step): the same artifact key."""
    from harness.pipeline.build import finetune_inputs
    from harness.store import artifact_key

    fixtures = {f.name: f for f in load_fixtures([ROOT / "fixtures" / "smoke"])}
    pud, streusle = fixtures["minilm-pud-pos"], fixtures["minilm-streusle-psfxn"]
    if pud.missing_paths or streusle.missing_paths:
        pytest.skip(f"local input not found at {', '.join(pud.missing_paths + streusle.missing_paths)}")
    tasks = [pud.task.load(), streusle.other_task.load()]
    keys = [artifact_key("finetune", "v", finetune_inputs("offline:minilm-l6", task, fx.fine_tune, 0))
            for task, fx in zip(tasks, (pud, streusle), strict=True)]
    assert keys[0] == keys[1]

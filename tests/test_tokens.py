"""Token-level tasks: POS and DEP from CoNLL-U, PS-role and PS-fxn from STREUSLE's JSON, split by
sentence; counts checked against the data's own README, bad input named by file, sentence, token."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.data.tokens import load_conllu, load_streusle, split_sentences
from harness.errors import DataError

pytest.importorskip("conllu")

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
PUD = SHARED / "ud-english-pud" / "en_pud-ud-test.conllu"
STREUSLE = SHARED / "streusle"

CONLLU = """# sent_id = s1
# text = Don't stop it.
1-2	Don't	_	_	_	_	_	_	_	_
1	Do	do	AUX	VBP	_	3	aux	3:aux	_
2	n't	not	PART	RB	_	3	advmod	3:advmod	_
3	stop	stop	VERB	VB	_	0	root	0:root	_
4	it	it	PRON	PRP	_	3	obj	3:obj	_
4.1	it	it	PRON	PRP	_	_	_	3:obj	_
5	.	.	PUNCT	.	_	3	punct	3:punct	_

# sent_id = s2
# text = My cat sleeps.
1	My	my	PRON	PRP$	_	2	nmod:poss	2:nmod:poss	_
2	cat	cat	NOUN	NN	_	3	nsubj	3:nsubj	_
3	sleeps	sleep	VERB	VBZ	_	0	root	0:root	_
4	.	.	PUNCT	.	_	3	punct	3:punct	_

"""


def corpus(tmp_path: Path, text: str = CONLLU) -> Path:
    """Four sentences (the two above, twice under other ids): 2 / 1 / 1 at fractions 0.5 / 0.25 / 0.25."""
    path = tmp_path / "c.conllu"
    path.write_text(text + text.replace("= s1", "= s3").replace("= s2", "= s4"), encoding="utf-8")
    return path


def everything(task):
    """(words of the item's sentence, word, head, label) over all splits, in a set."""
    out = set()
    for split in task.splits.values():
        for (s, w, h), y in zip(split.items, split.labels, strict=True):
            words = split.sentences[s]
            out.add((words[w], words[h] if h >= 0 else None, task.label_names[y]))
    return out


def test_pos_is_one_item_per_word_without_ranges_or_empty_nodes(tmp_path):
    task = load_conllu(corpus(tmp_path), "pos", fractions=(0.5, 0.25, 0.25))
    assert task.kind == "word" and sum(len(s) for s in task.splits.values()) == 18
    assert ("n't", None, "PART") in everything(task) and ("Don't", None, "_") not in everything(task)
    assert {len(s.sentences[0]) for s in task.splits.values() if s.sentences} <= {5, 4}


def test_dep_pairs_keep_the_head_and_drop_the_root(tmp_path):
    base = load_conllu(corpus(tmp_path), "dep", fractions=(0.5, 0.25, 0.25))
    full = load_conllu(corpus(tmp_path), "dep", relations="full", fractions=(0.5, 0.25, 0.25))
    assert base.kind == "pair" and sum(len(s) for s in base.splits.values()) == 14  # 18 words, 4 roots
    assert ("My", "cat", "nmod") in everything(base) and ("My", "cat", "nmod:poss") in everything(full)
    assert ("Do", "stop", "aux") in everything(base)
    assert "root" not in base.label_names


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace("4\tit\tit\tPRON\tPRP", "4\tit\tit\t_\tPRP"), r"sentence s1, token 4 \('it'\): no UPOS tag"),
    (lambda t: t.replace("2\tcat\tcat\tNOUN\tNN\t_\t3\tnsubj", "2\tcat\tcat\tNOUN\tNN\t_\t9\tnsubj"),
     r"sentence s2, token 2 \('cat'\): head 9 is not a word of the sentence"),
])
def test_bad_input_names_the_file_sentence_and_token(tmp_path, edit, message):
    path = corpus(tmp_path, edit(CONLLU))
    task = "pos" if "UPOS" in message else "dep"
    with pytest.raises(DataError, match=message) as info:
        load_conllu(path, task, fractions=(0.5, 0.25, 0.25))
    assert str(path) in str(info.value)


@settings(max_examples=50, deadline=None)
@given(n=st.integers(3, 400), seed=st.integers(0, 10_000))
def test_sentence_splits_are_disjoint_complete_and_seeded(n, seed):
    parts = split_sentences(n, (0.8, 0.1, 0.1), seed)
    joined = np.concatenate(list(parts.values()))
    assert sorted(joined.tolist()) == list(range(n))
    assert {k: v.tolist() for k, v in split_sentences(n, (0.8, 0.1, 0.1), seed).items()} == \
        {k: v.tolist() for k, v in parts.items()}
    assert abs(len(parts["train"]) - 0.8 * n) <= 1


def test_streusle_reads_single_token_preposition_supersenses(tmp_path):
    sentence = {"sent_id": "r1", "toks": [{"word": w} for w in ("I", "went", "to", "my", "home")],
                "swes": {"1": {"lexcat": "PRON", "ss": None, "ss2": None, "toknums": [1]},
                         "3": {"lexcat": "P", "ss": "p.Goal", "ss2": "p.Goal", "toknums": [3]},
                         "4": {"lexcat": "PRON.POSS", "ss": "p.Possessor", "ss2": "p.Gestalt", "toknums": [4]},
                         "9": {"lexcat": "P", "ss": "??", "ss2": None, "toknums": [2]}}}
    (tmp_path / "s.json").write_text(json.dumps([sentence]))
    role = load_streusle({"train": tmp_path / "s.json", "test": tmp_path / "s.json"}, "ss")
    fxn = load_streusle({"train": tmp_path / "s.json", "test": tmp_path / "s.json"}, "ss2")
    assert everything(role) == {("to", None, "p.Goal"), ("my", None, "p.Possessor")}
    assert everything(fxn) == {("to", None, "p.Goal"), ("my", None, "p.Gestalt")}
    sentence["swes"]["3"]["toknums"] = [7]
    (tmp_path / "s.json").write_text(json.dumps([sentence]))
    with pytest.raises(DataError, match=r"s.json, sentence r1, token 7: not a token of the sentence"):
        load_streusle({"train": tmp_path / "s.json"}, "ss")
    for swe in sentence["swes"].values():  # a layout without function supersenses: said so, by file
        swe.pop("ss2")
    sentence["swes"]["3"]["toknums"] = [3]
    (tmp_path / "s.json").write_text(json.dumps([sentence]))
    with pytest.raises(DataError, match=r"s.json: none of its 1 sentences .* `ss2` supersense .* lexcats: P, PRON, "
                                        r"PRON.POSS\. Expected STREUSLE 4.x"):
        load_streusle({"train": tmp_path / "s.json"}, "ss2")


@pytest.mark.skipif(not PUD.exists(), reason="../shared/data is absent (a user's checkout has none)")
def test_pud_counts_are_the_treebanks():
    """The data's README: 1,000 sentences, 21,180 words, 17 UPOS; 35 base relations (root among
    them, which heads no pair), so 34 pair labels and 21,180 - 1,000 roots = 20,180 pairs."""
    pos, dep = load_conllu(PUD, "pos"), load_conllu(PUD, "dep")
    assert sum(len(s.sentences) for s in pos.splits.values()) == 1000
    assert sum(len(s) for s in pos.splits.values()) == 21_180 and len(pos.label_names) == 17
    assert sum(len(s) for s in dep.splits.values()) == 20_180 and len(dep.label_names) == 34


@pytest.mark.skipif(not STREUSLE.exists(), reason="../shared/data is absent (a user's checkout has none)")
def test_streusle_counts_are_the_corpus():
    """The data's README: dev 433 and test 457 single-word preposition/possessive supersenses."""
    paths = {"train": STREUSLE / "streusle.ud_dev.json", "test": STREUSLE / "streusle.ud_test.json"}
    for target in ("ss", "ss2"):
        task = load_streusle(paths, target)
        assert {k: len(v) for k, v in task.splits.items()} == {"train": 433, "test": 457}
        assert all(name.startswith("p.") for name in task.label_names)


# ---- word and pair representations ----------------------------------------------------------


@pytest.fixture(scope="module")
def tiny():
    from harness.models.encoders import EncoderSpec, load_encoder

    return load_encoder(EncoderSpec("offline:minilm-l2"))


SENTENCES = [("Unbelievably", ",", "the", "cat", "sleeps", "."), ("I", "went", "to", "my", "grandmother's", "home"),
             ("Yes",)]


def one_by_one(enc, words, layer, pooling):
    """Reference: the sentence alone (no padding), its hidden states, each word's sub-words by hand."""
    import torch

    batch = enc.tokenizer(list(words), is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        h = enc.model(**batch, output_hidden_states=True).hidden_states[layer][0].numpy()
    ids = batch.word_ids()
    rows = []
    for k in range(len(words)):
        positions = [p for p, w in enumerate(ids) if w == k]
        rows.append(h[positions].mean(0) if pooling == "mean" else h[positions[0]])
    return np.stack(rows)


@pytest.mark.slow
@pytest.mark.parametrize("pooling", ["mean", "first"])
def test_word_vectors_equal_each_sentence_alone(tiny, pooling):
    from harness.models.words import encode_words

    got = encode_words(tiny.model, tiny.tokenizer, SENTENCES, layers=(0, 2), pooling=pooling, batch_size=2)
    for layer in (0, 2):
        for words, vectors in zip(SENTENCES, got[layer], strict=True):
            np.testing.assert_allclose(vectors, one_by_one(tiny, words, layer, pooling), rtol=1e-4, atol=1e-5)
    assert got[2][0].shape == (6, 384)
    multi = [w for w in SENTENCES[0] if len(tiny.tokenizer.tokenize(w)) > 1]
    assert multi, "the test needs a word split into several sub-words"
    if pooling == "mean":
        first = encode_words(tiny.model, tiny.tokenizer, SENTENCES[:1], layers=(2,), pooling="first")[2][0]
        assert not np.allclose(first[0], got[2][0][0])  # "Unbelievably": several sub-words, averaged


@pytest.mark.slow
def test_a_pair_is_the_head_then_the_dependent(tiny, tmp_path):
    from harness.models.words import encode_words, item_vectors

    task = load_conllu(corpus(tmp_path), "dep", fractions=(0.5, 0.25, 0.25))
    split = task["train"]
    words = encode_words(tiny.model, tiny.tokenizer, split.sentences, layers=(-1,))[2]
    x = item_vectors(words, split, task.kind)
    assert x.shape == (len(split), 768)
    s, w, h = split.items[0]
    np.testing.assert_array_equal(x[0], np.concatenate([words[s][h], words[s][w]]))


def test_a_sentence_longer_than_max_length_is_refused(tiny):
    from harness.errors import ConfigError
    from harness.models.words import encode_words

    with pytest.raises(ConfigError, match=r"sentence 0 .* has \d+ sub-words, more than max_length = 4"):
        encode_words(tiny.model, tiny.tokenizer, SENTENCES[:1], max_length=4)


@pytest.mark.slow
def test_token_embeddings_are_a_cached_artifact(tmp_path):
    from harness.models.encoders import EncoderSpec, load_encoder
    from harness.models.words import encode_words, item_vectors
    from harness.pipeline.build import Harness
    from harness.store import ArtifactStore

    task = load_conllu(corpus(tmp_path), "pos", fractions=(0.5, 0.25, 0.25))
    h = Harness(ArtifactStore(tmp_path / "store"), device="cpu")
    spec = EncoderSpec("offline:minilm-l2")
    art = h.token_embeddings(spec, task, "train", layers=(1, -1))
    again = Harness(ArtifactStore(tmp_path / "store"), device="cpu").token_embeddings(spec, task, "train", layers=(1, -1))
    assert not art.cache_hit and again.cache_hit and again.key == art.key
    enc = load_encoder(spec)
    want = item_vectors(encode_words(enc.model, enc.tokenizer, task["train"].sentences, layers=(2,))[2],
                        task["train"], "word")
    np.testing.assert_allclose(art.array("layer_2.npy"), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(art.array("labels.npy"), task["train"].labels)
    other = load_conllu(corpus(tmp_path), "pos", fractions=(0.5, 0.25, 0.25), seed=1)  # other sentences in train
    assert other.fingerprint() != task.fingerprint()

"""Encoders: the pinned offline model, pooling, layers, and order restored after length sorting."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from harness.data import hub
from harness.errors import ConfigError, HubUnavailable, IntegrityError
from harness.models import encoders
from harness.models.encoders import EncoderSpec, encode, in_batches, load_encoder, resolve_layers

TEXTS = [
    "a very long sentence about a film that goes on and on with many words in it",
    "short",
    "a medium length review of a pizza",
    "ok",
    "the hotel room was clean , the staff friendly and the breakfast generous",
]


@pytest.fixture(scope="module")
def tiny():
    return load_encoder(EncoderSpec("offline:minilm-l2"))


def test_offline_encoders_load_with_their_layer_counts(tiny):
    full = load_encoder(EncoderSpec("offline:minilm-l6"))
    assert (tiny.num_layers, full.num_layers, full.hidden_size) == (2, 6, 384)
    assert encoders.OFFLINE_SHA256 in full.identity and full.identity.endswith("layers=6")
    # The tiny encoder is the full one's first two layers, not a fresh random model.
    t, f = tiny.model.encoder.layer[1], full.model.encoder.layer[1]
    assert torch.equal(t.output.dense.weight, f.output.dense.weight)
    assert not tiny.model.training


def test_offline_weights_are_checked_against_the_pin(monkeypatch):
    encoders._verified_offline_dir.cache_clear()
    monkeypatch.setattr(encoders, "OFFLINE_SHA256", "0" * 64)
    with pytest.raises(IntegrityError, match="differs from the pinned 0000"):
        encoders.offline_model_dir()
    encoders._verified_offline_dir.cache_clear()


def test_unknown_offline_name_and_missing_path():
    with pytest.raises(ConfigError, match=r"\[encoder\] name = 'offline:bert-huge': must be a hub id, a local folder "
                                          r"or one of \['offline:minilm-l2', 'offline:minilm-l6'\]"):
        EncoderSpec("offline:bert-huge")
    with pytest.raises(ConfigError, match="no such local folder"):
        load_encoder(EncoderSpec("./no/such/model"))


def test_hub_id_fails_fast_without_the_hub(monkeypatch):
    hub._probe.cache_clear()
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(HubUnavailable, match="encoder 'bert-base-uncased' needs the Hugging Face hub"):
        load_encoder(EncoderSpec("bert-base-uncased"))
    hub._probe.cache_clear()


def one_by_one(enc, texts, layers, pooling):
    """Reference: each text alone (no padding at all), straight from the model's hidden states."""
    rows = {layer: [] for layer in resolve_layers(layers, enc.num_layers)}
    with torch.no_grad():
        for text in texts:
            batch = enc.tokenizer(text, return_tensors="pt", truncation=True, max_length=128)
            hidden = enc.model(**batch, output_hidden_states=True).hidden_states
            for layer in rows:
                h = hidden[layer][0]
                rows[layer].append((h[0] if pooling == "first" else h.mean(0)).numpy())
    return {layer: np.stack(v) for layer, v in rows.items()}


@pytest.mark.parametrize("pooling", ["first", "mean"])
def test_batched_encoding_equals_one_text_at_a_time(tiny, pooling):
    layers = (0, 1, -1)
    got = encode(tiny.model, tiny.tokenizer, TEXTS, layers=layers, pooling=pooling, batch_size=2)
    ref = one_by_one(tiny, TEXTS, layers, pooling)
    assert sorted(got) == [0, 1, 2]
    for layer in ref:
        np.testing.assert_allclose(got[layer], ref[layer], rtol=1e-4, atol=1e-4)


def test_rows_come_back_in_input_order(tiny):
    order = np.random.default_rng(0).permutation(len(TEXTS))
    shuffled = [TEXTS[i] for i in order]
    a = encode(tiny.model, tiny.tokenizer, TEXTS, batch_size=2)[2]
    b = encode(tiny.model, tiny.tokenizer, shuffled, batch_size=3)[2]
    np.testing.assert_allclose(b, a[order], rtol=1e-4, atol=1e-4)
    assert not np.allclose(a[0], a[1])  # distinct texts, distinct rows: the check has teeth


def test_mean_pooling_ignores_padding():
    hidden = torch.tensor([[[1.0, 1.0], [3.0, 3.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert encoders.pool(hidden, mask, "mean").tolist() == [[2.0, 2.0]]
    assert encoders.pool(hidden, mask, "first").tolist() == [[1.0, 1.0]]
    with pytest.raises(ConfigError, match="unknown pooling 'max'"):
        encoders.pool(hidden, mask, "max")


def test_layer_indices():
    assert resolve_layers([0, -1, 3, -7], 6) == [0, 6, 3, 0]
    with pytest.raises(ConfigError, match=r"layer 7 out of range.*allowed: 0\.\.6"):
        resolve_layers([7], 6)
    with pytest.raises(ConfigError, match="layer -8 out of range"):
        resolve_layers([-8], 6)


def fail_above(module, max_rows: int, calls: list):
    """Make ``module``'s forward raise the accelerator out-of-memory error on batches of more than
    ``max_rows`` rows, as a GPU would: the back-off is tested without one."""
    forward = module.forward

    def limited(*args, **kwargs):
        rows = kwargs["input_ids"].shape[0] if "input_ids" in kwargs else args[0].shape[0]
        calls.append(rows)
        if rows > max_rows:
            raise torch.OutOfMemoryError(f"CUDA out of memory (simulated, {rows} rows)")
        return forward(*args, **kwargs)

    module.forward = limited
    return forward


def test_in_batches_halves_on_out_of_memory_and_runs_every_item_once_in_order():
    """The shared back-off of ``encode`` and ``encode_words``: a slice that runs out of memory is
    tried again at half the size, from the same item, with a warning; nothing is done twice."""
    done, tried = [], []

    def step(batch, start):
        tried.append(len(batch))
        if len(batch) > 3:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        assert start == len(done)
        done.extend(batch.tolist())

    order = np.arange(20)[::-1].copy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        in_batches(order, 16, torch.device("cpu"), "who", step)
    assert done == order.tolist()
    assert tried[:3] == [16, 8, 4] and set(tried[3:]) <= {2} and sum(tried[3:]) == 20
    assert [str(c.message) for c in caught] == ["who: out of memory at batch size 16; going on with 8",
                                                "who: out of memory at batch size 8; going on with 4",
                                                "who: out of memory at batch size 4; going on with 2"]

    def other(batch, start):
        raise ValueError("not memory")

    with pytest.raises(ValueError, match="not memory"):
        in_batches(order, 4, torch.device("cpu"), "who", other)
    with pytest.raises(torch.OutOfMemoryError), pytest.warns(RuntimeWarning):
        in_batches(order, 2, torch.device("cpu"), "who", lambda b, s: step(np.r_[b, b, b, b], s))


def test_out_of_memory_halves_the_batch_and_keeps_every_row(tiny):
    texts = TEXTS * 3
    ref = encode(tiny.model, tiny.tokenizer, texts, batch_size=8)[2]
    calls: list[int] = []
    original = fail_above(tiny.model, 2, calls)
    try:
        with pytest.warns(RuntimeWarning, match="out of memory at batch size 8; going on with 4"):
            got = encode(tiny.model, tiny.tokenizer, texts, batch_size=8)[2]
        assert calls[:3] == [8, 4, 2] and max(calls[3:]) == 2
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
        calls.clear()
        fail_above(tiny.model, 0, calls)  # even one text does not fit: the error is raised
        with pytest.raises(torch.OutOfMemoryError), pytest.warns(RuntimeWarning):
            encode(tiny.model, tiny.tokenizer, texts, batch_size=4)
        assert calls == [4, 2, 1]
    finally:
        tiny.model.forward = original


def test_empty_input_and_training_mode_restored(tiny):
    out = encode(tiny.model, tiny.tokenizer, [], layers=(-1,))
    assert out[2].shape == (0, 384)
    tiny.model.train()
    encode(tiny.model, tiny.tokenizer, TEXTS[:2])
    assert tiny.model.training
    tiny.model.eval()


def test_packed_tokens_pad_like_the_tokenizer_and_are_reused(tiny):
    from harness.models.encoders import tokenize

    texts = ["a much longer text than the others, truncated at sixteen tokens " * 3, "short one", "a", "b c"]
    tokens = tokenize(tiny.tokenizer, texts, 16)
    rows = np.array([2, 0, 3])
    ids, mask = tokens.batch(rows, tiny.tokenizer.pad_token_id, "cpu")
    want = tiny.tokenizer([texts[i] for i in rows], truncation=True, max_length=16, padding=True, return_tensors="pt")
    assert torch.equal(ids, want["input_ids"]) and torch.equal(mask, want["attention_mask"])
    assert tokenize(tiny.tokenizer, list(texts), 16) is tokens  # the same split again: cached
    assert tokenize(tiny.tokenizer, texts, 8) is not tokens  # another max length
    changed = tokenize(tiny.tokenizer, texts[:3] + ["b d"], 16)
    assert changed.flat[-2] != tokens.flat[-2]


class _Server:
    """A loopback server for the hub probe: ``mode`` "silent" accepts connections and never
    answers; "http" answers every request 200 and records the request lines (a hub, or a proxy)."""

    def __init__(self, mode: str):
        import socket
        import threading

        self.mode, self.requests, self.clients = mode, [], []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.clients.append(conn)
            if self.mode == "http":
                data = conn.recv(65536).decode("latin-1")
                self.requests.append(data.split("\r\n", 1)[0])
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                conn.close()

    def close(self):
        for c in self.clients:
            c.close()
        self.sock.close()


@pytest.fixture
def fresh_probe(monkeypatch):
    """No cached answer, and no cached HTTP client: huggingface_hub's client reads the proxy
    variables when it is made, as it is at the start of a real run."""
    from huggingface_hub.utils import close_session

    for var in hub.PROXY_VARIABLES + ("HF_HUB_OFFLINE",):
        monkeypatch.delenv(var, raising=False)
    hub._probe.cache_clear()
    close_session()
    yield
    hub._probe.cache_clear()
    close_session()


def test_a_hub_that_accepts_but_never_answers_is_unreachable_within_the_deadline(monkeypatch, fresh_probe):
    import time

    server = _Server("silent")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.port}")
    started = time.monotonic()
    with pytest.raises(HubUnavailable, match=r"cannot be reached \(.*(Timeout|timed out|no answer)"):
        hub.require_hub("fixture x")
    assert time.monotonic() - started < 10
    server.close()


def test_the_probe_honours_hf_endpoint_and_the_proxy(monkeypatch, fresh_probe):
    """Through huggingface_hub's client: a hub named by HF_ENDPOINT, reached through HTTP_PROXY
    (the proxy sees the absolute URL of the hub's API)."""
    proxy = _Server("http")
    monkeypatch.setenv("HF_ENDPOINT", "http://hub.example.invalid")
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
    hub.require_hub("fixture x")  # the proxy answered for the unresolvable host
    assert proxy.requests == ["HEAD http://hub.example.invalid/api/models HTTP/1.1"]
    proxy.close()

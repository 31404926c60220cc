"""nnlm serve: the JSON API through Starlette's TestClient, the batching worker, the command."""

import hashlib
import json
import math
import re
import shutil
import subprocess
import sys
import urllib.request
import warnings
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

with warnings.catch_warnings():  # Starlette >= 1.0 prefers httpx2 and says so; httpx works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

import nnlm  # noqa: E402
from helpers import FIXTURES, TINY_SETTINGS  # noqa: E402
from nnlm.cli import main  # noqa: E402
from nnlm.inference.sample import SampleRequest  # noqa: E402
from nnlm.serve import runs as serve_runs  # noqa: E402
from nnlm.serve.app import MAX_BODY, create_app  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

def train_run(out: Path, data: Path, **settings) -> Path:
    nnlm.train(str(data), str(out), progress=False, **{**TINY_SETTINGS, **settings})
    return out


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("serve-runs")


@pytest.fixture(scope="module")
def char_run(runs_dir):
    return train_run(runs_dir / "names", FIXTURES / "names300.txt")


@pytest.fixture(scope="module")
def word_run(runs_dir):
    return train_run(runs_dir / "words", FIXTURES / "words200.txt", tokens="word")


@pytest.fixture(scope="module")
def client(char_run, word_run):
    with TestClient(create_app([char_run, word_run])) as c:
        yield c


@pytest.fixture(scope="module")
def char_lm(char_run):
    return nnlm.load(char_run, device="cpu")


@pytest.fixture(scope="module")
def word_lm(word_run):
    return nnlm.load(word_run, device="cpu")


def snapshot(run_dir: Path) -> dict[str, str]:
    """Every file under a run directory, by relative path, as its SHA-256."""
    return {str(p.relative_to(run_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(run_dir.rglob("*")) if p.is_file()}


def ok(response) -> dict:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def fails(response, status: int) -> str:
    """The one-line message of a JSON error with `status`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    message = response.json()["error"]
    assert message and "\n" not in message and "Traceback" not in message
    return message


# -- the runs and the page -----------------------------------------------------------------

def test_runs_lists_both_runs_with_their_cards(client, char_run, word_run):
    runs = {r["name"]: r for r in ok(client.get("/api/runs"))["runs"]}
    assert list(runs) == ["names", "words"]
    char, word = runs["names"], runs["words"]
    assert (char["level"], word["level"]) == ("char", "word")
    assert (char["data_kind"], word["data_kind"]) == ("items", "sentences")
    for run, path in ((char, char_run), (word, word_run)):
        summary = json.loads((path / "summary.json").read_text())
        assert run["dev_loss"] == pytest.approx(summary["dev_loss"])
        assert run["test_loss"] == pytest.approx(summary["test_loss"])
        lm = nnlm.load(path, device="cpu")
        assert run["vocab_size"] == len(lm.vocab)
        assert run["parameters"] == sum(p.numel() for p in lm.model.parameters())
        assert run["family"] == "mlp"
        assert run["mixture"] == (lm.describe() if lm.mixture is not None else None)
        assert isinstance(run["why"], list)
        assert run["settings"]["model"]["block_size"] == TINY_SETTINGS["block_size"]
        assert set(run["plots"]) == {"loss_curve", "embedding_map"}
    assert char["novelty"] and not word["novelty"]
    assert char["data"]["items"]["train"] > 0


def test_the_page_is_one_self_contained_file(client):
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "http://" not in page and "https://" not in page  # nothing fetched from elsewhere
    assert "<script src" not in page and "<link rel=\"stylesheet\"" not in page
    for element in ('id="sample-btn"', 'id="score-btn"', 'id="run"', 'id="loss_curve"', 'id="regex"',
                    'id="contains"', 'id="suffix"', 'id="min_chars"', 'id="max_chars"', 'id="exclude"',
                    'id="exact"'):
        assert element in page


def test_the_page_ships_as_package_data():
    from importlib import resources

    assert "<html" in resources.files("nnlm.serve").joinpath("page.html").read_text(encoding="utf-8")


# -- sampling ------------------------------------------------------------------------------

def test_samples_keep_prefix_and_lengths_and_are_scored(client, char_lm):
    body = {"run": "names", "n": 12, "prefix": "a", "min_len": 3, "max_len": 6, "temperature": 1.2,
            "seed": 3}
    samples = ok(client.post("/api/sample", json=body))["samples"]
    assert len(samples) == 12
    splits = json.loads((char_lm.spec.run_dir / "splits.json").read_text())
    scores = char_lm.score([s["text"] for s in samples])
    for s, score in zip(samples, scores, strict=True):
        assert s["text"].startswith("a") and 3 <= len(s["text"]) <= 6
        assert s["logprob"] == pytest.approx(score.logprob, abs=1e-6)
        where = [k for k in ("train", "dev", "test") if s["text"] in splits[k]]
        assert s["novelty"] == (where[0] if where else "new")


def test_samples_are_those_of_the_python_api_with_the_same_seed(client, char_lm):
    body = {"run": "names", "n": 8, "temperature": 0.8, "top_k": 5, "top_p": 0.9, "seed": 11}
    got = [s["text"] for s in ok(client.post("/api/sample", json=body))["samples"]]
    want = char_lm.sample(8, temperature=0.8, top_k=5, top_p=0.9, seed=11,
                          max_len=char_lm.source.default_max_len())
    assert got == [s.text for s in want]


def test_a_seed_repeats_and_no_seed_returns_the_one_used(client):
    body = {"run": "names", "n": 20, "seed": 7}
    first, again = (ok(client.post("/api/sample", json=body)) for _ in range(2))
    assert first["samples"] == again["samples"] and first["seed"] == 7
    other = ok(client.post("/api/sample", json={**body, "seed": 8}))
    assert [s["text"] for s in other["samples"]] != [s["text"] for s in first["samples"]]
    drawn = ok(client.post("/api/sample", json={"run": "names", "n": 20}))
    assert isinstance(drawn["seed"], int)
    repeated = ok(client.post("/api/sample", json={"run": "names", "n": 20, "seed": drawn["seed"]}))
    assert repeated["samples"] == drawn["samples"]


def test_defaults_and_greedy(client, char_lm):
    samples = ok(client.post("/api/sample", json={"run": "names"}))["samples"]
    assert len(samples) == 5  # the default count
    greedy = ok(client.post("/api/sample", json={"run": "names", "n": 3, "temperature": 0}))["samples"]
    top1 = ok(client.post("/api/sample", json={"run": "names", "n": 3, "top_k": 1, "seed": 2}))["samples"]
    assert len({s["text"] for s in greedy}) == 1 and greedy == top1
    assert all(len(s["text"]) <= char_lm.source.default_max_len() for s in samples)


def test_constraints_hold_on_every_sample_and_say_their_tries(client, char_lm):
    body = {"run": "names", "n": 20, "regex": "^[a-z]{3,6}a$", "contains": "e", "seed": 3}
    steered = ok(client.post("/api/sample", json=body))
    assert steered["tries"] == 20 and len(steered["samples"]) == 20
    assert all(re.fullmatch("[a-z]{3,6}a", s["text"]) and "e" in s["text"] for s in steered["samples"])
    want = char_lm.sample(20, seed=3, regex="^[a-z]{3,6}a$", contains="e",
                          max_len=char_lm.source.default_max_len())
    assert [s["text"] for s in steered["samples"]] == [s.text for s in want]
    banned = [s["text"] for s in steered["samples"][:5]]
    exact = ok(client.post("/api/sample", json={**body, "exact": True, "exclude": banned, "max_chars": 6}))
    texts = [s["text"] for s in exact["samples"]]
    assert len(texts) == 20 and exact["tries"] > 20 and not set(texts) & set(banned)
    assert all(re.fullmatch("[a-z]{3,6}a", t) and "e" in t and len(t) <= 6 for t in texts)
    words = ok(client.post("/api/sample", json={"run": "words", "n": 10, "suffix": "Emma .", "seed": 1}))
    assert all(s["text"].endswith("Emma .") for s in words["samples"])


def test_new_only_gives_new_items(client):
    samples = ok(client.post("/api/sample", json={"run": "names", "n": 10, "new_only": True,
                                                  "seed": 1}))["samples"]
    assert len(samples) == 10 and all(s["novelty"] == "new" for s in samples)


def test_word_run_samples_have_no_novelty_and_refuse_new_only(client, word_lm):
    samples = ok(client.post("/api/sample", json={"run": "words", "n": 6, "seed": 4}))["samples"]
    assert len(samples) == 6 and all(s["novelty"] is None for s in samples)
    scores = word_lm.score([s["text"] for s in samples])
    assert [s["logprob"] for s in samples] == pytest.approx([sc.logprob for sc in scores], abs=1e-6)
    message = fails(client.post("/api/sample", json={"run": "words", "new_only": True}), 400)
    assert "new_only" in message


def test_concurrent_jobs_are_batched_yet_each_keeps_its_seed(char_run):
    """Jobs queued together are generated in one batch, each from its own random stream:
    every one gets exactly what LanguageModel.sample gives for its seed."""
    run = serve_runs.load_runs([char_run])["names"]
    settings = dict(temperature=0.9, top_k=None, top_p=None, min_len=0, max_len=0, new_only=False)
    jobs = [run.sample_job(SampleRequest(num=n, prefix=prefix, seed=seed, **settings))
            for n, prefix, seed in ((3, "", 1), (5, "", 2), (1, "", 3), (4, "m", 4), (2, "m", 5))]
    futures = [run.submit(job) for job in jobs] + [run.submit(run.score_job("emma"))]
    results = [f.result(timeout=60) for f in futures]
    for job, got in zip(jobs, results, strict=False):
        want = run.lm.sample(job.n, temperature=0.9, prefix=job.request.prefix, seed=job.request.seed,
                             max_len=run.default_max_len)
        assert [s["text"] for s in got] == [s.text for s in want]
    assert results[-1]["logprob"] == pytest.approx(run.lm.score(["emma"])[0].logprob)
    generators = [serve_runs.torch.Generator().manual_seed(s) for s in (1, 2)]
    together = serve_runs.generate_jobs(run.lm.predictor, [3, 5], generators, [], temperature=0.9,
                                        top_k=None, top_p=None, min_len=0, max_len=run.default_max_len)
    assert [[run.lm.source.decode(ids) for ids in seqs] for seqs in together] == \
        [[s["text"] for s in r] for r in results[:2]]


def test_stream_run_samples_max_len_words_and_scores(runs_dir):
    run = train_run(runs_dir / "stream", FIXTURES / "words200.txt", model="mlp", tokens="word", kind="text",
                    line_ends=False)
    with TestClient(create_app([run])) as c:
        body = {"run": "stream", "n": 3, "max_len": 5, "seed": 1}
        samples = ok(c.post("/api/sample", json=body))["samples"]
        assert [len(s["text"].split()) for s in samples] == [5, 5, 5]
        scored = ok(c.post("/api/score", json={"run": "stream", "text": "Emma met Mia ."}))
        tokens = [t["token"] for t in scored["tokens"]]
        assert len(tokens) == 4 and "<e>" not in tokens  # a stream's text has no end
        assert "nothing to score" in fails(c.post("/api/score", json={"run": "stream", "text": ""}), 400)


def test_a_text_run_continues_its_prompt_with_every_character(runs_dir):
    run = runs_dir / "verse"
    nnlm.train(str(FIXTURES / "verse20k.txt"), str(run), progress=False, steps=20, n_hidden=16, n_embd=8,
               block_size=16, batch_size=256, precision="fp32", tokens="char")
    with TestClient(create_app([run])) as c:
        card = ok(c.get("/api/runs"))["runs"][0]
        described = (card["level"], card["data_kind"], card["family"], card["ends"])
        assert described == ("char", "text", "lstm", False)
        prompt = "ROMEO:\n  Soft"
        samples = ok(c.post("/api/sample", json={"run": "verse", "n": 2, "prefix": prompt, "max_len": 40,
                                                  "seed": 4}))["samples"]
        assert all(s["text"].startswith(prompt) and len(s["text"]) == 40 for s in samples)
        assert all(s["novelty"] is None for s in samples)
        scored = ok(c.post("/api/score", json={"run": "verse", "text": "A\nB"}))
        assert [t["token"] for t in scored["tokens"]] == ["A", "\\n", "B"]


# -- scoring -------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["emma", "a", ""])
def test_score_char(client, char_lm, text):
    got = ok(client.post("/api/score", json={"run": "names", "text": text}))
    want = char_lm.score([text])[0]
    assert got["loss"] == pytest.approx(-want.logprob / (len(text) + 1))
    assert [t["token"] for t in got["tokens"]] == [*text, "<e>"]
    for token, (_, lp) in zip(got["tokens"], want.tokens, strict=True):
        assert token["prob"] == pytest.approx(math.exp(lp)) and 0 < token["prob"] <= 1


def test_score_word_maps_unknown_words_to_unk(client, word_lm):
    text = "Emma met Zebediah ."
    got = ok(client.post("/api/score", json={"run": "words", "text": text}))
    want = word_lm.score([text])[0]
    assert [t["token"] for t in got["tokens"]] == [t for t, _ in want.tokens]
    assert "<unk>" in [t["token"] for t in got["tokens"]] and got["tokens"][-1]["token"] == "<e>"
    assert got["loss"] == pytest.approx(-want.logprob / len(want.tokens))


# -- bad requests ----------------------------------------------------------------------------

BAD_SAMPLES = [
    ({"run": "names", "n": "5"}, "n must be an integer"),
    ({"run": "names", "n": True}, "n must be an integer"),
    ({"run": "names", "n": 2.5}, "n must be an integer"),
    ({"run": "names", "temperature": "hot"}, "temperature must be a number"),
    ({"run": "names", "prefix": 3}, "prefix must be a string"),
    ({"run": "names", "new_only": "yes"}, "new_only must be true or false"),
    ({"run": "names", "seed": 1.5}, "seed must be an integer"),
    ({"run": "names", "top_k": None}, "top_k must be an integer"),
    ({"run": 5}, "run must be a string"),
    ({}, "run is missing"),
    ({"run": "names", "colour": "red"}, "unknown field 'colour'"),
    ({"run": "names", "n": 0}, "n must be from 1 to 1000"),
    ({"run": "names", "n": 1001}, "n must be from 1 to 1000"),
    ({"run": "names", "temperature": -0.5}, "temperature must be from 0"),
    ({"run": "names", "temperature": 1e9}, "temperature must be from 0"),
    ({"run": "names", "top_p": 0}, "top_p must be in (0, 1]"),
    ({"run": "names", "top_p": 1.5}, "top_p must be in (0, 1]"),
    ({"run": "names", "top_k": -1}, "top_k must be from 0"),
    ({"run": "names", "max_len": 1001}, "max_len must be from 0 to 1000"),
    ({"run": "names", "min_len": -1}, "min_len must be from 0 to 1000"),
    ({"run": "names", "min_len": 9, "max_len": 4}, "min_len (9) must not exceed max_len (4)"),
    ({"run": "names", "seed": -1}, "seed must be from 0"),
    ({"run": "names", "prefix": "x" * 1001}, "prefix must be at most 1000 characters"),
    ({"run": "names", "prefix": "Q7"}, "not in the model's vocabulary"),
    ({"run": "names", "regex": "a("}, "regex is not a valid pattern"),
    ({"run": "names", "regex": 5}, "regex must be a string"),
    ({"run": "names", "regex": "a" * 1001}, "regex must be at most 1000 characters"),
    ({"run": "names", "regex": "[a-z]{200}"}, "regex: no sample of 0 to"),
    ({"run": "names", "contains": "Q"}, "contains: character 'Q' is not in the model's vocabulary"),
    ({"run": "names", "max_chars": 10_001}, "max_chars must be from 0 to 10000"),
    ({"run": "names", "exclude": "emma"}, "exclude must be an array of strings"),
    ({"run": "names", "exclude": ["x" * 1001]}, "exclude: each string must be at most 1000 characters"),
    ({"run": "names", "exact": 1}, "exact must be true or false"),
    ({"run": "names", "exact": True, "tries": 100_001}, "tries must be from 0 to 100000"),
    ({"run": "names", "exact": True, "regex": "[xyz]{7,9}q", "tries": 64}, "exact: none of the 64 samples"),
    ({"run": "words", "max_chars": 3, "contains": "Emma"}, "contains and max_chars: no text that the run"),
]


@pytest.mark.parametrize(("body", "message"), BAD_SAMPLES)
def test_bad_sample_requests_are_400(client, body, message):
    assert message in fails(client.post("/api/sample", json=body), 400)


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"run": "names", "text": "Zoë!"}, 400, "not in the model's vocabulary"),
    ({"run": "names"}, 400, "text is missing"),
    ({"run": "names", "text": ["emma"]}, 400, "text must be a string"),
    ({"run": "names", "text": "a" * 10_001}, 400, "at most 10000 characters"),
    ({"run": "names", "text": "emma", "n": 1}, 400, "unknown field 'n'"),
    ({"run": "nobody", "text": "emma"}, 404, "unknown run 'nobody'"),
])
def test_bad_score_requests(client, body, status, message):
    assert message in fails(client.post("/api/score", json=body), status)


@pytest.mark.parametrize(("raw", "message"), [
    (b"{", "not valid JSON"), (b"", "not valid JSON"), (b"\xff\xfe{", "not valid JSON"),
    (b'{"run": "names", "temperature": NaN}', "not valid JSON"), (b"[" * 50_000, "not valid JSON"),
    (b"[]", "must be a JSON object"), (b'"names"', "must be a JSON object"),
])
@pytest.mark.parametrize("path", ["/api/sample", "/api/score"])
def test_bodies_that_are_not_json_objects(client, raw, message, path):
    assert message in fails(client.post(path, content=raw), 400)


def test_unknown_run_is_404(client):
    assert "unknown run 'nope'" in fails(client.post("/api/sample", json={"run": "nope"}), 404)


def test_too_large_bodies_are_413_whether_declared_or_not(client):
    big = json.dumps({"run": "names", "text": "a" * MAX_BODY}).encode()
    assert "at most 65536 bytes" in fails(client.post("/api/score", content=big), 413)

    def chunks():  # no Content-Length: the server must stop reading at the limit itself
        for _ in range(MAX_BODY // 1024 + 2):
            yield b" " * 1024

    assert "at most 65536 bytes" in fails(client.post("/api/sample", content=chunks()), 413)
    assert "Content-Length" in fails(client.post("/api/sample", content=b"{}",
                                                 headers={"Content-Length": "-1"}), 400)


@pytest.mark.parametrize("path", [
    "/api/runs/../x", "/api/runs/%2e%2e/plot/loss_curve.png", "/api/runs/names/plot/../../config.json",
    "/api/runs/names/plot/..%2F..%2Fconfig.json", "/api/runs/names/plot/%2e%2e%2fconfig.json",
    "/api/runs/names/plot/config.json", "/api/runs/names/plot/model.safetensors",
    "/api/runs/names/config.json", "/config.json", "/api/runs/names/plot/loss_curve.png/..",
    "/api/runs/names/plot/loss_curve", "/nothing/here",
])
def test_nothing_but_fixed_names_is_served(client, path):
    response = client.get(path)
    fails(response, 404)
    assert b"format_version" not in response.content


def test_wrong_method_is_json_405(client):
    assert "POST /api/runs" in fails(client.post("/api/runs", json={}), 405)
    fails(client.get("/api/sample"), 405)


def test_a_bug_is_a_json_500_without_traceback_and_the_worker_goes_on(char_run, monkeypatch):
    def broken(lm, jobs):
        raise RuntimeError("secret internals")

    with TestClient(create_app([char_run])) as c:
        monkeypatch.setattr(serve_runs, "sample_jobs", broken)
        message = fails(c.post("/api/sample", json={"run": "names"}), 500)
        assert "secret" not in message
        monkeypatch.undo()
        assert len(ok(c.post("/api/sample", json={"run": "names", "n": 2}))["samples"]) == 2


def test_host_header_is_checked_when_asked(char_run):
    with TestClient(create_app([char_run], allowed_hosts={"127.0.0.1", "localhost"})) as c:
        assert "unexpected Host" in fails(c.get("/api/runs"), 400)  # TestClient's host: testserver
        assert c.get("/api/runs", headers={"Host": "127.0.0.1:8000"}).status_code == 200
        assert c.get("/", headers={"Host": "localhost"}).status_code == 200


# -- pictures and the run directory ------------------------------------------------------------

def test_pictures_are_drawn_in_memory_and_nothing_is_written(char_run, word_run):
    pytest.importorskip("matplotlib")
    before = {run: snapshot(run) for run in (char_run, word_run)}
    with TestClient(create_app([char_run, word_run])) as c:
        for name in ("names", "words"):
            for picture in ("loss_curve", "embedding_map"):
                response = c.get(f"/api/runs/{name}/plot/{picture}.png")
                assert response.status_code == 200 and response.headers["content-type"] == "image/png"
                assert response.content.startswith(PNG_SIGNATURE)
            c.post("/api/sample", json={"run": name, "n": 3})
            c.post("/api/score", json={"run": name, "text": "a"})
    assert {run: snapshot(run) for run in (char_run, word_run)} == before
    assert not (char_run / "loss_curve.png").exists()


def test_a_run_s_own_pictures_are_served_as_they_are(char_run, tmp_path):
    pytest.importorskip("matplotlib")
    from nnlm.tools.plot import plot_run

    run = shutil.copytree(char_run, tmp_path / "plotted")
    plot_run(run)
    with TestClient(create_app([run])) as c:
        for picture in ("loss_curve.png", "embedding_map.png"):
            assert c.get(f"/api/runs/plotted/plot/{picture}").content == (run / picture).read_bytes()


def test_pictures_without_matplotlib_are_a_json_404(char_run, monkeypatch):
    from nnlm.errors import NnlmError
    from nnlm.tools import plot

    def no_matplotlib():
        raise NnlmError("plotting needs matplotlib: pip install 'nnlm[plot]'")

    monkeypatch.setattr(plot, "pyplot", no_matplotlib)
    with TestClient(create_app([char_run])) as c:
        assert "needs matplotlib" in fails(c.get("/api/runs/names/plot/loss_curve.png"), 404)


def test_the_same_run_twice_gets_two_names(char_run):
    with TestClient(create_app([char_run, char_run])) as c:
        assert [r["name"] for r in ok(c.get("/api/runs"))["runs"]] == ["names", "names-2"]
        ok(c.post("/api/sample", json={"run": "names-2", "n": 1}))


# -- the command -------------------------------------------------------------------------------

def test_serve_without_the_extra_says_what_to_install(char_run, monkeypatch, capsys):
    import nnlm.serve

    monkeypatch.setattr(nnlm.serve, "missing_dependencies", lambda: ["starlette"])
    assert main(["serve", str(char_run)]) == 2
    assert capsys.readouterr().err == "nnlm serve: error: nnlm serve needs: pip install 'nnlm[serve]'\n"


@pytest.mark.parametrize(("args", "message"), [
    (["/no/such/run"], "/no/such/run: no such run directory"),
    (["RUN", "--port", "70000"], "--port must be from 0 to 65535"),
    (["RUN", "--host", "192.0.2.1"], "cannot listen on 192.0.2.1:8000"),  # not this machine's
])
def test_serve_errors_are_one_line_before_serving(char_run, capsys, args, message):
    args = [str(char_run) if a == "RUN" else a for a in args]
    assert main(["serve", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnlm serve: error: ") and message in err and err.count("\n") == 1


def test_the_core_command_line_does_not_import_starlette():
    code = ("import sys, nnlm.cli; nnlm.cli.build_parser(); "
            "assert 'starlette' not in sys.modules and 'uvicorn' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_nnlm_serve_prints_its_url_and_serves(char_run):
    proc = subprocess.Popen([sys.executable, "-m", "nnlm", "serve", str(char_run), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "http://127.0.0.1:" in line, proc.stderr.read() if proc.poll() is not None else line
        url = line.split()[line.split().index("at") + 1]
        with urllib.request.urlopen(url + "api/runs", timeout=30) as response:
            assert json.loads(response.read())["runs"][0]["name"] == "names"
    finally:
        proc.terminate()
        proc.wait(30)  # uvicorn shuts down, then re-raises the SIGTERM it caught

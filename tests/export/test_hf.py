"""--format hf: a transformer run as transformers' GPT-2, with a tokenizer of the run's characters,
BPE subwords or words. It gives nnlm's model alone's log-probabilities; greedy `generate` continues a
prompt as `nnlm sample --temperature 0 --no-mix` does, through `tok(prompt)` and `tok.decode`."""

import importlib.util
import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline

import nnlm
from helpers import ROOT, run_ok

PROMPTS = {"char": "ma", "bpe": "And the", "word": "Emma met"}  # a list, running text, a list of sentences


def loaded(folder):
    return AutoTokenizer.from_pretrained(folder), AutoModelForCausalLM.from_pretrained(folder).eval()


@pytest.mark.parametrize("level", ["char", "bpe", "word"])
def test_transformers_gives_the_models_log_probabilities(level, trained, exported, data_files):
    lm = nnlm.load(trained("transformer", level), device="cpu", mix=False)
    tok, model = loaded(exported("transformer", level, "hf"))
    lines = data_files[level].read_text().splitlines()
    text = {"char": "".join(lines[:4]), "word": " ".join(lines[:3])}.get(level, "\n".join(lines)[:200])
    ids = tok(text)["input_ids"][:lm.model.config.block_size]
    assert ids[0] == 0 and ids[1:] == lm.source.encode(text, "the text")[:len(ids) - 1]  # nnlm's ids
    x = torch.tensor([ids])
    with torch.no_grad():
        ours = torch.log_softmax(lm.model(x)[0].double(), -1)
        theirs = torch.log_softmax(model(x).logits.double(), -1)
    assert ours.shape == theirs.shape == (1, len(ids), len(lm.vocab))
    assert (ours - theirs).abs().max() < 1e-4
    assert tok.decode(ids, skip_special_tokens=True) == lm.source.decode(ids)


def nnlm_greedy(capsys, run, prompt: str, max_len: int) -> str:
    out = run_ok(capsys, "sample", run, "--temperature", 0, "--no-mix", "--prefix", prompt, "-n", 1,
                 "--max-len", max_len, "--json")
    return json.loads(out.splitlines()[0])["text"]


@pytest.mark.parametrize("level", ["char", "bpe", "word"])
def test_greedy_generate_continues_a_prompt_as_nnlm_sample(level, trained, exported, capsys):
    run = trained("transformer", level)
    tok, model = loaded(exported("transformer", level, "hf"))
    block = model.config.n_positions
    ids = tok(PROMPTS[level], return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=block - ids["input_ids"].shape[1], do_sample=False)
    ours = tok.decode(out[0], skip_special_tokens=True)
    expected = nnlm_greedy(capsys, run, PROMPTS[level], block - 1)
    assert ours == expected and len(expected) > len(PROMPTS[level]) + 1


def test_the_pipeline_and_the_example_consumer_agree(trained, exported, capsys):
    folder = exported("transformer", "char", "hf")
    expected = nnlm_greedy(capsys, trained("transformer", "char"), "ma", 15)
    generator = pipeline("text-generation", model=str(folder))
    assert generator("ma", max_new_tokens=13, do_sample=False)[0]["generated_text"] == expected
    spec = importlib.util.spec_from_file_location("hf_consumer", ROOT / "examples" / "hf_consumer.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    example.main(["sample", str(folder), "-n", "2", "--temperature", "0", "--prefix", "ma"])
    assert capsys.readouterr().out.splitlines() == [expected, expected]
    example.main(["score", str(folder), "emma"])
    total = float(capsys.readouterr().out.splitlines()[-1])
    scored = json.loads(run_ok(capsys, "score", trained("transformer", "char"), "emma", "--no-mix", "--json"))
    assert abs(total - scored["logprob"]) < 1e-4


def test_a_run_that_is_not_a_transformer_is_refused_naming_onnx(trained, tmp_path, capsys):
    from helpers import run_error

    err = run_error(capsys, "export", trained("lstm", "char"), "--format", "hf", "--out", tmp_path / "hf")
    assert "--format hf takes transformer runs only" in err and "--format onnx" in err
    assert not (tmp_path / "hf").exists()


def test_a_word_stream_tokenizer_keeps_nnlms_line_ends_case_and_unknown_words(trained, exported):
    lm = nnlm.load(trained("transformer", "wordstream"), device="cpu", mix=False)
    tok, _ = loaded(exported("transformer", "wordstream", "hf"))
    text = "And THE king said:\r\nthou art\rhere\n\n  and  Zyzzyva ."
    ids = tok(text)["input_ids"]
    assert lm.source.name == "stream" and ids == [0, *lm.source.encode(text, "the text")]
    assert 1 in ids and ids.count(lm.vocab.stoi["\n"]) == 4  # <unk>, and each line end a token
    assert tok.decode(ids, skip_special_tokens=True) == lm.source.decode(ids)

"""The model card as Markdown (README.md, the Hub's name for it), from the card's JSON (card.py):
what the model is and was trained on, the model alone's figures, what the ids mean, how to use it,
the folder's files."""

from __future__ import annotations

HUB = "---\nlibrary_name: transformers\npipeline_tag: text-generation\ntags: [nnlm, gpt2]\n---\n\n"

ABOUT = """\
# An nnlm {family} language model ({exported})

Exported by nnlm {version} (`nnlm export --format {exported}`).

- **Model**: {family}: {what}; {parameters:,} parameters ({settings}).
- **Trained on**: {file}, read as {kind}; each token is {level}; tokens predicted: {split}.
- **How the settings were chosen**:{chose}"""

FIGURES = """\
## Figures: the network alone

From the run's summary, its best weights on dev (step {best_step} of {step}):

| split | loss (nats/token) | perplexity | bits/character |
|---|---|---|---|
{rows}"""

MIXTURE = """

nnlm's own predictor for this run mixes this network with a Kneser-Ney model of order {order}
(weight {weight:.3f} on the network; dev loss {dev}, test {test}). The exported network is the
neural model alone, as `nnlm sample --no-mix` and `nnlm score --no-mix` use it; its figures are
the table's."""

TOKENS = """\
## Tokens and ids

{vocab_size:,} ids, each {level}; {said}. {ending}

Labels (`labels` in `card.json`, label -> id): {labels}."""

ONNX = """\
## Sampling and scoring, step by step

`{file}` (ONNX opset {opset}) is one step of the network:

    ids (batch, length) int64, the state before  ->  logits (batch, length, vocab) float32, the state after

`logits[:, t]` are the next token's logits after `ids[:, t]`: one call reads a prompt, or one
token a step. The state, each tensor with the batch first:

{states}

Each starts as zeros (an empty cache has `past` = 0); the output `<name>_out` is the next call's
`<name>`; keeping some rows of a batch is indexing the first axis of each.{limit}

To score a text, feed the boundary and the text's ids, `[0, t1, ..., tn]`: the log-softmax of
`logits[:, k]` at `t(k+1)` is that token's log-probability. To sample, feed `[0]` and a prompt's
ids, draw a token from the softmax of the last logits (divided by a temperature), feed it, repeat.
{end}

`examples/onnx_consumer.py` in nnlm's repository does both with numpy and onnxruntime alone."""

LIMIT = """

The network reads at most {n} tokens (its learned positions). Once the ids read so far, the
boundary included, would pass {n}, start again from the empty state and feed the last {n} ids:
nnlm samples so."""

HF = """\
## Use with transformers

```python
from transformers import AutoModelForCausalLM, AutoTokenizer

tok = AutoTokenizer.from_pretrained(FOLDER)
model = AutoModelForCausalLM.from_pretrained(FOLDER)
ids = tok({prompt!r}, return_tensors="pt")  # the boundary first, as nnlm starts a text
out = model.generate(**ids, do_sample=False, max_new_tokens=10)  # nnlm sample --temperature 0 --no-mix
print(tok.decode(out[0], skip_special_tokens=True))
```

A GPT-2 of {positions} positions: a prompt and its continuation fit in them (nnlm goes on past them
by re-reading the last ones; GPT-2 cannot). `generation_config.json` {stop}.{unknown}"""

ENDS = "Each item starts after a boundary and ends with one, which is predicted and counted like any token."
STREAM = "The text is one stream: it starts after the boundary, which is never predicted after that."
SAMPLE_ENDS = ("A list: stop a sample at the boundary; the end of an item counts in its score (log p of the "
               "boundary after its last token).")
SAMPLE_STREAM = ("Running text: never draw the boundary (set its logit to -inf); a sample is as long as you "
                 "ask (nnlm's default: {} tokens).")
SAID = {"char": "a character", "bpe": "a byte-level BPE subword", "word": "a word"}
IDS = {"char": "`tokens[i]` of `{vocab}` is id i's character",
       "word": "`tokens[i]` of `{vocab}` is id i's word, id 1 `<unk>` any word not in the vocabulary, split "
               "at whitespace (a line end is a word of its own where `line_ends` is true)",
       "bpe": "nnlm's id is the id of `{tokenizer}` (the Hugging Face tokenizers JSON) plus one; `{vocab}` "
              "has each token's text"}
UNKNOWN = {"char": " A character the run never saw is left out (nnlm refuses it).",
           "word": " A word the run never saw is `<unk>`.", "bpe": ""}
FILES = {"model": "the network, one sampling step",
         "vocab": "id -> token text, and what encoding a text takes",
         "tokenizer": "the run's byte-level BPE (Hugging Face tokenizers JSON; ids one below nnlm's)",
         "transformers": "the GPT-2 model, its generation settings and tokenizer (transformers' files)",
         "card": "this card as JSON, for programs (the ONNX graph's inputs, outputs and state; the figures)",
         "arpa": "the Kneser-Ney model nnlm mixes with this network, as an ARPA file (KenLM, SRILM)"}


def card_markdown(card: dict) -> str:
    """The card (card.card_json's) as Markdown, with the Hub's metadata for a transformers folder."""
    usage = usage_hf(card) if card["exported"] == "hf" else usage_onnx(card)
    sections = [about(card), figures(card), tokens(card), usage, files(card)]
    return (HUB if card["exported"] == "hf" else "") + "\n\n".join(sections) + "\n"


def about(card: dict) -> str:
    """The card's opening: the model, its size and what it was trained on."""
    model, data = card["model"], card["data"]
    counts = data.get("tokens") or {}
    split = ", ".join(f"{counts[k]:,} {k}" for k in ("train", "dev", "test") if counts.get(k) is not None)
    settings = ", ".join(f"{k} {v}" for k, v in model["config"].items() if k != "vocab_size")
    kind = "a list, one item per line" if data["kind"] == "list" else "running text"
    return ABOUT.format(family=model["family"], exported=card["exported"], version=card["nnlm_version"],
                        what=model["what"], parameters=model["parameters"], settings=settings,
                        file=data["file"], kind=kind, level=SAID[data["level"]], split=split or "-",
                        chose="".join(f"\n  - {line}" for line in data["chose"]) or " as given")


def fmt(x) -> str:
    """A loss with four decimals, or '-' where there is none."""
    return "-" if x is None else f"{x:.4f}"


def figures(card: dict) -> str:
    """The card's table of the model's losses, and what the n-gram mixture adds."""
    f, mixture, arpa = card["figures"], card["mixture"], card["files"].get("arpa")
    rows = "\n".join(f"| {split} | {fmt(f[split]['loss'])} | {fmt(f[split]['perplexity'])} | "
                     f"{fmt(f[split]['bits_per_char'])} |" for split in ("train", "dev", "test"))
    text = FIGURES.format(best_step=f.get("best_step") or "-", step=f.get("step") or "-", rows=rows)
    if mixture:
        text += MIXTURE.format(order=mixture["order"], weight=mixture["weight"], dev=fmt(mixture["dev_loss"]),
                               test=fmt(mixture["test_loss"]))
        text += f" Its n-gram model is beside it as `{arpa}` (ARPA: KenLM, SRILM)." if arpa else ""
    return text


def tokens(card: dict) -> str:
    """What the ids mean: the vocabulary, the boundary, a BPE's tokenizer, the labels."""
    ids = card["ids"]
    if card["exported"] == "hf":
        said = "the tokenizer's ids are nnlm's: id 0 `<|endoftext|>` is nnlm's boundary, every text's BOS"
    else:
        said = f"{IDS[ids['level']].format(**card['files'])}. Id {ids['boundary_id']}: the boundary, no text"
    ending = ENDS if ids["ends"] else STREAM
    labels = ", ".join(f"{name} {i}" for name, i in card["labels"].items()) or "none"
    return TOKENS.format(vocab_size=ids["vocab_size"], level=SAID[ids["level"]], said=said, ending=ending,
                         labels=labels)


def usage_onnx(card: dict) -> str:
    """How to score and sample with the ONNX step model, state by state."""
    onnx, ids = card["onnx"], card["ids"]
    states = "\n".join(f"- `{s['input']}` ({', '.join(map(str, s['shape']))}) {s['dtype']}: {s['what']}"
                       for s in onnx["state"])
    end = SAMPLE_ENDS if ids["ends"] else SAMPLE_STREAM.format(ids["default_max_len"])
    limit = LIMIT.format(n=onnx["max_positions"]) if onnx["max_positions"] else ""
    return ONNX.format(file=onnx["file"], opset=onnx["opset"], states=states, limit=limit, end=end)


def usage_hf(card: dict) -> str:
    """How to load the folder in transformers and generate as nnlm samples."""
    stop = "stops at the boundary, the end of an item" if card["ids"]["ends"] else \
        "never draws the boundary (running text has no end)"
    return HF.format(prompt="em" if card["ids"]["level"] == "char" else "The",
                     positions=card["model"]["config"]["block_size"], stop=stop,
                     unknown=UNKNOWN[card["ids"]["level"]])


def files(card: dict) -> str:
    """The card's list of the folder's files."""
    listed = [f"- `{name}`: {FILES[role]}" for role, name in card["files"].items() if name]
    return "## Files\n\n" + "\n".join(listed + ["- `README.md`: this card"])

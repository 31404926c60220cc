"""Sample and score with a transformer that nnlm exported for Hugging Face transformers, with
transformers alone (and the PyTorch it runs on): no nnlm.

    nnlm export runs/names-gpt --format hf --out names-hf
    python examples/hf_consumer.py score names-hf emma                 # log p of the text, in nats
    python examples/hf_consumer.py sample names-hf -n 5 --temperature 0.8 --seed 0 --prefix em

`score` prints each token's log-probability, then the total alone on the last line (a list run's
item with its end, as `nnlm score RUN --no-mix` counts it). `sample` prints one sample a line (a
line break in it as its escape, \\n); at temperature 0 each is the greedy continuation, as `nnlm sample
--temperature 0 --no-mix` gives it. Prompt and continuation fit in the model's positions.
"""

from __future__ import annotations

import argparse

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # what ends a line for str.splitlines


def score(model, tok, text: str) -> list[tuple[str, float]]:
    """(token, log p) of each token of `text` after the boundary (BOS), then of the end where the
    run's sequences end (its generation config's eos_token_id)."""
    ids = tok(text)["input_ids"]  # the boundary first
    eos = model.generation_config.eos_token_id
    targets = ids[1:] + ([eos] if eos is not None else [])
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), -1)  # (T, V)
    return [(tok.convert_ids_to_tokens(t), float(logp[k, t])) for k, t in enumerate(targets)]


def sample(model, tok, num: int, prefix: str, temperature: float, seed: int | None,
           max_new: int) -> list[str]:
    """`num` continuations of `prefix`, decoded with the prefix, the boundary left out."""
    if seed is not None:
        torch.manual_seed(seed)
    ids = tok([prefix] * num, return_tensors="pt")
    drawn = {"do_sample": False} if temperature == 0 else \
        {"do_sample": True, "temperature": temperature, "top_k": 0}  # the softmax over every token
    out = model.generate(**ids, max_new_tokens=max_new, **drawn)
    return [tok.decode(row, skip_special_tokens=True) for row in out]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("score", help="the total log-probability of TEXT, in nats")
    s.add_argument("folder")
    s.add_argument("text")
    d = sub.add_parser("sample", help="samples, one a line")
    d.add_argument("folder")
    d.add_argument("-n", type=int, default=10, help="how many (default: 10)")
    d.add_argument("--temperature", type=float, default=1.0, help="0: the most likely token (default: 1)")
    d.add_argument("--seed", type=int, default=None, help="the same seed, the same samples (default: fresh)")
    d.add_argument("--prefix", default="", help="every sample starts with this text (default: none)")
    d.add_argument("--max-new-tokens", type=int, default=None,
                   help="tokens to draw at most (default: as many as the model's positions leave)")
    args = ap.parse_args(argv)
    tok = AutoTokenizer.from_pretrained(args.folder)
    model = AutoModelForCausalLM.from_pretrained(args.folder).eval()
    if args.command == "score":
        scored = score(model, tok, args.text)
        for token, lp in scored:
            print(f"{token!r}\t{lp:.4f}")
        print(f"{sum(lp for _, lp in scored):.6f}")
        return
    room = model.config.n_positions - len(tok(args.prefix)["input_ids"])
    max_new = args.max_new_tokens or room
    for text in sample(model, tok, args.n, args.prefix, args.temperature, args.seed, max_new):
        print("".join(repr(c)[1:-1] if c in LINE_BREAKS else c for c in text))  # one a line


if __name__ == "__main__":
    main()

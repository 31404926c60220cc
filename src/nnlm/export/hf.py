"""A transformer run as a Hugging Face transformers folder: GPT-2's configuration and weights, a
`tokenizers` tokenizer of the run's vocabulary, and the generation settings nnlm samples with.

nnlm's Block is GPT-2's: pre-norm, LayerNorm (eps 1e-5), one fused query-key-value layer with a
bias, exact GELU, learned positions, an output layer without a bias. Converted: GPT-2's Conv1D
stores a weight as (in, out), nnlm's Linear as (out, in); an untied output layer is saved as
lm_head (tie_word_embeddings false). Nothing is refused: every transformer nnlm trains has this shape.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..data.vocab import BOUNDARY_ID
from ..errors import NnlmError
from ..models.transformer import Transformer
from ..run.spec import RunSpec

BOS = "<|endoftext|>"  # nnlm's boundary token (id 0) as the tokenizer writes it: GPT-2's name for it
LAYER_NAMES = {"ln_1": "ln_1", "ln_2": "ln_2", "qkv": "attn.c_attn", "proj": "attn.c_proj", "fc": "mlp.c_fc",
               "fc_out": "mlp.c_proj"}  # nnlm's Block -> GPT-2's
CONV1D = ("qkv", "proj", "fc", "fc_out")  # GPT-2 keeps these weights transposed


def gpt2_config(model: Transformer, ends: bool):
    """The GPT2Config of an nnlm transformer; `ends`: the run's sequences end (a list)."""
    from transformers import GPT2Config

    c = model.config
    return GPT2Config(vocab_size=c.vocab_size, n_positions=c.block_size, n_embd=c.n_embd, n_layer=c.n_layer,
                      n_head=c.n_head, n_inner=4 * c.n_embd, activation_function="gelu",
                      resid_pdrop=c.dropout, embd_pdrop=c.dropout, attn_pdrop=c.dropout,
                      layer_norm_epsilon=1e-5,
                      bos_token_id=BOUNDARY_ID, eos_token_id=BOUNDARY_ID if ends else None,
                      pad_token_id=BOUNDARY_ID, tie_word_embeddings=bool(c.tie))


def gpt2_weights(model: Transformer) -> dict[str, torch.Tensor]:
    """nnlm's weights under GPT-2's names (GPT2LMHeadModel's state dict)."""
    out = {"transformer.wte.weight": model.wte.weight, "transformer.wpe.weight": model.wpe.weight,
           "transformer.ln_f.weight": model.ln_f.weight, "transformer.ln_f.bias": model.ln_f.bias}
    for i, block in enumerate(model.blocks):
        for ours, theirs in LAYER_NAMES.items():
            layer = getattr(block, ours)
            out[f"transformer.h.{i}.{theirs}.weight"] = layer.weight.T if ours in CONV1D else layer.weight
            out[f"transformer.h.{i}.{theirs}.bias"] = layer.bias
    if not model.config.tie:
        out["lm_head.weight"] = model.head.weight
    return {name: t.detach().contiguous().clone() for name, t in out.items()}


def gpt2_model(model: Transformer, ends: bool):
    """A GPT2LMHeadModel holding `model`'s weights exactly (every weight of both is filled)."""
    from transformers import GPT2LMHeadModel

    hf = GPT2LMHeadModel(gpt2_config(model, ends)).eval()
    missing, unexpected = hf.load_state_dict(gpt2_weights(model), strict=False)
    missing = [m for m in missing if not (model.config.tie and m == "lm_head.weight")]
    if missing or unexpected:  # transformers changed GPT-2's layout
        raise NnlmError(f"this transformers' GPT-2 has other weights (missing {missing[:3]}, unexpected "
                        f"{unexpected[:3]}): export with format='onnx'",
                        cli=f"this transformers' GPT-2 has other weights (missing {missing[:3]}, unexpected "
                        f"{unexpected[:3]}): export with --format onnx")
    return hf


def tokenizer_of(spec: RunSpec):
    """A `tokenizers` Tokenizer giving nnlm's ids for the run's vocabulary, BOS (id 0, nnlm's boundary)
    first: characters (a BPE with no merges, no pre-tokenizer: every character its token), nnlm's
    byte-level BPE with its ids moved up one, or words (split at whitespace; line ends a token of
    their own where the run keeps them; <unk> for any other word)."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, processors

    vocab = spec.vocab
    if vocab.level == "bpe":
        tokenizer = Tokenizer.from_str(json.dumps(shifted(spec.source.vocab_files()["tokenizer"])))
    elif vocab.level == "word":
        tokenizer = word_tokenizer(spec)
    else:
        tokenizer = Tokenizer(models.BPE(vocab={BOS: BOUNDARY_ID} | {c: i for i, c in enumerate(
            [vocab.decode([i]) for i in range(1, len(vocab))], 1)}, merges=[]))
        tokenizer.decoder = decoders.Fuse()
    tokenizer.add_special_tokens([AddedToken(BOS, special=True, normalized=False)])
    tokenizer.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", pair=f"{BOS} $A $B:1",
                                                             special_tokens=[(BOS, BOUNDARY_ID)])
    if tokenizer.get_vocab_size() != len(vocab) or tokenizer.token_to_id(BOS) != BOUNDARY_ID:
        raise NnlmError(f"the run's vocabulary has a token {BOS!r} of its own: it cannot be GPT-2's boundary")
    return tokenizer


def shifted(spec: dict) -> dict:
    """A byte-level BPE tokenizer's JSON with every id one up and BOS at id 0 (nnlm's ids)."""
    spec = json.loads(json.dumps(spec))
    spec["model"]["vocab"] = {BOS: BOUNDARY_ID} | {t: i + 1 for t, i in spec["model"]["vocab"].items()}
    return spec


def word_tokenizer(spec: RunSpec):
    """Words: nnlm's split (whitespace; a line end a word of its own in a stream that keeps them),
    lowercased where the run is, <unk> for a word not in the vocabulary; decoded as nnlm joins
    words (a space between two words, none beside a line end)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

    vocab = spec.vocab
    words = {BOS: BOUNDARY_ID} | {vocab.decode([i]): i for i in range(1, len(vocab))}
    tokenizer = Tokenizer(models.WordLevel(vocab=words, unk_token=vocab.decode([1])))
    line_ends = not spec.source.ends and spec.data.line_ends
    one_line_end = [normalizers.Replace(Regex(r"\r\n?"), "\n")] if line_ends else []  # nnlm's: \n, \r\n, \r
    lowercase = [normalizers.Lowercase()] if getattr(vocab, "lowercase", False) else []
    tokenizer.normalizer = normalizers.Sequence(one_line_end + lowercase)
    pieces = Regex(r"\S+|\n" if line_ends else r"\S+")  # what is kept: words (and line ends)
    tokenizer.pre_tokenizer = pre_tokenizers.Split(pieces, behavior="removed", invert=True)
    tokenizer.decoder = decoders.Sequence([decoders.WordPiece(prefix=" ", cleanup=False), decoders.Fuse(),
                                           decoders.Replace(" \n", "\n"), decoders.Replace("\n ", "\n")])
    return tokenizer


def write_hf(spec: RunSpec, model: Transformer, folder: Path) -> None:
    """The transformers folder: config.json, model.safetensors, generation_config.json (greedy by
    default; a list ends at the boundary, running text never draws it), the tokenizer's files.

    Raises:
        NnlmError: transformers is not installed, or its GPT-2 no longer has nnlm's shape.
    """
    try:
        from transformers import GenerationConfig, PreTrainedTokenizerFast
    except ImportError:
        raise NnlmError("format 'hf' needs transformers: pip install 'nnlm[export]'",
                        cli="--format hf needs transformers: pip install 'nnlm[export]'") from None
    from transformers.utils import logging as transformers_logging

    ends = spec.source.ends
    transformers_logging.disable_progress_bar()  # its bar over one file of weights
    try:
        gpt2_model(model, ends).save_pretrained(folder)
    finally:
        transformers_logging.enable_progress_bar()
    GenerationConfig(bos_token_id=BOUNDARY_ID, eos_token_id=BOUNDARY_ID if ends else None,
                     pad_token_id=BOUNDARY_ID, max_length=model.config.block_size,
                     suppress_tokens=None if ends else [BOUNDARY_ID]).save_pretrained(folder)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tokenizer_of(spec), bos_token=BOS, eos_token=BOS,
                                        pad_token=BOS, add_bos_token=True,
                                        model_max_length=model.config.block_size)
    tokenizer.save_pretrained(folder)

"""Constraints on what is sampled (inference/constraints.py and SampleRequest's controls): every
sample meets them on character, subword and word runs; the token automaton accepts exactly what
Python's `re` does; --exact draws from the model's conditional distribution (a chi-square test
against the enumerated one) where masking does not; a byte-level BPE run's samples are always
valid UTF-8."""

import itertools
import re
import string
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import nnlm
from helpers import FIXTURES, TINY_SETTINGS, VERSE, run_error, run_ok
from nnlm.data.vocab import Vocab
from nnlm.errors import SettingError
from nnlm.inference.constraints import TextRule, Unsatisfiable, compile_constraint, full_match_pattern
from nnlm.inference.sample import SampleRequest, generate
from nnlm.models.mlp import MLP, MLPConfig

GREEK = str.maketrans(string.ascii_lowercase + string.ascii_uppercase,
                      "αβψδεφγηιξκλμνοπρστθωςχυζϟ" + "αβψδεφγηιξκλμνοπρστθωςχυζϟ".upper())


def train(out, data, **settings):
    nnlm.train(str(data), str(out), progress=False, **{**TINY_SETTINGS, **settings})
    return nnlm.load(out, device="cpu")


def greek(text: str) -> str:
    return text.translate(GREEK)


BPE_TEXT = dict(tokens="bpe", kind="text", model="mlp", vocab_size=300, steps=30)
RUNS = {  # name -> (data: a file, or (a file's name, its text)), training settings over TINY_SETTINGS
    "names": (FIXTURES / "names300.txt", {}),
    "names-bpe": (FIXTURES / "names300.txt", dict(tokens="bpe", vocab_size=300)),
    "words": (FIXTURES / "words200.txt", dict(tokens="word", min_count=1)),
    "verse": (VERSE, dict(tokens="char", kind="text", model="mlp", steps=30)),
    "ascii-text": (("word.txt", "word " * 4000), BPE_TEXT),
    "greek-text": (("greek.txt", greek(VERSE.read_text(encoding="utf-8"))), BPE_TEXT),
    "greek-list": (("greek-names.txt", greek((FIXTURES / "names300.txt").read_text(encoding="utf-8"))),
                   dict(tokens="bpe", vocab_size=300, steps=30)),
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """trained(name): the run RUNS names, trained when a test first asks for it (once a module)."""
    where, done = tmp_path_factory.mktemp("constraint-runs"), {}

    def get(name: str) -> nnlm.LanguageModel:
        if name not in done:
            data, settings = RUNS[name]
            if isinstance(data, tuple):
                (where / data[0]).write_text(data[1], encoding="utf-8")
                data = where / data[0]
            done[name] = train(where / name, data, **settings)
        return done[name]

    return get


# -- the automaton ---------------------------------------------------------------------------

def test_anchors_at_the_ends_are_dropped_and_no_others():
    assert full_match_pattern("^[a-z]{4,7}a$") == "[a-z]{4,7}a"
    assert full_match_pattern("^a|b$") == "a|b"  # the same in full: ^ and $ begin and end the whole
    assert full_match_pattern(r"a\$") == r"a\$" and full_match_pattern(r"a\\$") == "a\\\\"


class ByteTokens:
    """A source whose tokens are the given byte strings (ids from 1), as a byte-level BPE's are."""

    ends = True

    class Bytes:
        def __init__(self, tokens):
            self.tokens = [b"", *tokens]

        def __len__(self):
            return len(self.tokens)

        def token_bytes(self):
            return self.tokens

    def __init__(self, tokens):
        self.vocab = self.Bytes(tokens)

    def decode(self, ids):
        return b"".join(self.vocab.tokens[i] for i in ids).decode("utf-8", errors="replace")

    def held_bytes(self):
        return None


# tokens over a, b, é (2 bytes) and あ (3 bytes): whole, cut in two, and across characters
A = "あ".encode()
SPLIT_TOKENS = [b"a", b"b", "é".encode(), b"\xc3", b"\xa9", A[:1], A[1:], A, b"a\xc3", b"\xa9b", b"ba"]
ATOMS = st.sampled_from(["a", "b", "é", "あ", "[ab]", "[^a]", ".", "(a|é)", "[éあ]"])


def patterns():
    """Regular expressions over a, b, é and あ, as hypothesis draws them."""
    return st.recursive(ATOMS, lambda inner: st.one_of(
        st.tuples(inner, inner).map("".join),
        st.tuples(inner, inner).map(lambda ab: f"({ab[0]}|{ab[1]})"),
        st.tuples(inner, st.sampled_from(["*", "+", "?", "{1,2}"])).map(lambda x: f"({x[0]}){x[1]}")),
        max_leaves=5)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pattern=patterns(), contains=st.sampled_from(["", "b", "é"]))
def test_the_token_automaton_accepts_what_re_matches(pattern, contains):
    """Every sequence of up to 3 tokens, characters cut between tokens included: the automaton
    accepts it exactly where its bytes are valid UTF-8 and Python's re matches the text in full."""
    source = ByteTokens(SPLIT_TOKENS)
    rule = TextRule(regex=pattern, contains=contains)
    try:
        constraint = compile_constraint(source, rule, [], 0, 3)
    except Unsatisfiable:  # nothing of 3 tokens or fewer matches
        assume(False)
    table, final = constraint.automaton.table, constraint.automaton.final
    for n in range(4):
        for seq in itertools.product(range(1, len(SPLIT_TOKENS) + 1), repeat=n):
            state = 0
            for t in seq:
                state = table[state, t]
            data = b"".join(source.vocab.tokens[t] for t in seq)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            assert bool(final[state]) == (text is not None and rule.accepts(text)), (pattern, data)


# -- every sample meets the rules ----------------------------------------------------------------

def meets(samples, rule: TextRule) -> bool:
    return all(rule.accepts(s.text) for s in samples)


LIST_RULES = [dict(regex=r"^[a-z]{4,7}a$"), dict(contains="li"), dict(suffix="n"), dict(min_chars=7),
              dict(max_chars=4), dict(regex="[a-z]+", contains="e", suffix="y", min_chars=4, max_chars=9)]


@pytest.mark.parametrize("rules", LIST_RULES)
@pytest.mark.parametrize("run", ["names", "names-bpe"])
def test_every_sample_of_a_list_run_meets_the_rules(trained, run, rules):
    lm = trained(run)
    samples = lm.sample(200, seed=1, **rules)
    assert len(samples) == 200 and samples.tries == 200
    assert meets(samples, TextRule(**rules)), [s.text for s in samples]


@pytest.mark.parametrize("rules", [dict(contains="Emma"), dict(suffix="Mia ."), dict(max_chars=12),
                                   dict(regex=r"(Emma|Mia)( [A-Z][a-z]+)* \.", min_chars=14)])
def test_every_sample_of_a_word_run_meets_the_rules(trained, rules):
    word_lm = trained("words")
    samples = word_lm.sample(100, seed=2, **rules)
    assert len(samples) == 100 and meets(samples, TextRule(**rules))


LETTERS = st.sampled_from(["a", "e", "l", "n", "[aeiou]", "[^aeiou]", "."])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pattern=st.lists(st.tuples(LETTERS, st.sampled_from(["", "*", "+", "?", "{2}"])), min_size=1,
                        max_size=4).map(lambda parts: "".join(f"{a}{q}" for a, q in parts)))
def test_hypothesis_patterns_hold_on_every_sample(trained, pattern):
    char_lm = trained("names")
    try:
        samples = char_lm.sample(30, seed=3, regex=pattern)
    except SettingError as e:
        assert "can meet" in str(e)  # a pattern no name of the run's lengths can match
        return
    assert all(re.fullmatch(pattern, s.text) for s in samples), pattern


def test_the_prefix_counts_and_must_begin_a_match(trained):
    char_lm = trained("names")
    samples = char_lm.sample(50, seed=4, prefix="ma", regex="ma[a-z]*n", max_chars=6)
    assert all(s.text.startswith("ma") and s.text.endswith("n") and len(s.text) <= 6 for s in samples)
    with pytest.raises(SettingError, match="begins with the prefix"):
        char_lm.sample(5, prefix="zz", regex="a[a-z]*")


def test_no_sample_is_an_excluded_item(trained, tmp_path):
    char_lm = trained("names")
    texts = [s.text for s in char_lm.sample(400, seed=5) if s.text]  # (an item is never empty)
    common = Counter(texts).most_common(15)
    banned = tmp_path / "banned.txt"
    banned.write_text("\n".join(text for text, _ in common) + "\n")
    samples = char_lm.sample(400, seed=5, exclude=banned)
    assert len(samples) == 400 and not {s.text for s in samples} & {t for t, _ in common}
    assert samples.tries > 400  # the excluded ones were drawn again
    given_items = char_lm.sample(100, seed=5, exclude=[common[0][0]])
    assert common[0][0] not in {s.text for s in given_items}


def test_running_text_meets_the_rules_at_its_length(trained, capsys):
    text_lm = trained("verse")
    samples = text_lm.sample(4, seed=6, max_len=40, prefix="The", suffix=".", contains="e")
    assert all(len(s.text) == 40 and s.text.startswith("The") and s.text.endswith(".") for s in samples)
    pieces = []  # with --exact, the text is handed over whole once a sample has passed
    exact = text_lm.sample(1, seed=6, max_len=20, suffix="e", exact=True, on_text=pieces.append)
    assert pieces == [exact[0].text] and len(exact[0].text) == 20 and exact[0].text.endswith("e")
    printed = run_ok(capsys, "sample", text_lm.spec.run_dir, "--max-len", "20", "--suffix", "e", "--exact",
                     "--seed", "6")
    assert printed == exact[0].text + "\n"
    for refused in (dict(min_chars=3), dict(max_chars=30), dict(exclude=["x"])):
        with pytest.raises(SettingError, match="is for a list's samples"):
            text_lm.sample(1, **refused)


def test_characters_and_words_without_rules_sample_as_before(trained):
    """No constraint at all where none is asked and tokens are whole characters: the samples of a
    seed are generate's own, the draws of before constraints existed."""
    char_lm = trained("names")
    word_lm = trained("words")
    for lm in (char_lm, word_lm):
        request = SampleRequest(num=20, seed=7).checked(lm.source)
        assert request.constraint is None
        ids = generate(lm.predictor, 20, [], generator=torch.Generator().manual_seed(7), **request.controls())
        assert [s.text for s in lm.sample(20, seed=7)] == [lm.source.decode(seq) for seq in ids]


# -- errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize("flags, says", [
    (["--regex", "a("], "--regex is not a valid pattern"),
    (["--regex", r"\bemma"], "--regex uses what nnlm's patterns cannot"),
    (["--contains", "Z"], "--contains: character 'Z' is not in the model's vocabulary"),
    (["--regex", "[a-z]{40}"], "--regex: no sample of 0 to 32 tokens can meet this"),
    (["--contains", "q", "--suffix", "x", "--max-chars", "1"], "--contains, --suffix and --max-chars: no"),
    (["--min-chars", "5", "--max-chars", "3"], "--min-chars (5) must not exceed --max-chars (3)"),
])
def test_bad_constraints_are_one_line(trained, capsys, flags, says):
    char_lm = trained("names")
    assert says in run_error(capsys, "sample", char_lm.spec.run_dir, *flags)


def test_an_empty_or_missing_exclude_file_is_one_line(trained, capsys, tmp_path):
    char_lm = trained("names")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert "--exclude: " in run_error(capsys, "sample", char_lm.spec.run_dir, "--exclude", empty)
    assert "no such file" in run_error(capsys, "sample", char_lm.spec.run_dir, "--exclude", tmp_path / "gone")


# -- exact: the model's distribution given the constraint ----------------------------------------

class Chars:
    """A source of characters alone (what compile_constraint reads of a run)."""

    ends = True

    def __init__(self, chars: str):
        self.vocab = Vocab(list(chars))

    def decode(self, ids):
        return self.vocab.decode(ids)

    def held_bytes(self):
        return None


MAX_LEN = 4


@pytest.fixture(scope="module")
def bigram():
    """A bigram model over a, b, c (block size 1) and its next-token probabilities (4, 4)."""
    torch.manual_seed(0)
    model = MLP(MLPConfig(vocab_size=4, block_size=1, n_embd=3, n_hidden=8))
    with torch.no_grad():
        model.out.weight.normal_(0.0, 1.5)
    model.eval()
    with torch.no_grad():
        return model, torch.softmax(model(torch.arange(4)[:, None])[0], -1).double()


def sequence_prob(probs, seq) -> float:
    """p(seq) as generate draws it: each token given the one before, then the end (none at MAX_LEN)."""
    p, prev = 1.0, 0
    for t in (*seq, 0) if len(seq) < MAX_LEN else seq:
        p, prev = p * float(probs[prev, t]), t
    return p


def masked_prob(probs, constraint, seq) -> float:
    """q(seq) of the masked sampler: each step's probabilities renormalised over the allowed tokens."""
    guide, q = constraint.guide(1, torch.device("cpu")), 1.0
    for pos, t in enumerate((*seq, 0) if len(seq) < MAX_LEN else seq):
        row = probs[seq[pos - 1] if pos else 0] * guide.allowed(pos)[0].double()
        q *= float(row[t] / row.sum())
        guide.advance(torch.tensor([t]))
    return q


def chi_square_p(counts: Counter, expected: dict, n: int) -> float:
    """The p-value of counts against n draws of `expected` (bins under 5 expected pooled)."""
    big = [k for k, p in expected.items() if p * n >= 5]
    observed = [counts[k] for k in big] + [n - sum(counts[k] for k in big)]
    wanted = [expected[k] * n for k in big] + [n * (1 - sum(expected[k] for k in big))]
    pairs = [(o, e) for o, e in zip(observed, wanted, strict=True) if e > 1e-9]
    stat = sum((o - e) ** 2 / e for o, e in pairs)
    return float(torch.special.gammaincc(torch.tensor((len(pairs) - 1) / 2), torch.tensor(stat / 2)))


@pytest.mark.parametrize("rule", [TextRule(regex="a[abc]*c"), TextRule(contains="bb"),
                                  TextRule(min_chars=3, suffix="c")])
def test_exact_draws_the_conditional_distribution_and_masking_does_not(bigram, rule):
    model, probs = bigram
    source = Chars("abc")
    constraint = compile_constraint(source, rule, [], 0, MAX_LEN)
    strings = [s for n in range(MAX_LEN + 1) for s in itertools.product((1, 2, 3), repeat=n)
               if rule.accepts(source.decode(list(s)))]
    mass = sum(sequence_prob(probs, s) for s in strings)
    exact = {s: sequence_prob(probs, s) / mass for s in strings}
    masked = {s: masked_prob(probs, constraint, s) for s in strings}
    assert sum(masked.values()) == pytest.approx(1.0)  # no row is ever stuck
    rows = generate(model, 60_000, [], max_len=MAX_LEN, constraint=constraint, exact=True,
                    generator=torch.Generator().manual_seed(1))
    kept = [tuple(r) for r in rows if r is not None]
    assert all(k in exact for k in kept) and len(kept) / len(rows) == pytest.approx(mass, abs=0.02)
    assert chi_square_p(Counter(kept), exact, len(kept)) > 1e-3
    steered = [tuple(r) for r in generate(model, 20_000, [], max_len=MAX_LEN, constraint=constraint,
                                          generator=torch.Generator().manual_seed(2))]
    assert chi_square_p(Counter(steered), masked, len(steered)) > 1e-3  # it draws what masking says
    assert chi_square_p(Counter(steered), exact, len(steered)) < 1e-9  # which is not the conditional
    assert 0.5 * sum(abs(masked[s] - exact[s]) for s in strings) > 0.1


def test_exact_says_how_many_it_tried_and_refuses_what_is_too_rare(trained, capsys):
    char_lm = trained("names")
    samples = char_lm.sample(20, seed=8, regex="[a-z]{3,6}a", exact=True)
    assert len(samples) == 20 and samples.tries > 20
    assert all(re.fullmatch("[a-z]{3,6}a", s.text) for s in samples)
    out = run_ok(capsys, "sample", char_lm.spec.run_dir, "--regex", "[a-z]+n", "--exact", "-n", "5",
                 "--seed", "1")
    assert [re.fullmatch("[a-z]+n", line.split()[0]) is not None for line in out.splitlines()] == [True] * 5
    with pytest.raises(SettingError, match="none of the 64 samples drawn satisfied"):
        char_lm.sample(3, seed=1, regex="[xyz]{6,9}q", exact=True, tries=64)


def test_the_command_line_says_the_tries_on_stderr(trained, capsys):
    char_lm = trained("names")
    from nnlm.cli import main

    flags = ["--suffix", "a", "--exact", "-n", "4", "--seed", "2"]
    assert main(["sample", str(char_lm.spec.run_dir), *flags]) == 0
    err = capsys.readouterr().err
    assert re.search(r"nnlm sample: 4 samples from [\d,]+ tries \(--exact", err), err


# -- a byte-level BPE run: valid UTF-8 always ----------------------------------------------------

def utf8(spelled: list[bytes], ids) -> str | None:
    """The bytes of the tokens `ids` (`spelled`: each token's) as text, or None where they are not
    valid UTF-8."""
    try:
        return b"".join(spelled[i] for i in ids).decode("utf-8")
    except UnicodeDecodeError:
        return None


@pytest.mark.parametrize("run, num, max_len", [("ascii-text", 50, 200), ("greek-text", 50, 200),
                                               ("names-bpe", 2500, 24), ("greek-list", 2500, 24)])
def test_a_bpe_run_samples_only_valid_utf8(trained, run, num, max_len):
    """10,000 tokens or more: never a replacement character, never a byte the text lacks; the same
    draws without the guard are not valid (the test can fail)."""
    lm = trained(run)
    request_ = SampleRequest(num=num, seed=9, max_len=max_len).checked(lm.source)
    rows = generate(lm.predictor, num, [], generator=torch.Generator().manual_seed(9), **request_.controls())
    assert sum(map(len, rows)) >= 10_000
    spelled = lm.vocab.token_bytes()
    texts = [utf8(spelled, ids) for ids in rows]
    assert all(t is not None and "\ufffd" not in t for t in texts)
    held = set(np.flatnonzero(lm.source.held_bytes()).tolist())
    assert all(set(t.encode()) <= held for t in texts)
    bare = generate(lm.predictor, num, [], max_len=max_len, min_len=request_.min_len,
                    generator=torch.Generator().manual_seed(9))
    assert any(text is None or set(text.encode()) - held for text in (utf8(spelled, ids) for ids in bare))
    assert all("\ufffd" not in s.text for s in lm.sample(20, seed=10, max_len=max_len))

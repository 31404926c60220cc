"""Constraints on what is sampled, compiled once per request into an automaton over the run's
tokens that `sample.generate` steps every row through.

What a constraint asks. Each sample's whole text, as `nnlm sample` prints it (the prefix
included), matches `regex` in full, holds `contains`, ends with `suffix`, and is `min_chars`
to `max_chars` characters long (`TextRule`). A run's tokens spell that text: a character, a word
(with the space that `decode` puts before every word but the first and those after a line
end), or a byte-level BPE token's bytes. A byte-level BPE run is always constrained by one rule
more, with or without a `TextRule`: its bytes so far are always a valid UTF-8 prefix, a sample
never ends inside a character, and a token holding a byte that the run's training text never
holds (`Source.held_bytes`) is never drawn (see `Spelling`).

How. The text's rules are one automaton over characters: interegular reads the pattern and
intersects it with the automata of `contains` and `suffix`, then minimises the product
(`text_fsm`). `ByteMachine` reads that automaton a byte at a time (states inside a character
are made as they are reached), and `build` walks every token of the vocabulary through it at
once (a trie of the tokens' bytes, walked level by level with numpy) from each state that
sampling can reach, the characters counted beside the state (`min_chars`, `max_chars`). The
result is a table (states, V) of next states. `Constraint` adds the request's length limits in
tokens: from each state, the lengths at which the text can be finished (`finishing_lengths`), so
a token is allowed at a position only where a sample can still be finished in the tokens left;
a constraint that no sample within max_len can satisfy is refused before sampling (`Unsatisfiable`).
At each step `Guide` looks up the allowed tokens of each row's state: (R, V) in a few gathers.
A request's constraint is compiled once (`SampleRequest.checked`), and a run keeps the last
CACHED it was asked for (the server's repeated requests compile nothing).

Steered or exact. `generate` masks the logits of the tokens a row may not draw, so every sample
meets the constraint, but the model's probabilities are renormalised step by step: that is not
the model's distribution given the constraint. With `exact` it draws from the model as it is and
stops a row as soon as it can no longer meet the constraint: the rows kept are draws of the
model given the constraint (rejection; `LanguageModel.draw` draws again, counting the tries).

Why interegular and not outlines-core. outlines-core (Rust) indexes a regex over a token
vocabulary directly and reads byte tokens, but (0.2.14) it cannot combine patterns (no
intersection, and the regex crate has no look-around, so `contains` and `suffix` cannot be
folded into the user's pattern), its final states do not say that a match is complete (its
issues #210 and #227), and it drops the transition by a token that ends inside a character from a
state where the pattern already matches: over the tokens {0xC3, 0xA9} the index of `é*` cannot
spell é at all, so a BPE run whose characters are split over tokens would be steered away from
them. interegular is small, pure Python, parses Python's regex syntax, and has the set
operations that combining constraints needs (intersection, minimisation); walking tokens through
its automaton, bytes included, is this module's own part, checked by the tests against Python's
`re` on patterns that hypothesis draws, over tokens that cut characters in two.

Running text has no end token: its samples are max_len tokens long, and the rules hold at that
length (the whole text, prompt and continuation, matches `regex` and ends with `suffix` at its
max_len-th token); `SampleRequest.checked` refuses `min_chars`, `max_chars` and `exclude` for it.
interegular knows `\\w`, `\\d` and `\\s` as ASCII classes only, and not `\\b` or back-references.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch

from ..data.vocab import BOUNDARY_ID
from ..errors import NnlmError

MAX_STATES = 20_000  # token-level states of one constraint
MAX_CELLS = 50_000_000  # states x vocabulary: the cells of one constraint's table of next states
CACHED = 32  # compiled constraints kept per run (the server's repeated requests)
FEW_STATES = 64  # up to this many states, a step looks up every state's allowed tokens
FAR = np.int32(1 << 30)  # "no way to finish": beyond any length


class BadPattern(NnlmError):
    """A pattern that cannot be read, or that uses what interegular does not have."""


class Unsatisfiable(NnlmError):
    """No sample within the request's lengths can satisfy the constraints; `longer`: a longer
    sample could."""

    def __init__(self, message: str, longer: bool = False):
        super().__init__(message)
        self.longer = longer


class TooComplex(NnlmError):
    """The constraints make more states than MAX_STATES (or a table past MAX_CELLS)."""


@dataclass(frozen=True)
class TextRule:
    """What each sample's whole text (the prefix included) must be. Empty strings and None: no rule."""

    regex: str = ""
    contains: str = ""
    suffix: str = ""
    min_chars: int = 0
    max_chars: int | None = None

    def __bool__(self) -> bool:
        return bool(self.regex or self.contains or self.suffix or self.min_chars
                    or self.max_chars is not None)

    def accepts(self, text: str) -> bool:
        """Whether `text` satisfies the rule, by Python's `re` (the tests' check of the automaton)."""
        return ((not self.regex or re.fullmatch(self.regex, text) is not None)
                and self.contains in text and text.endswith(self.suffix) and self.min_chars <= len(text)
                and (self.max_chars is None or len(text) <= self.max_chars))


# -- the text's automaton (interegular) ------------------------------------------------------

def full_match_pattern(regex: str) -> str:
    """`regex` without a leading ^ and a trailing unescaped $: a sample matches in full anyway,
    and interegular reads no anchors."""
    if regex.startswith("^"):
        regex = regex[1:]
    if regex.endswith("$") and (len(regex) - len(regex.rstrip("$")) == 1) and \
            (len(regex[:-1]) - len(regex[:-1].rstrip("\\"))) % 2 == 0:
        regex = regex[:-1]
    return regex


def text_fsm(rule: TextRule):
    """The minimal automaton over characters of the texts that match `rule.regex` in full, hold
    `rule.contains` and end with `rule.suffix` (interegular's FSM); BadPattern for a pattern
    that cannot be read."""
    import interegular

    patterns = [full_match_pattern(rule.regex) if rule.regex else "(?s:.)*"]
    if rule.contains:
        patterns.append("(?s:.)*" + re.escape(rule.contains) + "(?s:.)*")
    if rule.suffix:
        patterns.append("(?s:.)*" + re.escape(rule.suffix))
    try:
        re.compile(patterns[0])
    except re.error as e:
        raise BadPattern(f"is not a valid pattern ({e})") from None
    fsms = []
    for pattern in patterns:
        try:
            fsms.append(interegular.parse_pattern(pattern).to_fsm())
        except Exception as e:  # noqa: BLE001 - interegular's errors are of several kinds
            why = " ".join(str(e).split()) or type(e).__name__
            raise BadPattern(f"uses what nnlm's patterns cannot read ({why}): no \\b, back-references or "
                             "Unicode properties, and ^ and $ only at its ends") from None
    fsm = fsms[0]
    for other in fsms[1:]:
        fsm = fsm & other
    return fsm.reduce()


# -- UTF-8 ----------------------------------------------------------------------------------

def utf8_lead(byte: int) -> tuple[int, int, int] | None:
    """For the first byte of a character: how many bytes follow, and the range the next one is
    in (Unicode's table 3-7: no overlong forms, surrogates, or code points past U+10FFFF); None
    for a byte no character starts with."""
    if byte < 0x80:
        return 0, 0, 0
    if 0xC2 <= byte <= 0xDF:
        return 1, 0x80, 0xBF
    if 0xE0 <= byte <= 0xEF:
        return 2, 0xA0 if byte == 0xE0 else 0x80, 0x9F if byte == 0xED else 0xBF
    if 0xF0 <= byte <= 0xF4:
        return 3, 0x90 if byte == 0xF0 else 0x80, 0x8F if byte == 0xF4 else 0xBF
    return None


def chars_started(data: bytes) -> int:
    """The characters that the bytes `data` start (every byte but a continuation byte)."""
    return sum(1 for b in data if not 0x80 <= b <= 0xBF)


class ByteMachine:
    """An automaton over characters (interegular's FSM) read a byte at a time. Its states: 0
    dead, 1..Q the FSM's states (between characters), then states inside a character, made as
    they are reached: ("part", q, bytes so far) where a character the FSM names starts so,
    else ("rest", q, bytes still to come, range of the next one) (all such characters are
    alike to the FSM: its "anything else")."""

    def __init__(self, fsm):
        from interegular.fsm import anything_else

        order = sorted(fsm.states, key=lambda s: (s != fsm.initial, str(s)))
        index = {s: i for i, s in enumerate(order)}
        self.initial = index[fsm.initial] + 1
        classes = 1 + max(fsm.alphabet.by_transition)
        self.chars = np.zeros((len(order) + 1, classes), dtype=np.int32)  # (Q + 1, C) machine ids
        for s, moves in fsm.map.items():
            for cls, to in moves.items():
                self.chars[index[s] + 1, cls] = index[to] + 1
        self.other = fsm.alphabet[anything_else]
        named = [c for symbols in fsm.alphabet.by_transition.values() for c in symbols
                 if c is not anything_else]
        self.class_of = {c: fsm.alphabet[c] for c in named}
        self.ascii = np.array([self.class_of.get(chr(b), self.other) for b in range(128)])
        self.parts = {c.encode()[:k] for c in named for k in range(1, len(c.encode()))}
        self.finals = np.zeros(len(order) + 1, dtype=bool)
        self.finals[[index[s] + 1 for s in fsm.finals]] = True
        self.keys: list = [None, *range(1, len(order) + 1)]  # id -> key (an int: between characters)
        self.ids = {k: k for k in self.keys[1:]}
        self.table = np.zeros((max(64, 2 * len(self.keys)), 256), dtype=np.int32)  # (capacity, 256)
        self.filled = 1  # rows 0..filled-1 are made (0: dead, all zeros)

    def boundary(self, ids: np.ndarray) -> np.ndarray:
        """Whether each state is between characters (not inside one)."""
        return (ids >= 1) & (ids < len(self.chars))

    def final(self, ids: np.ndarray) -> np.ndarray:
        """Whether the text read so far is accepted (between characters, at an accepting state)."""
        return self.boundary(ids) & self.finals[np.minimum(ids, len(self.chars) - 1)]

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """The table with the rows of `ids` made: (states, 256) next ids."""
        while self.filled < len(self.keys) and (ids >= self.filled).any():
            while self.filled < len(self.keys):
                if self.filled >= len(self.table):
                    self.table = np.concatenate([self.table, np.zeros_like(self.table)])
                self.table[self.filled] = self._row(self.keys[self.filled])
                self.filled += 1
        return self.table

    def _id(self, key) -> int:
        if key not in self.ids:
            self.ids[key] = len(self.keys)
            self.keys.append(key)
        return self.ids[key]

    def _inside(self, q: int, sofar: bytes, need: int, lo: int, hi: int) -> int:
        """The state after the bytes `sofar` of a character (`need` more to come, the next in
        lo..hi), from state q; 0 where no character so begun can be read from q."""
        if sofar in self.parts:
            return self._id(("part", q, sofar))
        if self.chars[q, self.other] == 0:
            return 0
        return self._id(("rest", q, need, lo, hi))

    def _row(self, key) -> np.ndarray:
        row = np.zeros(256, dtype=np.int32)
        if isinstance(key, int):  # between characters
            row[:128] = self.chars[key, self.ascii]
            for b in range(0xC2, 0xF5):
                need, lo, hi = utf8_lead(b)
                row[b] = self._inside(key, bytes([b]), need, lo, hi)
        elif key[0] == "rest":  # any character the FSM does not name
            _, q, need, lo, hi = key
            for b in range(lo, hi + 1):
                row[b] = self.chars[q, self.other] if need == 1 else \
                    self._inside(q, b"", need - 1, 0x80, 0xBF)
        else:  # the start of a character the FSM names
            _, q, sofar = key
            total = 1 + utf8_lead(sofar[0])[0]
            lo, hi = utf8_lead(sofar[0])[1:] if len(sofar) == 1 else (0x80, 0xBF)
            for b in range(lo, hi + 1):
                now = sofar + bytes([b])
                if len(now) == total:
                    row[b] = self.chars[q, self.class_of.get(now.decode("utf-8"), self.other)]
                else:
                    row[b] = self._inside(q, now, total - len(now), 0x80, 0xBF)
        return row


# -- how a run's tokens spell text ------------------------------------------------------------

@dataclass
class Trie:
    """Byte strings as a trie: node 0 the root; by depth, each node's parent and byte."""

    levels: list[tuple[np.ndarray, np.ndarray, np.ndarray]]  # per depth: (nodes, parents, bytes)
    size: int

    @classmethod
    def of(cls, strings: list[bytes]) -> tuple[Trie, np.ndarray]:
        """The trie of `strings`, and each string's node: (len(strings),) int64."""
        children: dict[tuple[int, int], int] = {}
        depth_of, parent_of, byte_of = [0], [0], [0]
        ends = np.zeros(len(strings), dtype=np.int64)
        for k, data in enumerate(strings):
            node = 0
            for b in data:
                nxt = children.get((node, b))
                if nxt is None:
                    nxt = children[node, b] = len(depth_of)
                    depth_of.append(depth_of[node] + 1)
                    parent_of.append(node)
                    byte_of.append(b)
                node = nxt
            ends[k] = node
        depth, parent, byte = np.array(depth_of), np.array(parent_of), np.array(byte_of)
        levels = []
        for d in range(1, int(depth.max()) + 1):
            nodes = np.flatnonzero(depth == d)
            levels.append((nodes, parent[nodes], byte[nodes]))
        return cls(levels, len(depth_of)), ends

    def walk(self, machine: ByteMachine, starts: np.ndarray) -> np.ndarray:
        """The machine's state at every node, from each of `starts`: (len(starts), nodes)."""
        at = np.zeros((len(starts), self.size), dtype=np.int32)
        at[:, 0] = starts
        for nodes, parents, data in self.levels:
            before = at[:, parents]  # (F, n)
            at[:, nodes] = machine.rows(before)[before, data]
        return at


@dataclass
class Spelling:
    """How a run's tokens spell its text: each token's bytes in each variant (a word is spelled
    with the space before it, or without it first and after a line end), the variant after each
    token, the characters each adds, and which tokens may be drawn."""

    spelled: list[list[bytes]]  # per variant, each token's bytes
    trie: Trie
    node_of: np.ndarray  # (variants, V) each token's node in the trie
    after: np.ndarray  # (V,) the variant that follows each token
    chars: np.ndarray  # (variants, V) the characters each token adds
    drawable: np.ndarray  # (V,) bool: not the boundary, and no byte the training text never holds

    @classmethod
    def of(cls, source) -> Spelling:
        """The spelling of `source`'s vocabulary (data.base.Source), from its `decode` (a
        byte-level BPE: its tokens' bytes, `token_bytes`)."""
        size = len(source.vocab)
        if bytes_level(source):
            variants, after = [source.vocab.token_bytes()], np.zeros(size, dtype=np.int64)
        else:
            variants, after = written_variants(source)
        strings = [data for variant in variants for data in variant]
        trie, ends = Trie.of(strings)
        drawable = np.ones(size, dtype=bool)
        drawable[BOUNDARY_ID] = False
        held = source.held_bytes() if bytes_level(source) else None
        if held is not None:
            drawable &= np.array([all(held[b] for b in data) for data in variants[0]])
            drawable[BOUNDARY_ID] = False
        chars = np.array([[chars_started(data) for data in variant] for variant in variants], dtype=np.int32)
        return cls(variants, trie, ends.reshape(len(variants), size), after, chars, drawable)


def bytes_level(source) -> bool:
    """Whether `source`'s tokens are bytes (a byte-level BPE: a token may cut a character in two),
    not whole characters: its samples are always constrained."""
    return getattr(source.vocab, "token_bytes", None) is not None


def written_variants(source) -> tuple[list[list[bytes]], np.ndarray]:
    """Each token's text in UTF-8 as `source.decode` writes it first (variant 0) and after a
    token that puts a space after itself (variant 1; a word after a word), and which variant
    follows each token. Characters and BPE tokens have one variant (decode joins them as they
    are)."""
    size = len(source.vocab)
    alone = [source.decode([t]) if t != BOUNDARY_ID else "" for t in range(size)]
    probe = next((t for t in range(1, size) if alone[t]), None)
    if probe is None:
        return [[a.encode() for a in alone]], np.zeros(size, dtype=np.int64)
    base = source.decode([probe])
    later = [source.decode([probe, t])[len(base):] if t != BOUNDARY_ID else "" for t in range(size)]
    if later == alone:
        return [[a.encode() for a in alone]], np.zeros(size, dtype=np.int64)
    spaced = np.array([source.decode([t, probe]) != alone[t] + base for t in range(size)])
    return [[a.encode() for a in alone], [x.encode() for x in later]], spaced.astype(np.int64)


_spellings: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # source -> (Spelling, compiled)
_lock = threading.Lock()


def spelling_of(source) -> tuple[Spelling, OrderedDict]:
    """The source's Spelling (made once per source) and its cache of compiled constraints."""
    with _lock:
        if source not in _spellings:
            _spellings[source] = (Spelling.of(source), OrderedDict())
        return _spellings[source]


# -- the automaton over tokens -----------------------------------------------------------------

@dataclass
class TokenAutomaton:
    """A TextRule's automaton over a run's tokens, from the state after a prefix: for each state
    that drawing can reach, the state after each token (`table`, the dead state `dead` where
    the token may not be drawn or leads nowhere) and whether the text there is accepted."""

    table: np.ndarray  # (S + 1, V) int32; row S: the dead state
    final: np.ndarray  # (S + 1,) bool
    edges: np.ndarray  # (2, E) int64: each state and each state one token leads it to

    @property
    def dead(self) -> int:
        """The dead state's id (the table's last row)."""
        return len(self.final) - 1


def build(machine: ByteMachine, spelling: Spelling, rule: TextRule, prefix: list[int]) -> TokenAutomaton:
    """Every state that drawing can reach from after `prefix` (a state: the machine's, the
    spelling's variant, and the characters so far, counted up to the limit that matters) and
    its moves by every drawable token; Unsatisfiable where the prefix cannot begin a satisfying
    text, TooComplex past MAX_STATES or MAX_CELLS."""
    cap = rule.max_chars + 1 if rule.max_chars is not None else rule.min_chars  # counted up to cap
    start = walk_prefix(machine, spelling, prefix, cap)
    if start is None or (rule.max_chars is not None and start[2] > rule.max_chars):
        raise Unsatisfiable("no sample that begins with the prefix can meet this")
    size, wide = len(spelling.after), 2 * (cap + 1)  # a state's key: machine * wide + variant * (cap + 1) + c
    keys, index, rows, edges = [start], {start: 0}, [], []
    per_walk = max(1, 8_000_000 // spelling.trie.size)  # states walked together: (F, nodes) int32
    while len(rows) < len(keys):
        batch = np.array(keys[len(rows):len(rows) + per_walk])  # (F, 3)
        walked = spelling.trie.walk(machine, batch[:, 0])  # (F, nodes)
        after = np.take_along_axis(walked, spelling.node_of[batch[:, 1]], axis=1).astype(np.int64)  # (F, V)
        chars = np.minimum(batch[:, 2:] + spelling.chars[batch[:, 1]], cap)  # (F, V)
        ok = spelling.drawable & (after != 0) & ((chars < cap) if rule.max_chars is not None else True)
        moved = after * wide + spelling.after * (cap + 1) + chars  # (F, V) the next states' keys
        for f in range(len(batch)):
            found = np.flatnonzero(ok[f])
            unique, inverse = np.unique(moved[f, found], return_inverse=True)
            ids = np.array([state_id(keys, index, (int(u) // wide, int(u) % wide // (cap + 1),
                                                   int(u) % (cap + 1))) for u in unique], dtype=np.int64)
            row = np.full(size, -1, dtype=np.int64)
            row[found] = ids[inverse.reshape(-1)]
            rows.append(row)
            edges.append(np.stack([np.full(len(ids), len(rows) - 1), ids]))
        if len(keys) > MAX_STATES or len(keys) * size > MAX_CELLS:
            raise TooComplex(f"make more than {len(rows):,} states over the {size:,} tokens: too many to "
                             "steer by (a simpler pattern, or narrower limits)")
    table = np.stack([*rows, np.full(size, -1)]).astype(np.int32)
    table[table < 0] = len(keys)
    states = np.array(keys)
    final = machine.final(states[:, 0]) & (states[:, 2] >= rule.min_chars)
    return TokenAutomaton(table, np.append(final, False), np.concatenate(edges, 1))


def state_id(keys: list, index: dict, key: tuple) -> int:
    """The id of a state's key, a new one where it has none yet."""
    if key not in index:
        index[key] = len(keys)
        keys.append(key)
    return index[key]


def walk_prefix(machine: ByteMachine, spelling: Spelling, prefix: list[int], cap: int
                ) -> tuple[int, int, int] | None:
    """The state (machine, variant, characters) after the prefix's tokens (any token, drawable
    or not), or None where the machine dies on the way."""
    m, v, c = machine.initial, 0, 0
    for token in prefix:
        for b in spelling.spelled[v][token]:
            m = int(machine.rows(np.array([m]))[m, b])
        if m == 0:
            return None
        v, c = int(spelling.after[token]), min(cap, c + int(spelling.chars[v, token]))
    return m, v, c


def finishing_lengths(automaton: TokenAutomaton, most: int) -> np.ndarray:
    """For each state and each k in 0..most: the fewest tokens k' >= k after which the text can
    be accepted (FAR where it cannot within `most`): (S + 1, most + 2) int32."""
    size = len(automaton.final)
    src, dst = automaton.edges
    reach = np.zeros((size, most + 1), dtype=bool)  # reach[s, k]: accepted after exactly k more tokens
    reach[:, 0] = automaton.final
    for k in range(most):
        reach[np.unique(src[reach[dst, k]]), k + 1] = True
    at = np.where(reach, np.arange(most + 1, dtype=np.int32), FAR)
    soonest = np.minimum.accumulate(at[:, ::-1], axis=1)[:, ::-1]
    return np.concatenate([soonest, np.full((size, 1), FAR)], 1).astype(np.int32)


# -- a request's constraint, and the rows being generated --------------------------------------

class Constraint:
    """A TokenAutomaton with a request's lengths in tokens: which tokens each row may draw at
    each position (one that leaves a way to finish within max_len), and whether it may end."""

    def __init__(self, automaton: TokenAutomaton, min_len: int, max_len: int, start: int, ends: bool):
        self.automaton, self.min_len, self.max_len, self.start, self.ends = automaton, min_len, max_len, \
            start, ends
        self.soonest = finishing_lengths(automaton, max(0, max_len - start))  # (S + 1, L + 2)
        self._on: dict[torch.device, tuple[torch.Tensor, ...]] = {}
        first, last = self.window(start - 1)
        if not automaton.final.any():
            raise Unsatisfiable("no text that the run's tokens can spell meets this")
        if not self.soonest[0, first] <= last:
            length = f"{min_len} to {max_len} tokens" if ends else f"exactly {max_len} tokens"
            raise Unsatisfiable(f"no sample of {length} can meet this", longer=True)

    def window(self, pos: int) -> tuple[int, int]:
        """After a token drawn at position `pos`: the fewest and the most tokens that may follow."""
        return max(0, self.min_len - pos - 1), self.max_len - pos - 1

    def tensors(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The table (S + 1, V), the soonest lengths by k (L + 2, S + 1) and the final states, on
        `device`."""
        if device not in self._on:
            self._on[device] = (torch.from_numpy(self.automaton.table).long().to(device),
                                torch.from_numpy(np.ascontiguousarray(self.soonest.T)).to(device),
                                torch.from_numpy(self.automaton.final).to(device))
        return self._on[device]

    def guide(self, rows: int, device: torch.device) -> Guide:
        """The state of `rows` new rows, all after the prefix."""
        return Guide(self, torch.zeros(rows, dtype=torch.long, device=device))


class Guide:
    """Each row's state while `generate` draws: the tokens it may draw, and its state after."""

    def __init__(self, constraint: Constraint, states: torch.Tensor):
        self.constraint, self.states = constraint, states  # (R,)
        self.table, self.soonest, self.final = constraint.tensors(states.device)

    def allowed(self, pos: int) -> torch.Tensor:
        """(R, V) bool: the tokens each row may draw at position `pos` (the end token where its
        text is accepted and pos reaches min_len)."""
        c = self.constraint
        first, last = c.window(pos)
        if len(self.final) <= FEW_STATES:  # every state's row, then each row's
            unique, inverse = torch.arange(len(self.final), device=self.states.device), self.states
        else:  # the rows' states, each once
            unique, inverse = torch.unique(self.states, return_inverse=True)
        ok = self.soonest[first][self.table[unique]] <= last  # (U, V)
        ok[:, BOUNDARY_ID] = self.final[unique] & (pos >= c.min_len and c.ends)
        return ok[inverse]  # (R, V)

    def advance(self, token: torch.Tensor) -> None:
        """Each row's state after its token (R,)."""
        self.states = self.table[self.states, token]

    def keep(self, rows: torch.Tensor) -> None:
        """Keep the rows `rows` only (a bool mask or indices), as generate keeps them."""
        self.states = self.states[rows]


def compile_constraint(source, rule: TextRule, prefix: list[int], min_len: int, max_len: int
                       ) -> Constraint | None:
    """The constraint of `rule` on `source`'s samples after `prefix` (token ids) within min_len
    to max_len tokens, or None where nothing constrains them (no rule, and tokens that are whole
    characters: not a byte-level BPE's). Cached per source: equal requests share one. Raises
    BadPattern, Unsatisfiable or TooComplex (NnlmError; SampleRequest.checked names the controls)."""
    if not rule and not bytes_level(source):
        return None
    spelling, cache = spelling_of(source)
    key = (rule, tuple(prefix), min_len, max_len)
    with _lock:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    machine = ByteMachine(text_fsm(rule))
    automaton = build(machine, spelling, rule, prefix)
    constraint = Constraint(automaton, min_len, max_len, len(prefix), source.ends)
    with _lock:
        cache[key] = constraint
        while len(cache) > CACHED:
            cache.popitem(last=False)
    return constraint

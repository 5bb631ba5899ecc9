"""Decoding: top-p against its definition, beam search against brute-force enumeration on a toy vocabulary,
greedy = beam 1, seeded sampling determinism."""

from __future__ import annotations

import itertools

import pytest
import torch

from simlab.generate.decoding import beam_search, greedy, sample, top_p_filter

V, END, MAX_LEN = 4, 0, 4


class ToyState:
    """The full history of each row; ``select`` as a KV cache would."""

    def __init__(self, seqs):
        self.seqs = seqs
        self.device = torch.device("cpu")

    def select(self, index):
        return ToyState([self.seqs[i] for i in index.tolist()])


def toy_model(seed=0):
    """Next-token logits depend on the last two tokens (a random second-order Markov table)."""
    table = torch.randn(V + 1, V + 1, V, generator=torch.Generator().manual_seed(seed)) * 2.0

    def logits_of(seq):
        a = seq[-2] if len(seq) >= 2 else V
        b = seq[-1] if len(seq) >= 1 else V
        return table[a, b]

    def step(state, tokens):
        seqs = [s + [int(t)] for s, t in zip(state.seqs, tokens)]
        return torch.stack([logits_of(s) for s in seqs]), ToyState(seqs)

    def start(rows=1):
        return torch.stack([logits_of([])] * rows), ToyState([[] for _ in range(rows)])

    return start, step, logits_of


def brute_force(logits_of):
    """Every sequence ending at END or at MAX_LEN tokens, scored by summed log-probability."""
    best = []
    for L in range(1, MAX_LEN + 1):
        for seq in itertools.product(range(V), repeat=L):
            if END in seq[:-1]:
                continue
            if L < MAX_LEN and seq[-1] != END:
                continue
            score = sum(float(torch.log_softmax(logits_of(list(seq[:i])).double(), -1)[seq[i]]) for i in range(L))
            tokens = list(seq[:-1]) if seq[-1] == END else list(seq)
            best.append((score, tokens))
    return sorted(best, key=lambda x: -x[0])


@pytest.mark.parametrize("seed", range(6))
def test_beam_search_exact_with_a_wide_beam(seed):
    start, step, logits_of = toy_model(seed)
    ref = brute_force(logits_of)
    logits0, state0 = start()
    hyps = beam_search(step, logits0, state0, MAX_LEN, END, beam=V ** MAX_LEN)
    assert hyps[0].tokens == ref[0][1]
    assert abs(hyps[0].score - ref[0][0]) < 1e-9
    # every returned hypothesis carries its true score
    scores = dict((tuple(t), s) for s, t in ref)
    for h in hyps:
        assert abs(scores[tuple(h.tokens)] - h.score) < 1e-9


@pytest.mark.parametrize("seed", range(6))
def test_narrow_beam_never_beats_the_optimum_and_beam1_is_greedy(seed):
    start, step, logits_of = toy_model(seed)
    ref = brute_force(logits_of)
    for beam in (1, 2, 3):
        hyps = beam_search(step, *start(), MAX_LEN, END, beam=beam)
        assert hyps[0].score <= ref[0][0] + 1e-9
    hyps = beam_search(step, *start(), MAX_LEN, END, beam=1)
    assert hyps[0].tokens == greedy(step, *start(), MAX_LEN, END)[0]


def test_greedy_is_deterministic_and_batched_rows_are_independent():
    start, step, _ = toy_model(1)
    a = greedy(step, *start(3), MAX_LEN, END)
    b = greedy(step, *start(3), MAX_LEN, END)
    assert a == b and a[0] == a[1] == a[2]


def test_top_p_filter_matches_definition():
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        logits = torch.randn(7, generator=g) * 3
        p = float(torch.rand(1, generator=g)) * 0.98 + 0.01
        kept = torch.isfinite(top_p_filter(logits[None], p)[0])
        probs = logits.softmax(-1)
        order = probs.argsort(descending=True).tolist()
        want, mass = set(), 0.0
        for i in order:  # smallest prefix of the sorted tokens whose mass reaches p
            want.add(i)
            mass += float(probs[i])
            if mass >= p:
                break
        assert set(kept.nonzero()[:, 0].tolist()) == want
    assert torch.equal(top_p_filter(logits[None], 1.0), logits[None])
    with pytest.raises(ValueError):
        top_p_filter(logits, 0.0)


def test_sampling_seeded_and_follows_the_distribution():
    start, step, logits_of = toy_model(2)
    run = lambda seed: sample(step, *start(200), 1, None, top_p=1.0,  # noqa: E731
                              generator=torch.Generator().manual_seed(seed))
    assert run(5) == run(5)
    counts = torch.bincount(torch.tensor([s[0] for s in run(7)]), minlength=V).double()
    probs = logits_of([]).softmax(-1).double()
    se = (probs * (1 - probs) / 200).sqrt()
    assert ((counts / 200 - probs).abs() <= 5 * se + 1e-12).all()
    # banned tokens never appear
    out = sample(step, *start(50), MAX_LEN, END, banned=[1], generator=torch.Generator().manual_seed(0))
    assert all(1 not in s for s in out)

"""What a trained UniVAE can be asked (spec dims_logreg_univae C.8): decode, reconstruct, swap, interpolate.

* :func:`decode`: latents (B, n·d) -> texts, greedy / beam / top-p sampling through the KV-cached decoder.
* :func:`reconstruction`: teacher-forced character accuracy, cross-entropy and greedy exact match with the
  true z (the encoder's μ), z shuffled across the batch (a derangement) and z zeroed. The gap true vs
  shuffled is the evidence that the decoder uses the latent.
* :func:`interpolate`: slerp per block between two sentences' latents; edit distances to both ends.
* :func:`swap_test`: re-sample one latent layer's block from the prior, keep the rest, decode; per layer the
  character overlap with the source, keyword retention and template retention (8475's multi-scale test).

>>> slerp(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]), 0.5).tolist()     # doctest: +ELLIPSIS
[0.7071..., 0.7071...]
"""

from __future__ import annotations

import math

import torch

from simlab.generate.decoding import beam_search, greedy, sample
from simlab.generate.metrics import (
    char_jaccard,
    distinct_n,
    edit_distance,
    keyword_retention,
    norm_edit_distance,
    novelty,
    template,
    text_key,
)
from simlab.generate.synonyms import banned_ids
from simlab.generate.text import detokenize
from simlab.generate.univae import UniVAECollator, normalize_blocks, split_blocks

__all__ = ["decode", "reconstruction", "slerp", "interpolate", "swap_test", "derangement", "prior_samples",
           "sample_stats"]


def decode(model, tokenizer, z: torch.Tensor, method: str = "greedy", *, beam: int = 4, top_p: float = 0.95,
           max_len: int | None = None, generator: torch.Generator | None = None, renormalize: bool = True) -> list[str]:
    """Texts for latents ``z`` (B, n·d). Blocks are re-normalised first (8475) unless ``renormalize=False``
    (a zero block stays zero either way)."""
    max_len = max_len or model.enc_len
    if renormalize:
        z = normalize_blocks(z, model.n)
    ban = banned_ids(tokenizer)
    end = tokenizer.sep_token_id
    if method == "beam":
        out = []
        for row in z:
            logits0, state = model.decode_start(row[None], tokenizer.cls_token_id)
            hyps = beam_search(model.decode_step(), logits0, state, max_len, end, beam=beam, banned=ban)
            out.append(hyps[0].tokens if hyps else [])
    else:
        logits0, state = model.decode_start(z, tokenizer.cls_token_id)
        if method == "greedy":
            out = greedy(model.decode_step(), logits0, state, max_len, end, banned=ban)
        elif method == "sample":
            out = sample(model.decode_step(), logits0, state, max_len, end, top_p=top_p, generator=generator,
                         banned=ban)
        else:
            raise ValueError(f"method must be greedy, beam or sample, got {method!r}")
    return [detokenize(tokenizer, ids) for ids in out]


def derangement(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random permutation with no fixed point (n >= 2): a random order shifted by one."""
    if n < 2:
        raise ValueError("shuffling latents across the batch needs at least 2 rows")
    order = torch.randperm(n, generator=generator)
    perm = torch.empty(n, dtype=torch.long)
    perm[order] = order.roll(1)
    return perm


@torch.no_grad()
def reconstruction(model, tokenizer, sentences: list[str], batch_size: int = 64, seed: int = 0,
                   greedy_decode: bool = True) -> dict[str, dict]:
    """{mode: {char_acc, ce_per_token, ce_per_sentence, exact_match, norm_edit}} for true / shuffled / zeroed z."""
    g = torch.Generator().manual_seed(seed)
    col = UniVAECollator(tokenizer, model.enc_len - 2)
    E = model.enc_len
    acc = {m: [0, 0, 0.0, 0, 0.0] for m in ("true", "shuffled", "zeroed")}  # correct, tokens, ce, exact, edit
    n_sent = 0
    for i in range(0, len(sentences), batch_size):
        texts = sentences[i:i + batch_size]
        if len(texts) < 2:
            break
        batch = col(texts)
        mu = model.encode_ids(*col.encoder_inputs(texts)).cpu()
        zs = {"true": mu, "shuffled": mu[derangement(len(texts), g)], "zeroed": torch.zeros_like(mu)}
        refs = [detokenize(tokenizer, tokenizer(t, add_special_tokens=False)["input_ids"][:E - 2]) for t in texts]
        n_sent += len(texts)
        for mode, z in zs.items():
            logits, tgt = model.decoder_logits(batch, z)
            a = acc[mode]
            a[0] += int((logits.argmax(-1) == tgt).sum())
            a[1] += int(tgt.numel())
            a[2] += float(torch.nn.functional.cross_entropy(logits.float(), tgt, reduction="sum"))
            if greedy_decode:
                outs = decode(model, tokenizer, z, "greedy", renormalize=mode != "zeroed")
                a[3] += sum(o == r for o, r in zip(outs, refs))
                a[4] += sum(norm_edit_distance(o, r) for o, r in zip(outs, refs))
    res = {}
    for mode, (correct, tokens, ce, exact, edit) in acc.items():
        res[mode] = {"char_acc": correct / max(tokens, 1), "ce_per_token": ce / max(tokens, 1),
                     "ce_per_sentence": ce / max(n_sent, 1), "sentences": n_sent, "tokens": tokens}
        if greedy_decode:
            res[mode].update(exact_match=exact / max(n_sent, 1), norm_edit=edit / max(n_sent, 1))
    return res


def slerp(p: torch.Tensor, q: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between unit vectors (linear when they are (anti)parallel within 1e-7)."""
    cos = float(torch.clamp((p * q).sum(), -1.0, 1.0))
    theta = math.acos(cos)
    if math.sin(theta) < 1e-7:
        return (1 - t) * p + t * q
    return (math.sin((1 - t) * theta) * p + math.sin(t * theta) * q) / math.sin(theta)


@torch.no_grad()
def interpolate(model, tokenizer, a: str, b: str, steps: int = 7) -> dict:
    """Decode slerp(z_a, z_b, t) per block at ``steps`` evenly spaced t in [0, 1]; edit distances to both ends
    and whether they change monotonically (to a non-decreasing, to b non-increasing)."""
    za, zb = model.encode(tokenizer, [a, b])
    A, B = split_blocks(za, model.n), split_blocks(zb, model.n)
    ts = [i / (steps - 1) for i in range(steps)]
    zs = torch.stack([torch.stack([slerp(A[j], B[j], t) for j in range(model.n)]).flatten() for t in ts])
    texts = decode(model, tokenizer, zs, "greedy")
    da = [edit_distance(t, texts[0]) for t in texts]
    db = [edit_distance(t, texts[-1]) for t in texts]
    mono = all(x <= y for x, y in zip(da, da[1:])) and all(x >= y for x, y in zip(db, db[1:]))
    return {"t": ts, "texts": texts, "dist_to_a": da, "dist_to_b": db, "monotonic": mono,
            "distinct_steps": len(set(texts))}


@torch.no_grad()
def swap_test(model, tokenizer, sentences: list[str], draws: int = 3, seed: int = 0) -> dict:
    """For each latent layer j: block j re-sampled from the prior (``draws`` times per sentence), others kept.
    Returns per layer the means of char Jaccard to the source, keyword retention, template match (exact
    pattern equality) and the share of outputs identical to the unswapped reconstruction; ``"none"`` is the
    unswapped reconstruction itself; ``examples`` holds a few outputs per layer."""
    g = torch.Generator().manual_seed(seed)
    mu = model.encode(tokenizer, sentences)  # (N, n·d)
    base = decode(model, tokenizer, mu, "greedy")
    rows: dict[str, dict] = {}
    examples: dict[str, list] = {}

    def score(name: str, outs: list[str], srcs: list[str], recs: list[str]) -> None:
        k = len(outs)
        rows[name] = {"char_jaccard": sum(char_jaccard(s, o) for s, o in zip(srcs, outs)) / k,
                      "keyword_retention": sum(keyword_retention(s, o) for s, o in zip(srcs, outs)) / k,
                      "template_match": sum(template(s) == template(o) for s, o in zip(srcs, outs)) / k,
                      "same_as_reconstruction": sum(o == r for o, r in zip(outs, recs)) / k, "outputs": k}

    score("none", base, sentences, base)
    for j in range(model.n):
        z = split_blocks(mu.repeat_interleave(draws, 0).clone(), model.n)  # (N·draws, n, d)
        z[:, j] = torch.nn.functional.normalize(torch.randn(z.shape[0], model.z_dim, generator=g), dim=-1)
        outs = decode(model, tokenizer, z.flatten(1), "greedy")
        srcs = [s for s in sentences for _ in range(draws)]
        recs = [r for r in base for _ in range(draws)]
        name = f"layer {model.latent_layers[j]} (block {j})"
        score(name, outs, srcs, recs)
        examples[name] = list(zip(srcs[: 3 * draws], outs[: 3 * draws]))
    return {"rows": rows, "examples": examples}


@torch.no_grad()
def prior_samples(model, tokenizer, n: int, seed: int = 0, method: str = "greedy") -> list[str]:
    """Decode n latents drawn from the prior (each block uniform on its sphere)."""
    g = torch.Generator().manual_seed(seed)
    return decode(model, tokenizer, model.sample_prior(n, g), method, generator=g)


def sample_stats(samples: list[str], train_keys: set[str], lm=None) -> dict:
    """Novelty (not a training sentence), distinct-1/2, unique and empty shares, and the perplexity under
    ``lm`` (a :class:`simlab.generate.charlm.KneserNeyLM`) when given."""
    keys = [text_key(s) for s in samples]
    out = {"samples": len(samples), "novelty": novelty(samples, train_keys),
           "unique": len(set(keys)) / max(len(keys), 1), "empty": sum(not k for k in keys) / max(len(keys), 1),
           "distinct_1": distinct_n(samples, 1), "distinct_2": distinct_n(samples, 2),
           "mean_chars": sum(map(len, samples)) / max(len(samples), 1)}
    if lm is not None:
        out["char_lm_ppl"] = lm.perplexity([s for s in samples if s])
    return out

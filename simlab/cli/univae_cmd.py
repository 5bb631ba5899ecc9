"""``simlab univae``: train and probe a UniVAE (one RoFormer as a multi-scale vMF-VAE, kexue.fm/archives/8475).

    simlab univae train --out univae-zh-small                 # backbone roformer-zh-small when cached
    simlab univae reconstruct --model univae-zh-small "青椒跟什么炒好吃"
    simlab univae reconstruct --model univae-zh-small --heldout 500 --table   # true / shuffled / zeroed z
    simlab univae sample --model univae-zh-small -n 200 --stats
    simlab univae swap --model univae-zh-small --heldout 100
    simlab univae interpolate --model univae-zh-small "A" "B" --steps 7
    simlab univae encode --model univae-zh-small "A" "B"      # the μ's, one JSON line each
"""

from __future__ import annotations

import argparse
import json

from simlab.cli import gen_common
from simlab.cli.gen_common import add_train_options, emit, fmt, input_sentences, load
from simlab.errors import BadInputError


def _model_opts(p, inputs: bool = True) -> None:
    p.add_argument("--model", default="univae-zh-small", help="UniVAE folder or cached name")
    if inputs:
        p.add_argument("sentences", nargs="*", help="input sentences")
        p.add_argument("--file", default=None, help="more input sentences, one a line")
        p.add_argument("--heldout", type=int, default=None, help="add N held-out test sentences (seeded)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--data-dir", default=None, help="data folder (default: $SIMLAB_DATA)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def register(sub) -> None:
    p = sub.add_parser("univae", help="UniVAE: train, encode, reconstruct, sample, swap, interpolate (8475)",
                       description=__doc__.splitlines()[0])
    u = p.add_subparsers(dest="univae_command", required=True)
    fmt_cls = argparse.ArgumentDefaultsHelpFormatter

    t = u.add_parser("train", help="train on the question sentences of the non-test splits", formatter_class=fmt_cls)
    add_train_options(t, "univae")
    t.add_argument("--latent-layers", type=int, default=2, help="top layers that carry a latent block (8475: 4 of 12)")
    t.add_argument("--z-dim", type=int, default=16, help="latent size per layer")
    t.add_argument("--kappa", type=float, default=32.0, help="vMF concentration (fixed)")
    t.set_defaults(func=train)

    e = u.add_parser("encode", help="the μ's of sentences (JSON lines)", formatter_class=fmt_cls)
    _model_opts(e)
    e.set_defaults(func=encode)

    r = u.add_parser("reconstruct", help="encode then decode; --table: true vs shuffled vs zeroed z",
                     formatter_class=fmt_cls)
    _model_opts(r)
    r.add_argument("--method", default="greedy", choices=("greedy", "beam"))
    r.add_argument("--beam", type=int, default=4)
    r.add_argument("--table", action="store_true", help="teacher-forced accuracy / CE and greedy exact match "
                   "with the true, shuffled and zeroed latent")
    r.add_argument("--batch-size", type=int, default=64)
    r.set_defaults(func=reconstruct)

    s = u.add_parser("sample", help="decode latents drawn from the prior", formatter_class=fmt_cls)
    _model_opts(s, inputs=False)
    s.add_argument("-n", type=int, default=10)
    s.add_argument("--method", default="greedy", choices=("greedy", "beam", "sample"))
    s.add_argument("--stats", action="store_true", help="novelty, distinct-1/2 and char-LM perplexity")
    s.add_argument("--show", type=int, default=20, help="samples printed with --stats")
    s.set_defaults(func=sample)

    w = u.add_parser("swap", help="re-sample one latent layer's block, keep the rest (multi-scale test)",
                     formatter_class=fmt_cls)
    _model_opts(w)
    w.add_argument("--draws", type=int, default=3, help="prior draws per sentence and layer")
    w.set_defaults(func=swap)

    i = u.add_parser("interpolate", help="slerp per block between two sentences", formatter_class=fmt_cls)
    _model_opts(i)
    i.add_argument("--steps", type=int, default=7)
    i.add_argument("--pairs", type=int, default=None, help="also summarise N random held-out pairs")
    i.set_defaults(func=interpolate)


def train(args) -> int:
    return gen_common.train(args, "univae", "univae")


def _options(args):
    """The subcommand's options, checked (ranges on :class:`~simlab.generate.options.UniVAEOptions`)."""
    from simlab.config import config_from_args
    from simlab.generate.options import UniVAEOptions

    return config_from_args(UniVAEOptions, args)


def encode(args) -> int:
    cfg = _options(args)
    texts = input_sentences(cfg)
    model, tok, _ = load(cfg, "univae")
    for t, z in zip(texts, model.encode(tok, texts).tolist()):
        print(json.dumps({"text": t, "z": [round(v, 6) for v in z]}, ensure_ascii=False))
    return 0


def reconstruct(args) -> int:
    cfg = _options(args)
    texts = input_sentences(cfg)
    if cfg.table and len(texts) < 2:
        raise BadInputError(f"--table compares the true latent with a shuffled one: it needs at least 2 sentences, "
                            f"got {len(texts)}")
    from simlab.generate.univae_eval import decode, reconstruction

    model, tok, meta = load(cfg, "univae")
    if cfg.table:
        from simlab.grid.report_md import md_table

        res = reconstruction(model, tok, texts, batch_size=cfg.batch_size, seed=cfg.seed)
        cols = ["char_acc", "ce_per_token", "ce_per_sentence", "exact_match", "norm_edit"]
        rows = [[f"{mode} z", *(fmt(res[mode][c]) for c in cols)] for mode in ("true", "shuffled", "zeroed")]
        gain = {m: res[m]["ce_per_sentence"] - res["true"]["ce_per_sentence"] for m in ("shuffled", "zeroed")}
        text = (md_table(["latent", "teacher-forced char acc", "CE / token (nats)", "CE / sentence (nats)",
                          "greedy exact match", "greedy norm. edit distance"], rows)
                + f"\n\n{res['true']['sentences']} held-out sentences, {res['true']['tokens']} target tokens. "
                f"KL(q(z|x) ‖ p(z)) = {model.kl_nats():.2f} nats (constant: {model.n} blocks × vMF d={model.z_dim}, "
                f"κ={model.kappa:g}). CE gain per sentence from z: {gain['shuffled']:.2f} nats vs shuffled z, "
                f"{gain['zeroed']:.2f} nats vs zeroed z.")
        emit({"results": res, "kl_nats": model.kl_nats(), "ce_gain_per_sentence": gain}, cfg.json, text)
        return 0
    outs = decode(model, tok, model.encode(tok, texts), cfg.method, beam=cfg.beam)
    emit([{"input": a, "output": b} for a, b in zip(texts, outs)], cfg.json,
         "\n".join(f"{a}\t->\t{b}\t{'(exact)' if a == b else ''}" for a, b in zip(texts, outs)))
    return 0


def sample(args) -> int:
    from simlab.paths import data_dir

    cfg = _options(args)
    root = data_dir(cfg.data_dir) if cfg.stats else None  # a missing data folder fails before the model loads
    from simlab.generate.univae_eval import prior_samples, sample_stats

    model, tok, meta = load(cfg, "univae")
    samples = prior_samples(model, tok, cfg.n, cfg.seed, cfg.method)
    if not cfg.stats:
        emit(samples, cfg.json, "\n".join(samples))
        return 0
    from simlab.generate.charlm import KneserNeyLM
    from simlab.generate.data import load_generation_data
    from simlab.generate.metrics import text_key
    from simlab.grid.report_md import md_table

    data = load_generation_data(root, max_chars=meta.get("max_chars", 32))
    keys = {text_key(s) for s in data.sentences}
    lm = KneserNeyLM(data.sentences, order=3)
    real = data.heldout_sample(cfg.n, cfg.seed)
    rows = {"prior samples": sample_stats(samples, keys, lm), "held-out real sentences": sample_stats(real, keys, lm)}
    cols = ["novelty", "unique", "distinct_1", "distinct_2", "char_lm_ppl", "mean_chars", "empty"]
    text = md_table(["set", *cols], [[k, *(fmt(v[c]) for c in cols)] for k, v in rows.items()])
    text += (f"\n\nchar LM: interpolated Kneser-Ney 3-gram on the {len(data.sentences)} training sentences. "
             f"{cfg.method} decoding, seed {cfg.seed}.\n\n" + "\n".join(f"{i + 1}. {s}" for i, s in
                                                                      enumerate(samples[:cfg.show])))
    emit({"stats": rows, "samples": samples}, cfg.json, text)
    return 0


def swap(args) -> int:
    cfg = _options(args)
    texts = input_sentences(cfg)
    from simlab.generate.univae_eval import swap_test
    from simlab.grid.report_md import md_table

    model, tok, _ = load(cfg, "univae")
    res = swap_test(model, tok, texts, draws=cfg.draws, seed=cfg.seed)
    cols = ["char_jaccard", "keyword_retention", "template_match", "same_as_reconstruction", "outputs"]
    text = md_table(["re-sampled block", *cols], [[k, *(fmt(v[c]) for c in cols)] for k, v in res["rows"].items()])
    for name, ex in res["examples"].items():
        text += f"\n\n{name}:\n" + "\n".join(f"  {a}  ->  {b}" for a, b in ex)
    emit(res, cfg.json, text)
    return 0


def interpolate(args) -> int:
    cfg = _options(args)
    texts = input_sentences(cfg) if (cfg.sentences or cfg.file or cfg.heldout) else []
    if len(texts) % 2:
        raise BadInputError(f"interpolate takes sentences in pairs (A B [A2 B2 ...] from the arguments, then --file "
                            f"lines, then --heldout): got {len(texts)}, an odd count")
    if not texts and not cfg.pairs:
        raise BadInputError("no sentence pairs: give A B, --file FILE (pairs on consecutive lines), --heldout 2N "
                            "or --pairs N")
    pairs = [(texts[i], texts[i + 1]) for i in range(0, len(texts), 2)]
    if cfg.pairs:
        from simlab.generate.data import load_generation_data

        pool = load_generation_data(cfg.data_dir).heldout_sample(2 * cfg.pairs, cfg.seed)
        pairs += [(pool[2 * i], pool[2 * i + 1]) for i in range(len(pool) // 2)]
    from simlab.generate.univae_eval import interpolate as interp

    model, tok, _ = load(cfg, "univae")
    results = []
    for a, b in pairs:
        results.append({"a": a, "b": b, **interp(model, tok, a, b, cfg.steps)})
    lines = []
    if results:
        mono = sum(r["monotonic"] for r in results) / len(results)
        steps = sum(r["distinct_steps"] for r in results) / len(results)
        lines.append(f"{len(results)} pairs, {cfg.steps} steps: edit distances monotonic in {mono:.0%} of pairs; "
                     f"{steps:.2f} distinct sentences per path on average.")
    for r in results[:5] if cfg.pairs else results:
        lines.append(f"\n{r['a']}  =>  {r['b']}")
        lines += [f"  t={t:.2f}  {s}  (d_a={da}, d_b={db})" for t, s, da, db in
                  zip(r["t"], r["texts"], r["dist_to_a"], r["dist_to_b"])]
    emit(results, cfg.json, "\n".join(lines))
    return 0

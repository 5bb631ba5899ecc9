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

from simlab.cli.gen_common import (
    add_train_options,
    emit,
    fmt,
    input_sentences,
    load,
    out_folder,
    scratch_overrides,
)


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
    add_train_options(t, "univae-zh-small", default_steps=3000, default_batch=64, default_lr=3e-4)
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
    from simlab.generate.train import train_generator

    out = out_folder(args.out)
    m = train_generator("univae", out, base=args.base, data_dir=args.data_dir, max_chars=args.max_chars,
                        max_steps=args.max_steps, batch_size=args.batch_size, lr=args.lr, warmup_ratio=args.warmup,
                        seed=args.seed, resume=args.resume_run, minutes=args.minutes, save_steps=args.save_steps,
                        eval_size=args.eval_size, limit=args.limit, threads=args.threads, precision=args.precision,
                        settings={"num_latent_layers": args.latent_layers, "z_dim": args.z_dim, "kappa": args.kappa},
                        scratch_overrides=scratch_overrides(args))
    print(f"simlab univae: wrote {out} (backbone: {m['base']}; {m['steps']} steps; eval loss "
          f"{m.get('eval_loss', float('nan')):.4f})")
    return 0


def encode(args) -> int:
    model, tok, _ = load(args, "univae")
    texts = input_sentences(args)
    for t, z in zip(texts, model.encode(tok, texts).tolist()):
        print(json.dumps({"text": t, "z": [round(v, 6) for v in z]}, ensure_ascii=False))
    return 0


def reconstruct(args) -> int:
    from simlab.generate.univae_eval import decode, reconstruction

    model, tok, meta = load(args, "univae")
    texts = input_sentences(args)
    if args.table:
        from simlab.grid.report_md import md_table

        res = reconstruction(model, tok, texts, batch_size=args.batch_size, seed=args.seed)
        cols = ["char_acc", "ce_per_token", "ce_per_sentence", "exact_match", "norm_edit"]
        rows = [[f"{mode} z", *(fmt(res[mode][c]) for c in cols)] for mode in ("true", "shuffled", "zeroed")]
        gain = {m: res[m]["ce_per_sentence"] - res["true"]["ce_per_sentence"] for m in ("shuffled", "zeroed")}
        text = (md_table(["latent", "teacher-forced char acc", "CE / token (nats)", "CE / sentence (nats)",
                          "greedy exact match", "greedy norm. edit distance"], rows)
                + f"\n\n{res['true']['sentences']} held-out sentences, {res['true']['tokens']} target tokens. "
                f"KL(q(z|x) ‖ p(z)) = {model.kl_nats():.2f} nats (constant: {model.n} blocks × vMF d={model.z_dim}, "
                f"κ={model.kappa:g}). CE gain per sentence from z: {gain['shuffled']:.2f} nats vs shuffled z, "
                f"{gain['zeroed']:.2f} nats vs zeroed z.")
        emit({"results": res, "kl_nats": model.kl_nats(), "ce_gain_per_sentence": gain}, args.json, text)
        return 0
    outs = decode(model, tok, model.encode(tok, texts), args.method, beam=args.beam)
    emit([{"input": a, "output": b} for a, b in zip(texts, outs)], args.json,
         "\n".join(f"{a}\t->\t{b}\t{'(exact)' if a == b else ''}" for a, b in zip(texts, outs)))
    return 0


def sample(args) -> int:
    from simlab.generate.univae_eval import prior_samples, sample_stats

    model, tok, meta = load(args, "univae")
    samples = prior_samples(model, tok, args.n, args.seed, args.method)
    if not args.stats:
        emit(samples, args.json, "\n".join(samples))
        return 0
    from simlab.generate.charlm import KneserNeyLM
    from simlab.generate.data import load_generation_data
    from simlab.generate.metrics import text_key
    from simlab.grid.report_md import md_table

    data = load_generation_data(args.data_dir, max_chars=meta.get("max_chars", 32))
    keys = {text_key(s) for s in data.sentences}
    lm = KneserNeyLM(data.sentences, order=3)
    real = data.heldout_sample(args.n, args.seed)
    rows = {"prior samples": sample_stats(samples, keys, lm), "held-out real sentences": sample_stats(real, keys, lm)}
    cols = ["novelty", "unique", "distinct_1", "distinct_2", "char_lm_ppl", "mean_chars", "empty"]
    text = md_table(["set", *cols], [[k, *(fmt(v[c]) for c in cols)] for k, v in rows.items()])
    text += (f"\n\nchar LM: interpolated Kneser-Ney 3-gram on the {len(data.sentences)} training sentences. "
             f"{args.method} decoding, seed {args.seed}.\n\n" + "\n".join(f"{i + 1}. {s}" for i, s in
                                                                      enumerate(samples[:args.show])))
    emit({"stats": rows, "samples": samples}, args.json, text)
    return 0


def swap(args) -> int:
    from simlab.generate.univae_eval import swap_test
    from simlab.grid.report_md import md_table

    model, tok, _ = load(args, "univae")
    res = swap_test(model, tok, input_sentences(args), draws=args.draws, seed=args.seed)
    cols = ["char_jaccard", "keyword_retention", "template_match", "same_as_reconstruction", "outputs"]
    text = md_table(["re-sampled block", *cols], [[k, *(fmt(v[c]) for c in cols)] for k, v in res["rows"].items()])
    for name, ex in res["examples"].items():
        text += f"\n\n{name}:\n" + "\n".join(f"  {a}  ->  {b}" for a, b in ex)
    emit(res, args.json, text)
    return 0


def interpolate(args) -> int:
    from simlab.errors import BadInputError
    from simlab.generate.univae_eval import interpolate as interp

    texts = input_sentences(args) if (args.sentences or args.file or args.heldout) else []
    if len(texts) % 2:
        raise BadInputError(f"interpolate takes sentences in pairs (A B [A2 B2 ...] from the arguments, then --file "
                            f"lines, then --heldout): got {len(texts)}, an odd count")
    if not texts and not args.pairs:
        raise BadInputError("no sentence pairs: give A B, --file FILE (pairs on consecutive lines), --heldout 2N "
                            "or --pairs N")
    model, tok, _ = load(args, "univae")
    results = []
    pairs = [(texts[i], texts[i + 1]) for i in range(0, len(texts), 2)]
    if args.pairs:
        from simlab.generate.data import load_generation_data

        pool = load_generation_data(args.data_dir).heldout_sample(2 * args.pairs, args.seed)
        pairs += [(pool[2 * i], pool[2 * i + 1]) for i in range(len(pool) // 2)]
    for a, b in pairs:
        results.append({"a": a, "b": b, **interp(model, tok, a, b, args.steps)})
    lines = []
    if results:
        mono = sum(r["monotonic"] for r in results) / len(results)
        steps = sum(r["distinct_steps"] for r in results) / len(results)
        lines.append(f"{len(results)} pairs, {args.steps} steps: edit distances monotonic in {mono:.0%} of pairs; "
                     f"{steps:.2f} distinct sentences per path on average.")
    for r in results[:5] if args.pairs else results:
        lines.append(f"\n{r['a']}  =>  {r['b']}")
        lines += [f"  t={t:.2f}  {s}  (d_a={da}, d_b={db})" for t, s, da, db in
                  zip(r["t"], r["texts"], r["dist_to_a"], r["dist_to_b"])]
    emit(results, args.json, "\n".join(lines))
    return 0

"""``simlab generate``: similar sentences from a UniLM seq2seq RoFormer (SimBERT / RoFormer-Sim, 7427 / 8454).

    simlab generate "今天天气怎么样" -n 10 --model sim-zh-small     # candidates ranked by the model's cosine
    simlab generate train --out sim-zh-small                        # train on paraphrase pairs (resumable)
    simlab generate eval --model sim-zh-small --inputs 20 -n 10     # novelty, self-BLEU, share cos > 0.8
"""

from __future__ import annotations

import argparse
import sys

from simlab.cli import gen_common
from simlab.cli.gen_common import add_train_options, emit, fmt, load
from simlab.cli.parser import Parser

USAGE = """simlab generate TEXT [-n N] [--model DIR] [--candidates M] [--top-p P] [--seed S] [--json]
       simlab generate train [--out DIR] [--base roformer-zh-small|scratch|DIR] [--max-steps N] ...
       simlab generate eval [--model DIR] [--inputs 20] [-n 10] [--show 5]"""


def register(sub) -> None:
    # no option prefix: every word after `generate` (options included, e.g. `generate -n 3 TEXT`) goes to argv,
    # which dispatch() hands to the parser of TEXT, train or eval
    p = sub.add_parser("generate", help="similar-sentence generation (SimBERT/RoFormer-Sim style): generate, train, "
                       "eval", description=__doc__.splitlines()[0], usage=USAGE, add_help=False, prefix_chars="\x00")
    p.add_argument("argv", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)  # TEXT... | train ... | eval ...
    p.set_defaults(func=dispatch)


def _gen_parser() -> argparse.ArgumentParser:
    g = Parser(prog="simlab generate", description="similar sentences of TEXT, best first",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g.add_argument("text", nargs="+", help="input sentence(s)")
    g.add_argument("-n", type=int, default=10, help="candidates to return")
    g.add_argument("--candidates", type=int, default=None, help="samples drawn before ranking (default 5·n)")
    g.add_argument("--model", default="sim-zh-small", help="seq2seq model folder or cached name")
    g.add_argument("--top-p", type=float, default=0.95)
    g.add_argument("--max-len", type=int, default=32)
    g.add_argument("--seed", type=int, default=None)
    g.add_argument("--threads", type=int, default=None)
    g.add_argument("--json", action="store_true")
    return g


def _train_parser() -> argparse.ArgumentParser:
    t = Parser(prog="simlab generate train", description="train the seq2seq paraphraser on the "
                                "positive pairs of the non-test splits", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_train_options(t, "seq2seq")
    t.add_argument("--sim-scale", type=float, default=20.0, help="cosine scale of the in-batch loss (8454: 20)")
    t.add_argument("--sim-weight", type=float, default=1.0, help="weight of the retrieval loss (0 = generation only)")
    return t


def _eval_parser() -> argparse.ArgumentParser:
    e = Parser(prog="simlab generate eval", description="novelty, self-BLEU, distinct-n and the "
                                "share of candidates with cosine > 0.8 on held-out questions",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    e.add_argument("--model", default="sim-zh-small")
    e.add_argument("--inputs", type=int, default=20, help="held-out LCQMC test questions")
    e.add_argument("-n", type=int, default=10, help="candidates per input (at least 2: self-BLEU compares them)")
    e.add_argument("--top-p", type=float, default=0.95)
    e.add_argument("--show", type=int, default=5, help="inputs printed with their top candidates")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--threads", type=int, default=None)
    e.add_argument("--data-dir", default=None)
    e.add_argument("--json", action="store_true")
    return e


def dispatch(args) -> int:
    argv = list(args.argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE + "\n\n" + __doc__, file=sys.stdout)
        return 0
    if argv[0] == "train":
        inner = _train_parser().parse_args(argv[1:])
        try:
            return gen_common.train(inner, "seq2seq", "generate")
        finally:
            args.run_dir = getattr(inner, "run_dir", None)  # main() reads it on Ctrl-C
    if argv[0] == "eval":
        return evaluate(_eval_parser().parse_args(argv[1:]))
    return generate(_gen_parser().parse_args(argv))


def generate(args) -> int:
    from simlab.config import config_from_args
    from simlab.generate.options import GenerateOptions

    cfg = config_from_args(GenerateOptions, args)  # before torch loads: a bad option fails at once
    model, tok, meta = load(cfg, "seq2seq")
    from simlab.generate.synonyms import gen_synonyms

    out = {}
    for text in cfg.text:
        out[text] = gen_synonyms(model, tok, text, n=cfg.candidates or 5 * cfg.n, k=cfg.n, top_p=cfg.top_p,
                                 max_len=cfg.max_len, max_chars=meta.get("max_chars", 32), seed=cfg.seed)
    lines = []
    for text, cands in out.items():
        lines.append(text)
        lines += [f"  {c:.4f}  {s}" for s, c in cands] or ["  (no candidate different from the input)"]
    emit({t: [{"text": s, "cos": c} for s, c in v] for t, v in out.items()}, cfg.json, "\n".join(lines))
    return 0


def evaluate(args) -> int:
    import random

    from simlab.config import config_from_args
    from simlab.generate.options import GenerateEvalOptions
    from simlab.paths import data_dir

    cfg = config_from_args(GenerateEvalOptions, args)  # before torch loads: a bad option fails at once
    root = data_dir(cfg.data_dir)
    from simlab.data import load_split
    from simlab.errors import DataError
    from simlab.generate.data import load_generation_data
    from simlab.generate.generate_eval import generation_records, summarize_generation
    from simlab.generate.metrics import text_key
    from simlab.generate.synonyms import gen_synonyms
    from simlab.grid.report_md import md_table

    model, tok, meta = load(cfg, "seq2seq")
    max_chars = meta.get("max_chars", 32)
    data = load_generation_data(root, max_chars=max_chars)
    train_keys = {text_key(s) for s in data.sentences}
    ps = load_split("LCQMC", "test", root)
    pool = sorted({s for s in ps.sentences1 + ps.sentences2 if len(s) <= max_chars and text_key(s) not in train_keys})
    if not pool:
        raise DataError(f"no LCQMC test question of at most {max_chars} characters unseen in training in {root}")
    inputs = random.Random(cfg.seed).sample(pool, min(cfg.inputs, len(pool)))
    recs = generation_records(model, tok, inputs, n=cfg.n, top_p=cfg.top_p, seed=cfg.seed, max_chars=max_chars)
    summ = summarize_generation(recs, train_keys)
    cols = ["novelty", "self_bleu", "distinct_1", "distinct_2", "share_cos_gt_0.8", "mean_cos", "same_as_input",
            "unique_per_input"]
    text = md_table(["inputs × candidates", *cols], [[f"{summ['inputs']} × {cfg.n}", *(fmt(summ[c]) for c in cols)]])
    text += f"\n\ntop-p {cfg.top_p}, seed {cfg.seed}; inputs: LCQMC test questions never seen in training.\n"
    shown = []
    for r in recs[:cfg.show]:
        top = gen_synonyms(model, tok, r["input"], n=5 * cfg.n, k=5, top_p=cfg.top_p, seed=cfg.seed,
                           max_chars=max_chars)
        shown.append({"input": r["input"], "top": top})
        text += f"\n{r['input']}\n" + "\n".join(f"  {c:.3f}  {s}" for s, c in top)
    emit({"summary": summ, "records": recs, "shown": shown}, cfg.json, text)
    return 0

"""Options and helpers shared by ``simlab univae`` and ``simlab generate`` (not a command itself)."""

from __future__ import annotations

import json
import sys

from simlab.errors import BadInputError


def add_train_options(p, default_out: str, default_steps: int, default_batch: int, default_lr: float) -> None:
    p.add_argument("--out", default=default_out, help="model folder (a name is placed under ~/.cache/simlab/models)")
    p.add_argument("--base", default="roformer-zh-small",
                   help="backbone: an HF RoFormerForMaskedLM folder or cached name; 'scratch' for a new char model "
                        "(also used, with a note, when the default is not in the cache)")
    p.add_argument("--max-steps", type=int, default=default_steps)
    p.add_argument("--batch-size", type=int, default=default_batch)
    p.add_argument("--lr", type=float, default=default_lr)
    p.add_argument("--warmup", type=float, default=0.05, help="warmup ratio")
    p.add_argument("--max-chars", type=int, default=32, help="characters per sentence (the encoder length is +2)")
    p.add_argument("--minutes", type=float, default=None, help="stop after this wall time (with a final save)")
    p.add_argument("--save-steps", type=int, default=250)
    p.add_argument("--eval-size", type=int, default=256, help="held-out items for the eval loss")
    p.add_argument("--limit", type=int, default=None, help="use only N training items (smoke runs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", dest="resume_run", action="store_true",  # main() owns args.resume
                   help="continue from the last complete checkpoint in OUT/run")
    p.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp32"))
    p.add_argument("--threads", type=int, default=None, help="torch threads")
    p.add_argument("--data-dir", default=None, help="data folder (default: $SIMLAB_DATA)")
    g = p.add_argument_group("scratch backbone size (only with --base scratch or a missing default)")
    g.add_argument("--hidden", type=int, default=256)
    g.add_argument("--layers", type=int, default=4)
    g.add_argument("--heads", type=int, default=4)
    g.add_argument("--ffn", type=int, default=1024)


def out_folder(out: str):
    from pathlib import Path

    from simlab.paths import cache_dir

    p = Path(out).expanduser()
    return p if ("/" in out or out.startswith(".")) else cache_dir("models") / out


def scratch_overrides(args) -> dict:
    return {"hidden_size": args.hidden, "num_hidden_layers": args.layers, "num_attention_heads": args.heads,
            "intermediate_size": args.ffn}


def model_folder(name: str):
    from pathlib import Path

    from simlab.errors import MissingFileError
    from simlab.paths import cache_dir

    p = Path(name).expanduser()
    if p.is_dir():
        return p
    cached = cache_dir("models") / name
    if cached.is_dir():
        return cached
    raise MissingFileError(f"--model {name}: no such folder, and not in {cache_dir('models')}")


def load(args, kind: str):
    """(model, tokenizer, meta) of ``--model``, checking its kind; sets torch threads."""
    import torch

    from simlab.generate.folder import load_model

    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    model, tok, meta = load_model(model_folder(args.model))
    if meta["kind"] != kind:
        raise BadInputError(f"--model {args.model} is a {meta['kind']} model; this command needs a {kind} model")
    return model, tok, meta


def input_sentences(args, data=None) -> list[str]:
    """Sentences from positional arguments, ``--file`` (one a line) or ``--heldout N`` (test sentences)."""
    texts = list(getattr(args, "sentences", None) or [])
    if getattr(args, "file", None):
        with open(args.file, encoding="utf-8") as f:
            texts += [line.strip() for line in f if line.strip()]
    if getattr(args, "heldout", None):
        if data is None:
            from simlab.generate.data import load_generation_data

            data = load_generation_data(args.data_dir, max_chars=getattr(args, "max_chars", 32))
        texts += data.heldout_sample(args.heldout, args.seed)
    if not texts:
        raise BadInputError("no input sentences: give them as arguments, with --file FILE or --heldout N")
    return texts


def emit(obj, as_json: bool, text: str) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=1) if as_json else text, file=sys.stdout)


def fmt(v) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)

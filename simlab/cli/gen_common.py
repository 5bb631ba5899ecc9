"""Options and helpers shared by ``simlab univae`` and ``simlab generate`` (not a command itself)."""

from __future__ import annotations

import json
import sys

from simlab.errors import BadInputError


def add_train_options(p, kind: str) -> None:
    """The training options of ``kind`` (dests = :class:`~simlab.generate.config.GeneratorTrainConfig` fields;
    defaults from its presets; ranges are checked by the config)."""
    from simlab.generate.config import PRESETS, GeneratorTrainConfig

    d = GeneratorTrainConfig(**PRESETS[kind])
    p.add_argument("--out", default=d.out, help="model folder (a name is placed under ~/.cache/simlab/models)")
    p.add_argument("--base", default=d.base,
                   help="backbone: an HF RoFormerForMaskedLM folder or cached name; 'scratch' for a new char model "
                        "(also used, with a note, when the default is not in the cache)")
    p.add_argument("--max-steps", type=int, default=d.max_steps)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--warmup", dest="warmup_ratio", metavar="RATIO", type=float, default=d.warmup_ratio,
                   help="warmup ratio, in [0, 1)")
    p.add_argument("--max-chars", type=int, default=d.max_chars,
                   help="characters per sentence (the encoder length is +2)")
    p.add_argument("--minutes", type=float, default=None, help="stop after this wall time (with a final save)")
    p.add_argument("--save-steps", type=int, default=d.save_steps)
    p.add_argument("--eval-size", type=int, default=d.eval_size, help="held-out items for the eval loss")
    p.add_argument("--limit", type=int, default=None, help="use only N training items (smoke runs)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--resume", action="store_true",
                   help="continue the unfinished run in OUT from its last complete checkpoint (same settings)")
    p.add_argument("--keep-checkpoints", action="store_true",
                   help="keep OUT/run/checkpoint-* after the run finishes (removed by default)")
    p.add_argument("--precision", default=d.precision, choices=("auto", "bf16", "fp32"))
    p.add_argument("--threads", type=int, default=None, help="torch threads")
    p.add_argument("--data-dir", default=None, help="data folder (default: $SIMLAB_DATA)")
    g = p.add_argument_group("scratch backbone size (only with --base scratch or a missing default)")
    g.add_argument("--hidden", type=int, default=d.hidden)
    g.add_argument("--layers", type=int, default=d.layers)
    g.add_argument("--heads", type=int, default=d.heads)
    g.add_argument("--ffn", type=int, default=d.ffn)


def train(args, kind: str, command: str) -> int:
    """``simlab generate train`` / ``simlab univae train``: the config built by field name, then the recipe."""
    from simlab.config import config_from_args
    from simlab.generate.config import GeneratorTrainConfig
    from simlab.generate.train import train_generator

    cfg = config_from_args(GeneratorTrainConfig, args, kind=kind, out=str(out_folder(args.out)))
    args.run_dir = cfg.out  # Ctrl-C names the last complete checkpoint and the --resume command
    m = train_generator(cfg)
    eval_loss = m.get("eval_loss")
    print(f"simlab {command}: wrote {cfg.out} (backbone: {m['base']}; {m['global_step']} steps; eval loss "
          + (f"{eval_loss:.4f})" if eval_loss is not None else "n/a)"))
    return 0


def out_folder(out: str):
    from pathlib import Path

    from simlab.paths import cache_dir

    if not out.strip():
        raise BadInputError("--out is empty")
    p = Path(out).expanduser()
    return p if ("/" in out or out.startswith(".")) else cache_dir("models") / out


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
    """(model, tokenizer, meta) of ``--model``, checking its kind; applies ``--threads``."""
    from simlab.generate.folder import load_model
    from simlab.machine import set_threads

    folder = model_folder(args.model)  # a missing model is reported before torch loads
    set_threads(getattr(args, "threads", None))
    model, tok, meta = load_model(folder)
    if meta["kind"] != kind:
        raise BadInputError(f"--model {args.model} is a {meta['kind']} model; this command needs a {kind} model")
    return model, tok, meta


def read_sentence_file(path: str) -> list[str]:
    """Non-blank lines of a UTF-8 file, stripped; a missing file or invalid UTF-8 is one error naming the file
    (and the line)."""
    from pathlib import Path

    from simlab.errors import DataError, MissingFileError

    p = Path(path).expanduser()
    if not p.is_file():
        raise MissingFileError(f"--file {p}: no such file")
    out = []
    for i, raw in enumerate(p.read_bytes().splitlines(), 1):
        try:
            line = raw.decode("utf-8-sig" if i == 1 else "utf-8").strip()
        except UnicodeDecodeError as exc:
            raise DataError(f"{p}, line {i}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
        if line:
            out.append(line)
    return out


def input_sentences(args, data=None) -> list[str]:
    """Sentences from positional arguments, ``--file`` (one a line) or ``--heldout N`` (test sentences)."""
    texts = list(getattr(args, "sentences", None) or [])
    if getattr(args, "file", None):
        texts += read_sentence_file(args.file)
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

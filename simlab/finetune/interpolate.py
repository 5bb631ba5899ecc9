"""Weight interpolation between the base and the fine-tuned model (WiSE-FT: Wortsman et al. 2022, "Robust
fine-tuning of zero-shot models", arXiv:2109.01903), with α chosen on a split the training never saw.

    θ(α) = (1 − α) · θ_base + α · θ_fine-tuned          (WiSE-FT eq. 1; α = 1 is the fine-tuned model)

Fine-tuning on the labelled Chinese pairs (binary and NLI labels) raises ATEC and BQ by 10+ points but lowers the
graded STS-B, which the base model does well. Interpolating the weights keeps most of the gain on the trained
tasks and most of the base model's STS-B: the curve between the two models is concave in practice (WiSE-FT §4).

``--interpolate auto`` picks the **largest** α of the grid whose score on the guard split (default STS-B
*valid*, which no training stream reads: the binary stream uses STS-B train) is not below the base's score there
(``TOLERANCE`` 0: the issue allows a task 0.5 below the base on its test split, and the guard is another split, so
the rule keeps that margin for the difference between the two); ``--interpolate 0.7`` fixes α.
No test split takes part in the choice.

>>> base = {"w": np.zeros(2, np.float32)}; tuned = {"w": np.ones(2, np.float32), "extra": np.ones(1, np.float32)}
>>> mixed = interpolate_weights(base, tuned, 0.25)
>>> mixed["w"].tolist(), mixed["extra"].tolist()
([0.25, 0.25], [1.0])
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simlab.errors import BadInputError, ModelError

__all__ = ["GRID", "choose_alpha", "guard_score", "interpolate_run", "interpolate_weights", "load_weights",
           "parse_guard", "parse_interpolate", "write_interpolated"]

GRID = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1)  # searched from the fine-tuned end
TOLERANCE = 0.0  # Spearman ×100 the guard may lose against the base


def parse_interpolate(value: str | None) -> float | str | None:
    """``None`` (off), ``"auto"`` or a float α in (0, 1]; anything else is one error line.

    >>> parse_interpolate("auto"), parse_interpolate("0.7"), parse_interpolate(None)
    ('auto', 0.7, None)
    """
    if value is None or value == "auto":
        return value
    try:
        alpha = float(value)
    except ValueError:
        raise BadInputError(f"--interpolate {value!r}: give auto or a number in (0, 1]") from None
    if not 0.0 < alpha <= 1.0:  # also refuses nan
        raise BadInputError(f"--interpolate must be in (0, 1] (1 = the fine-tuned weights), got {value}")
    return alpha


def parse_guard(value: str) -> tuple[str, str]:
    """``"STS-B:valid"`` → ("STS-B", "valid"); the task must exist and have that split, and a test split is refused
    (the choice of α must not see a test split).

    >>> parse_guard("STS-B:valid")
    ('STS-B', 'valid')
    """
    from simlab.data import get_task

    task, _, split = str(value).partition(":")
    spec = get_task(task.strip())  # an unknown task is one error line naming the known ones
    split = split.strip() or "valid"
    if split not in spec.splits:
        raise BadInputError(f"--interpolate-guard {value}: {spec.name} has no split {split!r} "
                            f"(it has {', '.join(spec.splits)})")
    if split == "test" or split == spec.eval_split:
        raise BadInputError(f"--interpolate-guard {value}: that is the split {spec.name} is scored on; choose "
                            "another (e.g. STS-B:valid), so that no test split takes part in the choice")
    return spec.name, split


def interpolate_weights(base: dict[str, np.ndarray], tuned: dict[str, np.ndarray], alpha: float) -> dict:
    """(1 − α)·base + α·tuned per tensor, in float64 then cast to the tuned tensor's dtype; a tensor only the
    tuned model has (e.g. a pooler the base was saved without) is kept as it is."""
    out = {}
    for name, t in tuned.items():
        b = base.get(name)
        if b is None:
            out[name] = t
            continue
        if b.shape != t.shape:
            raise ModelError(f"cannot interpolate {name}: base {tuple(b.shape)} vs fine-tuned {tuple(t.shape)} "
                             "(not the same architecture and vocabulary)")
        out[name] = ((1.0 - alpha) * b.astype(np.float64) + alpha * t.astype(np.float64)).astype(t.dtype)
    return out


def choose_alpha(score_of, base_score: float, grid=GRID, tolerance: float = TOLERANCE) -> tuple[float, list]:
    """The largest α of ``grid`` with ``score_of(α) ≥ base_score − tolerance``, else 0 (the base itself);
    returns (α, [(α, score), ...] of every α tried).

    >>> choose_alpha(lambda a: 80 - 5 * a, 80.0)[0]
    0.0
    >>> choose_alpha(lambda a: 80 - a, 80.0, tolerance=0.5)
    (0.5, [(1.0, 79.0), (0.9, 79.1), (0.8, 79.2), (0.7, 79.3), (0.6, 79.4), (0.5, 79.5)])
    """
    tried = []
    for alpha in sorted(grid, reverse=True):
        score = float(score_of(alpha))
        tried.append((alpha, round(score, 4)))
        if score >= base_score - tolerance:
            return alpha, tried
    return 0.0, tried


def load_weights(path: Path, what: str) -> dict:
    """The tensors of a ``model.safetensors``; a damaged or missing file is one error line naming it."""
    from simlab.io import load_safetensors

    tensors, _ = load_safetensors(path, what, ModelError)
    return tensors


def write_interpolated(base: dict, tuned: dict, alpha: float, dest: Path) -> None:
    """Write the interpolated weights of ``alpha`` to ``dest`` (atomically)."""
    from safetensors.numpy import save_file

    from simlab.io import atomic_write

    mixed = interpolate_weights(base, tuned, alpha)
    atomic_write(Path(dest), lambda p: save_file(mixed, str(p), metadata={"format": "pt"}))


FINETUNED = "model.finetuned.safetensors"  # the α = 1 weights, kept beside the interpolated model.safetensors


def guard_score(folder, ps, pooling: str, max_length: int, prefix: str) -> float:
    """Spearman ×100 of plain cosine on one loaded split (``simlab.data.load_split``), through simlab's encoder and
    eval's scorer."""
    from simlab.encode import Encoder
    from simlab.evaluate.metrics import SplitScorer, cosine_pairs

    enc = Encoder(str(folder), max_length=max_length, prefix=prefix or "")
    a = enc.encode(ps.sentences1, pooling=pooling)  # (N, d)
    b = enc.encode(ps.sentences2, pooling=pooling)  # (N, d)
    return 100 * SplitScorer(ps.scores, ps.subsets)(cosine_pairs(a, b))["spearman"]


def interpolate_run(cfg, out: Path, base_folder: Path, prefix: str, log=print) -> dict:
    """Replace ``out/model.safetensors`` by the interpolated weights of ``cfg.interpolate`` (auto: chosen on
    ``cfg.interpolate_guard``); the fine-tuned weights stay in ``out/FINETUNED``. Returns the card's record."""
    import shutil
    import tempfile

    from simlab.data import load_split
    from simlab.io import atomic_write

    task, split = parse_guard(cfg.interpolate_guard)
    base_file, tuned_file, kept = Path(base_folder) / "model.safetensors", out / "model.safetensors", out / FINETUNED
    if not base_file.is_file():
        raise ModelError(f"--interpolate needs the base model's weights as a local file: {base_file} is missing")
    atomic_write(kept, lambda p: shutil.copyfile(tuned_file, p))  # a resumed run saves the same trained weights
    base = load_weights(base_file, "base model weights")  # read once, for every α tried
    tuned = load_weights(kept, "fine-tuned weights")
    guard = load_split(task, split, cfg.data_dir)

    def score(folder) -> float:
        return guard_score(folder, guard, cfg.pooling, cfg.max_length, prefix)

    base_score = score(base_folder)
    alpha, tried = parse_interpolate(cfg.interpolate), []
    if alpha == "auto":
        tmp = Path(tempfile.mkdtemp(prefix=".interpolate-", dir=out))
        try:
            for f in out.iterdir():  # config, tokenizer, pooling modules: the candidate is a complete folder
                if f.is_file() and f.name.endswith(".json") and not f.name.startswith("simlab_"):
                    shutil.copyfile(f, tmp / f.name)
                elif f.is_dir() and f.name[:1].isdigit():  # 1_Pooling, ...:
                    shutil.copytree(f, tmp / f.name)

            def score_of(a: float) -> float:
                write_interpolated(base, tuned, a, tmp / "model.safetensors")
                s = score(tmp)
                log(f"interpolate: alpha {a:.1f}: {task} {split} {s:.2f} (base {base_score:.2f})")
                return s

            alpha, tried = choose_alpha(score_of, base_score)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    write_interpolated(base, tuned, float(alpha), tuned_file)
    log(f"interpolate: wrote alpha {alpha} (1 = fine-tuned weights, kept in {FINETUNED})")
    return {"method": "WiSE-FT weight interpolation (arXiv:2109.01903)", "alpha": float(alpha),
            "chosen": "auto" if tried else "given", "guard": f"{task}:{split}", "tolerance": TOLERANCE,
            "base_score": round(base_score, 4), "tried": tried, "finetuned_weights": FINETUNED}

"""Options of the generators' non-training commands (``simlab generate TEXT``, ``simlab generate eval`` and the
``simlab univae`` probes), each with its range on the field, checked before a model loads (issue 21).

The CLI builds them by field name (:func:`simlab.config.config_from_args`); a subcommand that lacks an option
keeps the field's default.

>>> from simlab.config import check_config
>>> check_config(GenerateOptions(text=["今天天气怎么样"], top_p=0.0))
Traceback (most recent call last):
...
simlab.errors.BadInputError: --top-p must be > 0, got 0
>>> check_config(UniVAEOptions(sentences=["  "]))
Traceback (most recent call last):
...
simlab.errors.BadInputError: input sentence 1 is empty
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simlab.config import bounded
from simlab.errors import BadInputError

__all__ = ["GenerateOptions", "GenerateEvalOptions", "UniVAEOptions", "check_sentences", "SEED_MAX"]

SEED_MAX = 2**32 - 1  # numpy's and transformers' set_seed limit
METHODS = ("greedy", "beam", "sample")


def check_sentences(texts, what: str = "input sentence") -> None:
    """Refuse an empty or blank sentence, naming its position (1-based)."""
    for i, text in enumerate(texts or [], 1):
        if not str(text).strip():
            raise BadInputError(f"{what} {i} is empty")


@dataclass
class GenerateOptions:
    """``simlab generate TEXT ...``: n candidates ranked by the model's cosine from ``candidates`` top-p samples."""

    text: list[str] = field(default_factory=list)
    model: str = "sim-zh-small"
    n: int = bounded(10, ge=1, flag="-n")
    candidates: int | None = bounded(None, ge=1, help="samples drawn before ranking (default 5·n)")
    top_p: float = bounded(0.95, gt=0, le=1)
    max_len: int = bounded(32, ge=1)
    seed: int | None = bounded(None, ge=0, le=SEED_MAX)
    threads: int | None = bounded(None, ge=1)
    json: bool = False

    def check(self) -> None:
        if not self.text:
            raise BadInputError("no input sentence: give TEXT")
        check_sentences(self.text, "TEXT")
        if self.candidates is not None and self.candidates < self.n:
            raise BadInputError(f"--candidates {self.candidates} is fewer than -n {self.n}: the top n are "
                                "chosen from the candidates")


@dataclass
class GenerateEvalOptions:
    """``simlab generate eval``: n candidates for each of ``inputs`` held-out questions, then the figures."""

    model: str = "sim-zh-small"
    inputs: int = bounded(20, ge=1)
    n: int = bounded(10, ge=2, flag="-n", help="candidates per input (self-BLEU compares at least 2)")
    top_p: float = bounded(0.95, gt=0, le=1)
    show: int = bounded(5, ge=0)
    seed: int = bounded(0, ge=0, le=SEED_MAX)
    threads: int | None = bounded(None, ge=1)
    data_dir: str | None = None
    json: bool = False


@dataclass
class UniVAEOptions:
    """``simlab univae encode | reconstruct | sample | swap | interpolate`` (each uses its own subset)."""

    model: str = "univae-zh-small"
    sentences: list[str] = field(default_factory=list)
    file: str | None = None
    heldout: int | None = bounded(None, ge=1)
    seed: int = bounded(0, ge=0, le=SEED_MAX)
    threads: int | None = bounded(None, ge=1)
    data_dir: str | None = None
    json: bool = False
    method: str = bounded("greedy", choices=METHODS)
    beam: int = bounded(4, ge=1)
    table: bool = False
    batch_size: int = bounded(64, ge=2, help="the shuffled-z row needs at least 2 sentences per batch")
    n: int = bounded(10, ge=1, flag="-n")
    stats: bool = False
    show: int = bounded(20, ge=0)
    draws: int = bounded(3, ge=1)
    steps: int = bounded(7, ge=2, help="points on the path, both ends included")
    pairs: int | None = bounded(None, ge=1)

    def check(self) -> None:
        check_sentences(self.sentences)

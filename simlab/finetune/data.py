"""Labelled Chinese pairs for the RoFormer-Sim-FT recipe (kexue.fm/archives/8541; spec clue_sim.md §2.2).

Two streams, as ``train/supervised.py`` of ZhuiyiTechnology/roformer-sim, and one of simlab's:

- **binary** (label 0/1): the *valid* splits of ATEC, BQ, LCQMC, PAWSX (their train files are not in shared/data,
  MANIFEST §5), CLUE AFQMC train (ATEC's domain), STS-B zh train with ``score > 2.5`` → 1. The post's rule for
  the 0/1 sets is ``int(float(label) > 0.5)``.
- **nli** (labels 2/3/4 = contradiction/entailment/neutral, the order of ``supervised.py``): OCNLI train (the
  largest file present), CMNLI ``train.txt`` when present. Other labels (OCNLI's ``-`` = no majority) are
  dropped and counted.
- **sts** (simlab's, not the post's): STS-B zh train with its graded 0-5 scores kept, for CoSENT, which ranks
  pairs by any real label (kexue.fm/archives/8847). With ``binary`` too, STS-B train leaves the binary stream, so
  no pair is trained twice under two labellings. Its labels are floats; counts bucket them by whole point.

**Never a test split.** Every pair that shares a sentence (compared after ``str.strip``) with any test split of
the five Chinese STS tasks is dropped and counted: 6,720 of ATEC test's 20,000 pairs also occur in AFQMC train.

>>> from simlab.finetune.data import NLI_LABELS, load_training_pairs
>>> NLI_LABELS
{'contradiction': 2, 'entailment': 3, 'neutral': 4}
>>> data = load_training_pairs("/work/shared/data", ["binary", "nli"])      # doctest: +SKIP
>>> print(data.summary())                                                    # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from simlab.errors import BadInputError, DataError, MissingFileError

__all__ = [
    "BINARY_LABELS", "NLI_LABELS", "STREAMS", "PairSet", "SourceCount", "TrainingData", "binary_view",
    "held_out_sentences", "load_training_pairs", "parse_streams", "read_nli_jsonl", "read_nli_tsv",
    "sentence_key",
]

BINARY_LABELS = (0, 1)
NLI_LABELS = {"contradiction": 2, "entailment": 3, "neutral": 4}  # supervised.py: logits 2-4 in this order
STREAMS = ("binary", "nli", "sts")
ZH_TASKS = ("ATEC", "BQ", "LCQMC", "PAWSX", "STS-B")
OCNLI_TRAIN_FILES = ("train.50k.json", "train.10k.json", "train.3k.json")  # the largest present is used


def sentence_key(text: str) -> str:
    """The form in which sentences are compared for train/test overlap (surrounding whitespace ignored)."""
    return text.strip()


@dataclass
class PairSet:
    """Sentence pairs with labels (integers; floats when ``graded``) and the source each pair came from."""

    sentences1: list[str] = field(default_factory=list)
    sentences2: list[str] = field(default_factory=list)
    labels: list = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    graded: bool = False  # labels are real scores (the sts stream), not classes

    def __len__(self) -> int:
        return len(self.labels)

    def extend(self, s1: list[str], s2: list[str], labels: list[int], source: str) -> None:
        self.sentences1 += s1
        self.sentences2 += s2
        self.labels += [float(y) if self.graded else int(y) for y in labels]
        self.sources += [source] * len(labels)

    def sentences(self) -> set[str]:
        """Every sentence of either side, in :func:`sentence_key` form."""
        return {sentence_key(s) for s in self.sentences1} | {sentence_key(s) for s in self.sentences2}


@dataclass
class SourceCount:
    """What happened to one source file: pairs read, dropped (and why), kept."""

    stream: str
    name: str
    file: str
    read: int
    dropped_label: int = 0  # NLI labels other than the three (OCNLI "-")
    dropped_test_overlap: int = 0  # shares a sentence with an STS test split
    kept: int = 0
    label_counts: dict = field(default_factory=dict)  # label -> kept pairs

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class TrainingData:
    """The streams after filtering, with per-source counts and the size of the held-out sentence set."""

    binary: PairSet
    nli: PairSet
    counts: list[SourceCount]
    held_out_sentences: int
    held_out_from: list[str]
    sts: PairSet = field(default_factory=lambda: PairSet(graded=True))

    def streams(self) -> list[tuple[str, PairSet]]:
        """``[(name, pairs)]`` in the order batches take them: binary, nli, sts."""
        return [("binary", self.binary), ("nli", self.nli), ("sts", self.sts)]

    def summary(self) -> str:
        """A plain-text table of the counts (one line per source, then totals)."""
        lines = [f"{'stream':7} {'source':14} {'read':>7} {'bad label':>9} {'test overlap':>12} {'kept':>7}  file"]
        for c in self.counts:
            lines.append(f"{c.stream:7} {c.name:14} {c.read:7d} {c.dropped_label:9d} {c.dropped_test_overlap:12d} "
                         f"{c.kept:7d}  {c.file}")
        tot = {k: sum(getattr(c, k) for c in self.counts) for k in ("read", "dropped_label", "dropped_test_overlap",
                                                                       "kept")}
        lines.append(f"{'total':22} {tot['read']:7d} {tot['dropped_label']:9d} {tot['dropped_test_overlap']:12d} "
                     f"{tot['kept']:7d}")
        lines.append(f"held out: {self.held_out_sentences} distinct sentences of {', '.join(self.held_out_from)}")
        return "\n".join(lines)


def parse_streams(spec: str | Iterable[str]) -> list[str]:
    """``"binary,nli"`` → ``["binary", "nli"]`` (order kept, duplicates removed); unknown names → BadInputError."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out = []
    for item in items:
        name = item.strip().lower()
        if name not in STREAMS:
            raise BadInputError(f"--data {item.strip()!r}: choose from {', '.join(STREAMS)} (comma list)")
        if name not in out:
            out.append(name)
    if not out:
        raise BadInputError("--data is empty: give binary, nli, sts or a comma list of them")
    return out


def binary_view(labels: Iterable[int]) -> list[float]:
    """Labels for the cosine objectives: binary 0/1 stay, NLI entailment → 1, contradiction and neutral → 0.

    >>> binary_view([0, 1, 2, 3, 4])
    [0.0, 1.0, 0.0, 1.0, 0.0]
    """
    out = []
    for y in labels:
        if y in BINARY_LABELS:
            out.append(float(y))
        elif y in NLI_LABELS.values():
            out.append(1.0 if y == NLI_LABELS["entailment"] else 0.0)
        else:
            raise ValueError(f"label {y} is neither binary (0/1) nor NLI (2-4)")
    return out


# ---------------------------------------------------------------------------------------------- readers
def read_nli_jsonl(path: str | os.PathLike) -> tuple[list[str], list[str], list[str]]:
    """OCNLI jsonl: ``sentence1, sentence2, label`` per line; returns the raw label strings (``-`` included)."""
    path = Path(path)
    s1, s2, labels = [], [], []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            a, b, y = row["sentence1"], row["sentence2"], row["label"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise DataError(f"{path}:{lineno}: not an NLI json line with sentence1, sentence2, label ({e})") from None
        if not (isinstance(a, str) and isinstance(b, str) and a.strip() and b.strip()):
            raise DataError(f"{path}:{lineno}: empty or non-text sentence")
        s1.append(a)
        s2.append(b)
        labels.append(str(y))
    return s1, s2, labels


def read_nli_tsv(path: str | os.PathLike) -> tuple[list[str], list[str], list[str]]:
    """CMNLI as TSV (``premise<TAB>hypothesis<TAB>label``, the zejunwang1/CSTS layout of CLUE/CMNLI)."""
    from simlab.data.readers import read_lines

    path = Path(path)
    s1, s2, labels = [], [], []
    for lineno, line in enumerate(read_lines(path), 1):
        parts = line.split("\t")
        if len(parts) != 3 or not parts[0].strip() or not parts[1].strip():
            raise DataError(f"{path}:{lineno}: expected 'premise<TAB>hypothesis<TAB>label' with non-empty text")
        s1.append(parts[0])
        s2.append(parts[1])
        labels.append(parts[2].strip())
    return s1, s2, labels


def _require(path: Path) -> Path:
    if not path.is_file():
        raise MissingFileError(f"missing training file {path} (the layout of shared/data, MANIFEST.md §2, §7)")
    return path


def _binary_sources(root: Path, with_stsb: bool = True) -> list[tuple[str, Path, list[str], list[str], list[int]]]:
    """(name, file, s1, s2, 0/1 labels) for every binary source (STS-B train only ``with_stsb``)."""
    from simlab.data import load_split
    from simlab.data.readers import read_senteval_cn
    from simlab.data.tasks import score_problem

    out = []
    for task in ("ATEC", "BQ", "LCQMC", "PAWSX"):
        ps = load_split(task, "valid", root)
        out.append((f"{task}-valid", ps.files[0], ps.sentences1, ps.sentences2,
                    [int(float(y) > 0.5) for y in ps.scores]))
    afqmc = _require(root / "CLUE" / "AFQMC" / "train.txt")
    rows = read_senteval_cn(afqmc, check_score=lambda v: score_problem("binary", v))
    out.append(("AFQMC-train", afqmc, rows.sentences1, rows.sentences2, [int(y > 0.5) for y in rows.scores]))
    if not with_stsb:
        return out
    stsb = load_split("STS-B", "train", root)
    out.append(("STS-B-train", stsb.files[0], stsb.sentences1, stsb.sentences2,
                [int(float(y) > 2.5) for y in stsb.scores]))  # supervised.py: score > 2.5 → 1
    return out


def _sts_sources(root: Path) -> list[tuple[str, Path, list[str], list[str], list[float]]]:
    """(name, file, s1, s2, 0-5 scores) for the graded stream: STS-B zh train."""
    from simlab.data import load_split

    stsb = load_split("STS-B", "train", root)
    return [("STS-B-train", stsb.files[0], stsb.sentences1, stsb.sentences2, [float(y) for y in stsb.scores])]


def _nli_sources(root: Path) -> list[tuple[str, Path, list[str], list[str], list[str]]]:
    """(name, file, s1, s2, raw label strings) for every NLI source."""
    ocnli = next((root / "CLUE" / "OCNLI" / f for f in OCNLI_TRAIN_FILES if (root / "CLUE" / "OCNLI" / f).is_file()),
                 None)
    if ocnli is None:
        raise MissingFileError(f"no OCNLI train file in {root / 'CLUE' / 'OCNLI'} (looked for "
                               f"{', '.join(OCNLI_TRAIN_FILES)})")
    out = [("OCNLI-" + ocnli.name.split(".")[1], ocnli, *read_nli_jsonl(ocnli))]
    cmnli = root / "CLUE" / "CMNLI" / "train.txt"
    if cmnli.is_file():
        out.append(("CMNLI-train", cmnli, *read_nli_tsv(cmnli)))
    return out


def held_out_sentences(root: str | os.PathLike, tasks: Iterable[str] = ZH_TASKS) -> set[str]:
    """Every sentence (:func:`sentence_key` form) of the test split of each task: training must avoid them all."""
    from simlab.data import load_split

    out: set[str] = set()
    for task in tasks:
        ps = load_split(task, "test", root)
        out.update(sentence_key(s) for s in ps.sentences1)
        out.update(sentence_key(s) for s in ps.sentences2)
    return out


def _filter(stream, name, path, s1, s2, labels, held_out: set[str], target: PairSet,
            label_ok=lambda y: True) -> SourceCount:
    count = SourceCount(stream, name, str(path), read=len(labels))
    keep1, keep2, keepy = [], [], []
    for a, b, y in zip(s1, s2, labels):
        if not label_ok(y):
            count.dropped_label += 1
        elif sentence_key(a) in held_out or sentence_key(b) in held_out:
            count.dropped_test_overlap += 1
        else:
            keep1.append(a)
            keep2.append(b)
            keepy.append(y)
    count.kept = len(keepy)
    for y in keepy:
        count.label_counts[int(y)] = count.label_counts.get(int(y), 0) + 1
    count.label_counts = dict(sorted(count.label_counts.items()))
    target.extend(keep1, keep2, keepy, name)
    return count


def load_training_pairs(data_dir: str | os.PathLike | None = None, streams: Iterable[str] = STREAMS) -> TrainingData:
    """Read, label, and test-filter the training pairs of the requested streams (``binary``, ``nli``, ``sts``).

    Example::

        data = load_training_pairs("/work/shared/data", ["binary", "nli"])
        len(data.binary), len(data.nli)       # pairs kept per stream
        data.counts[0].dropped_test_overlap   # ATEC-valid pairs that share a sentence with an STS test split
    """
    from simlab.paths import data_dir as resolve_data_dir

    root = resolve_data_dir(data_dir)
    streams = parse_streams(list(streams))
    held_out = held_out_sentences(root)
    binary, nli, sts, counts = PairSet(), PairSet(), PairSet(graded=True), []
    if "binary" in streams:
        for name, path, s1, s2, labels in _binary_sources(root, with_stsb="sts" not in streams):
            counts.append(_filter("binary", name, path, s1, s2, labels, held_out, binary))
    if "nli" in streams:
        for name, path, s1, s2, raw in _nli_sources(root):
            labels = [NLI_LABELS.get(y, -1) for y in raw]
            counts.append(_filter("nli", name, path, s1, s2, labels, held_out, nli, label_ok=lambda y: y >= 0))
    if "sts" in streams:
        for name, path, s1, s2, scores in _sts_sources(root):
            counts.append(_filter("sts", name, path, s1, s2, scores, held_out, sts))
    data = TrainingData(binary, nli, counts, len(held_out), [f"{t}/test" for t in ZH_TASKS], sts)
    overlap = (binary.sentences() | nli.sentences() | sts.sentences()) & held_out
    if overlap:  # cannot happen after _filter; guards against a future edit of the filter
        raise DataError(f"{len(overlap)} training sentences are in STS test splits, e.g. {next(iter(overlap))!r}")
    return data

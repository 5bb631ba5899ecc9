"""The sentences whitening statistics are fitted on (the "fit-on" policy, whitening spec §1.2, §7.1).

The study (bojone/BERT-whitening ``chn/eval.py``, ``eng/eval.py`` "target" regime) fits μ and W on every
sentence of every split of the evaluated task, both sides of every pair, labels unused, duplicates kept. That
is policy ``"all"``. Here "every split" means every split present in the data folder: the Chinese ATEC, BQ,
LCQMC and PAWSX train files are not in shared/data (MANIFEST §5), so "all" = valid+test for them; STS12-16 use
their scored pairs (as ``load_sts_12_16_data`` does); STSBenchmark uses SentEval's train+dev+test (the study
used GLUE train+dev with sts-test, the same pairs).

>>> fit_sentences("STS-B", "train")                         # doctest: +SKIP
>>> fit_sentences("ATEC", "file", file="my_corpus.txt")      # doctest: +SKIP
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from simlab.data.errors import DataNotFoundError
from simlab.data.readers import read_sentence_file
from simlab.data.sts import load_split
from simlab.data.tasks import get_task
from simlab.errors import BadInputError, DataError

__all__ = ["FitSentences", "fit_sentences", "FIT_POLICIES"]

FIT_POLICIES = ("all", "test", "train", "file")


class FitSentences(list):
    """A ``list[str]`` of fit sentences that also says where they came from.

    ``policy``: the policy used; ``sources``: files read; ``blank_lines``: blank lines left out of a sentence
    file (as ``(path, 1-based line)``).
    """

    def __init__(self, sentences, policy: str, sources: list[Path], blank_lines: list[tuple[Path, int]] = ()):
        super().__init__(sentences)
        self.policy = policy
        self.sources = list(sources)
        self.blank_lines = list(blank_lines)

    def summary(self) -> str:
        text = f"fit on {len(self)} sentences (policy {self.policy}, {len(self.sources)} files)"
        if self.blank_lines:
            text += f", {len(self.blank_lines)} blank lines left out"
        return text


def fit_sentences(
    task: str,
    policy: str = "all",
    data_dir: str | os.PathLike | None = None,
    file: str | os.PathLike | None = None,
    skip_bad_lines: bool = False,
) -> FitSentences:
    """Sentences to fit the whitening statistics of ``task`` on.

    ``policy``:
      - ``"all"`` (default): both sides of every pair of every available split of the task (split order,
        sentences1 then sentences2 per split; duplicates kept, as the reference code);
      - ``"test"``: both sides of the task's evaluation split;
      - ``"train"``: both sides of its train split (BadInputError naming the splits present if it has none);
      - ``"file"`` with ``file=PATH`` (or ``policy=PATH`` directly): a UTF-8 text file, one sentence per line;
        blank lines are left out, counted in ``.blank_lines`` and reported with a warning.

    ``skip_bad_lines`` is passed to :func:`load_split` (use the same value as for the evaluated splits).

    Example::

        sents = fit_sentences("STS-B", "all", "/work/shared/data")
        len(sents)            # 2 * (5231 + 1458 + 1361) = 16100
    """
    spec = get_task(task)
    if (
        str(policy).strip().lower() in FIT_POLICIES
    ):  # "ALL", " test" -> the policy; anything else may be a path
        policy = str(policy).strip().lower()
    if file is not None and policy != "file":
        raise BadInputError(
            f"file={str(file)!r} given with policy {policy!r}: pass policy='file' to fit on a file"
        )
    if policy == "file" or (policy not in FIT_POLICIES and Path(policy).is_file()):
        if policy == "file" and file is None:
            raise BadInputError("policy 'file' needs file=PATH (a text file, one sentence per line)")
        return _from_file(Path(file if policy == "file" else policy))
    if policy not in FIT_POLICIES:
        raise BadInputError(
            f"unknown fit policy {policy!r} (and no such file): use one of all, test, train, or a path to a text "
            "file with one sentence per line"
        )
    if policy == "all":
        splits = list(spec.splits)
    elif policy == "test":
        splits = [spec.eval_split]
    else:
        if "train" not in spec.splits:
            raise BadInputError(
                f"task {spec.name} has no train split in the data folder (splits present: {', '.join(spec.splits)}); "
                "use policy 'all' or 'test', or a sentence file"
            )
        splits = ["train"]
    sentences, sources = [], []
    for split in splits:
        ps = load_split(spec.name, split, data_dir, skip_bad_lines)
        sentences += ps.sentences()
        sources += ps.files
    return FitSentences(sentences, policy, sources)


def _from_file(path: Path) -> FitSentences:
    if not path.is_file():
        raise DataNotFoundError(
            f"fit sentence file {path} does not exist (expected UTF-8 text, one sentence per line)"
        )
    sentences, blank = read_sentence_file(path)
    if not sentences:
        raise DataError(f"fit sentence file {path} has no sentences ({len(blank)} blank lines)")
    result = FitSentences(sentences, "file", [path], [(path, n) for n in blank])
    if blank:
        shown = ", ".join(map(str, blank[:5])) + (", ..." if len(blank) > 5 else "")
        warnings.warn(
            f"{path}: left out {len(blank)} blank lines (lines {shown}); fitting on {len(sentences)} sentences",
            stacklevel=2,
        )
    return result

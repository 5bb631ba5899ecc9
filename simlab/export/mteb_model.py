"""``MtebEncoder``: a simlab encoder (+ pooling, + optional whitening) behind mteb's ``EncoderProtocol``.

Also ``local_sts_task``: an mteb STS task (e.g. C-MTEB's ``LCQMC``) whose data comes from the local
senteval_cn files instead of the Hugging Face hub, so mteb's STS evaluation runs offline.

>>> import mteb                                                                        # doctest: +SKIP
>>> from simlab.encode import load_encoder                                             # doctest: +SKIP
>>> model = MtebEncoder(load_encoder("e5-small"), pooling="first-last-avg")            # doctest: +SKIP
>>> task = local_sts_task("LCQMC", "test")                                             # doctest: +SKIP
>>> mteb.evaluate(model, task, cache=None).task_results[0].get_score()                  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
from mteb.models.abs_encoder import AbsEncoder
from mteb.models.model_meta import ModelMeta, ScoringFunction

from simlab.whitening.kernel import whiten


class MtebEncoder(AbsEncoder):
    """mteb model wrapper: ``encode`` = simlab pooling, then ``whitening`` (first ``k`` dims) if given.

    Without whitening the pooled vectors are returned as they are (mteb scores cosines, so normalising is
    irrelevant); with whitening they are (x − μ)W_k, L2-normalised, exactly as ``simlab eval`` scores them.
    """

    def __init__(self, encoder, pooling: str = "first-last-avg", whitening=None, k: int | None = None,
                 batch_size: int = 64, name: str | None = None, revision: str | None = None, **kwargs: Any):
        if pooling not in encoder.poolings:
            raise ValueError(f"pooling {pooling!r} is not available for {encoder.name} "
                             f"(available: {', '.join(encoder.poolings)})")
        self.model = encoder
        self.pooling = pooling
        self.whitening = whitening
        self.k = None if whitening is None else int(k or whitening.n_components_)
        self.batch_size = batch_size
        if whitening is not None and not 1 <= self.k <= whitening.n_components_:
            raise ValueError(f"k={k} is not available: the whitening keeps {whitening.n_components_} dimensions")
        label = name or f"simlab/{encoder.name.replace('/', '_')}-{pooling}" + (f"-whiten{self.k}" if whitening else "")
        self.mteb_model_meta = ModelMeta.create_empty({
            "name": label, "revision": revision or encoder.identity.split("@")[-1],
            "embed_dim": self.k or encoder.dim, "max_tokens": encoder.max_length, "similarity_fn_name": ScoringFunction.COSINE,
            "framework": ["PyTorch"], "use_instructions": bool(encoder.prefix)})

    def encode(self, inputs, *, task_metadata=None, hf_split: str = "", hf_subset: str = "", prompt_type=None,
               **kwargs: Any) -> np.ndarray:
        """(N, k) float32 for mteb's DataLoader of ``{"text": [...]}`` batches (or a plain list of strings)."""
        texts = inputs if isinstance(inputs, list) else [t for batch in inputs for t in batch["text"]]
        X = self.model.encode_all(texts, poolings=[self.pooling],
                                  batch_size=kwargs.get("batch_size", self.batch_size))[self.pooling]
        if self.whitening is None:
            return X
        # y = (x − μ) W[:, :k], normalised: simlab.evaluate.runner.score_task's formula
        return whiten(X, self.whitening.mean_, self.whitening.kernel_[:, :self.k]).astype(np.float32)


def local_sts_task(task: str, split: str = "test", data_dir=None, limit: int | None = None):
    """mteb's C-MTEB STS task ``task`` (ATEC, BQ, LCQMC, PAWSX, STS-B / STSB, AFQMC) with ``split`` read from
    local files; ``split`` is mteb's name (``validation`` reads simlab's ``valid``: AFQMC's CLUE dev.txt).

    mteb's own loader would download ``C-MTEB/<task>`` from the hub; here ``load_data`` is replaced by simlab's
    reader of the same data, so only the evaluation code of mteb runs. ``limit`` keeps the first pairs (for fast
    tests).
    """
    import mteb
    from datasets import Dataset, DatasetDict

    from simlab.data import load_split

    ours = "STS-B" if task == "STSB" else task  # mteb's STSB is simlab's STS-B (simlab's "STSB" is STSBenchmark)
    cls = type(mteb.get_task("STSB" if ours == "STS-B" else ours))
    ps = load_split(ours, {"validation": "valid"}.get(split, split), data_dir)
    n = len(ps) if limit is None else min(int(limit), len(ps))
    data = {"sentence1": ps.sentences1[:n], "sentence2": ps.sentences2[:n], "score": ps.scores[:n].tolist()}

    class LocalTask(cls):  # same metadata, scoring and normalisation as mteb's task; only the data source differs
        def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
            if self.data_loaded:
                return
            self.dataset = DatasetDict({split: Dataset.from_dict(data)})
            self.data_loaded = True

    LocalTask.__name__ = f"Local{cls.__name__}"
    t = LocalTask()
    if t.metadata.eval_splits != [split]:  # mteb 2.x scores ATEC / BQ / STSB on validation AND test: only ours here
        t.metadata = t.metadata.model_copy(update={"eval_splits": [split]})
    return t

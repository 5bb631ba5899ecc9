"""Supervised fine-tuning on labelled Chinese pairs: the RoFormer-Sim-FT recipe (kexue.fm/archives/8541).

- :mod:`.data`: binary pairs + NLI, counted, never sharing a sentence with an STS test split;
- :mod:`.losses`: the 5-logit masked SBERT head, the post's three cosine losses, cosine-matrix distillation;
- :mod:`.model`: encoder + simlab pooling as a sentence-transformers model, and its save;
- :mod:`.trainer`: ``SentenceTransformerTrainer`` that checkpoints the loss head;
- :mod:`.recipe`: all of it on :mod:`simlab.train` (``simlab finetune``); :mod:`.card`: the model card.

Needs ``pip install 'simlab[finetune]'`` (sentence-transformers ≥ 6, datasets, accelerate).

>>> from simlab.finetune import FinetuneConfig, finetune
>>> record = finetune(FinetuneConfig(model="e5-small", out="e5-ft", max_steps=300))   # doctest: +SKIP
>>> record["training"]["global_step"]                                                # doctest: +SKIP
300
"""

from simlab.finetune.data import load_training_pairs
from simlab.finetune.recipe import OBJECTIVES, FinetuneConfig, finetune

__all__ = ["OBJECTIVES", "FinetuneConfig", "finetune", "load_training_pairs"]

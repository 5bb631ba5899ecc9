"""Vocabulary trimming: a model folder cut to the tokens a corpus uses (``simlab trim``, short name
``e5-small-zh``). See :mod:`simlab.trim.recipe` and docs/trim.md.

>>> from simlab.trim import TrimConfig
>>> TrimConfig(out="x").corpus
('news', 'sts', 'clue')
"""

from simlab.trim.recipe import TrimConfig, build_e5_small_zh, is_complete, trim

__all__ = ["TrimConfig", "build_e5_small_zh", "is_complete", "trim"]

"""CLUE / FewCLUE baselines in PyTorch after kexue.fm/archives/8739 (bojone/CLUE-bert4keras); docs/clue.md.

- :mod:`.common`: the shared recipe, task description, data-file lookup and readers' helpers;
- :mod:`.tasks`: one module per task (reader, framing, head kind, metric, submission writer);
- :mod:`.config`: :class:`~simlab.clue.config.ClueConfig`, every option of ``clue run`` with its range;
- :mod:`.recipes`: the ``short`` (AdamW, warmup, 30x head rate) and ``8739`` (AdaFactor) recipes' ``Trainer``;
- :mod:`.model`, :mod:`.batching`, :mod:`.selection`: model heads, batches, best-dev selection;
- :mod:`.data`, :mod:`.runner`, :mod:`.card`: :func:`~simlab.clue.runner.run_task` in stages (read data, open the
  run folder of :mod:`simlab.train.run`, build, train, predict, summary and card);
- :mod:`.submit`: submission formats, their checks and the zip; :mod:`.metrics`: CMRC2018 EM/F1, entity F1.

>>> from simlab.clue.tasks import get_task
>>> get_task("cmrc2018").recipe.grad_accum
2
"""

"""CLUE / FewCLUE baselines in PyTorch after kexue.fm/archives/8739 (bojone/CLUE-bert4keras); docs/clue.md.

- :mod:`.common`: the shared recipe, task description, data-file lookup and readers' helpers;
- :mod:`.tasks`: one module per task (reader, framing, head kind, metric, submission writer);
- :mod:`.model`, :mod:`.batching`, :mod:`.selection`, :mod:`.runner`: model heads, batches, best-dev selection,
  and :func:`~simlab.clue.runner.run_task` on the ``simlab.train`` core;
- :mod:`.submit`: submission formats, their checks and the zip; :mod:`.metrics`: CMRC2018 EM/F1, entity F1.

>>> from simlab.clue.tasks import get_task
>>> get_task("cmrc2018").recipe.grad_accum
2
"""

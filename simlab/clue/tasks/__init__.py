"""Every CLUE / FewCLUE task simlab runs, one module each (the per-task scripts of bojone/CLUE-bert4keras).

>>> from simlab.clue.tasks import get_task
>>> get_task("wsc").name, get_task("afqmc").recipe.epochs
('cluewsc2020', 10)
"""

from __future__ import annotations

import importlib

from simlab.errors import BadInputError

_CLUE_MODULES = ("afqmc", "tnews", "iflytek", "cmnli", "ocnli", "wsc", "csl", "cmrc2018", "c3", "chid", "cluener")
ALIASES = {"wsc": "cluewsc2020", "cluewsc": "cluewsc2020", "bustm": "fewclue-bustm", "eprstmt": "fewclue-eprstmt",
           "cmrc": "cmrc2018", "cluener2020": "cluener"}


def all_tasks() -> dict:
    """``{name: ClueTask}``: the 11 CLUE tasks, then the 7 FewCLUE tasks."""
    tasks = {}
    for mod in _CLUE_MODULES:
        task = importlib.import_module(f"simlab.clue.tasks.{mod}").TASK
        tasks[task.name] = task
    from simlab.clue.tasks.fewclue import TASKS

    tasks.update({t.name: t for t in TASKS})
    return tasks


def get_task(name: str):
    """The task called ``name`` (or an alias such as ``wsc``); BadInputError listing the names otherwise."""
    tasks = all_tasks()
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in tasks:
        raise BadInputError(f"unknown CLUE task {name!r}; tasks: {', '.join(tasks)}")
    return tasks[key]

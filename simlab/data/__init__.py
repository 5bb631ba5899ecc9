"""STS task registry and loaders: Chinese ATEC/BQ/LCQMC/PAWSX/STS-B, English STS12-16/STSBenchmark/SICK-R.

Files come from the data folder (``--data-dir`` / ``$SIMLAB_DATA``, layout of shared/data, MANIFEST.md).

>>> from simlab.data import resolve_tasks, TASKS
>>> resolve_tasks("en")
['STS12', 'STS13', 'STS14', 'STS15', 'STS16', 'STSBenchmark', 'SICK-R']
>>> TASKS["SICK-R"].splits
('train', 'trial', 'test')
"""

from simlab.data.errors import BadLineError, DataNotFoundError
from simlab.data.fit import FIT_POLICIES, FitSentences, fit_sentences
from simlab.data.layout import describe_layout, split_files
from simlab.data.split import PairSplit
from simlab.data.sts import load_split, load_task
from simlab.data.tasks import ALIASES, GROUPS, TASKS, TaskSpec, get_task, resolve_tasks

__all__ = [
    "ALIASES",
    "BadLineError",
    "DataNotFoundError",
    "FIT_POLICIES",
    "FitSentences",
    "GROUPS",
    "PairSplit",
    "TASKS",
    "TaskSpec",
    "describe_layout",
    "fit_sentences",
    "get_task",
    "load_split",
    "load_task",
    "resolve_tasks",
    "split_files",
]

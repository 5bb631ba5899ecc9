"""One pipeline, two executors: the same per-shard functions run in this process or as Ray tasks.

>>> from simlab.distributed import make_executor
>>> ex = make_executor(None)                       # one process
>>> [r for _, r in ex.map(pow, [2, 3], shared=2)]
[4, 9]
"""

from simlab.distributed.executor import Executor, LocalExecutor, make_executor
from simlab.distributed.threads import pin_threads

__all__ = ["Executor", "LocalExecutor", "make_executor", "pin_threads"]

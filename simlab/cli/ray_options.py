"""The ``--ray [ADDRESS]`` / ``--workers`` / ``--threads`` options shared by the corpus-scale commands.

``--ray`` alone: a local Ray cluster on this machine; ``--ray ADDRESS``: an existing cluster (``auto``,
``HOST:PORT`` as printed by ``ray start --head``, or ``ray://HOST:10001``); no ``--ray``: this process.
"""

from __future__ import annotations

import re
from pathlib import Path

ADDRESS = re.compile(r"^(local|auto|ray://\S+|[\w.\-]+:\d+)$")


def add_ray_options(p, threads_help: str = "math threads per worker (Ray default 1; one process: all cores)") -> None:
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="run on Ray: alone = a local cluster on this machine; ADDRESS = an existing cluster "
                        "(auto, HOST:PORT, ray://HOST:10001). Without it everything runs in this process")
    p.add_argument("--workers", type=int, default=None,
                   help="Ray workers (default: every CPU of the cluster / --threads)")
    if not any(a.dest == "threads" for a in p._actions):
        p.add_argument("--threads", type=int, default=None, help=threads_help)


def executor_from_args(args):
    """The executor the options ask for (a context manager: leaving it shuts down a cluster it started)."""
    from simlab.distributed import make_executor
    from simlab.errors import BadInputError

    if args.ray is not None and not ADDRESS.match(args.ray):
        hint = " (that is a file: put --ray after the corpus files or write --ray=local)" if Path(args.ray).exists() \
            else ""
        raise BadInputError(f"--ray {args.ray!r} is not a cluster address (local, auto, HOST:PORT or "
                            f"ray://HOST:PORT){hint}")
    if args.workers is not None and args.workers < 1:
        raise BadInputError(f"--workers must be ≥ 1, got {args.workers}")
    if args.workers is not None and args.ray is None:
        raise BadInputError("--workers needs --ray (without it everything runs in this one process)")
    return make_executor(args.ray, threads=args.threads, workers=args.workers)

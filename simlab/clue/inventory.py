"""What ``simlab clue list`` prints: for every task and split, the file used, a fallback, or the missing path.

>>> from pathlib import Path
>>> rows = inventory(Path("/nonexistent"))
>>> rows[0]["task"], rows[0]["split"], rows[0]["status"]
('afqmc', 'train', 'missing')
"""

from __future__ import annotations

from pathlib import Path

from simlab.clue.common import find_files


def inventory(root: Path) -> list[dict]:
    """One row per (task, split): ``status`` is ``ok`` (first choice present), ``fallback`` (a later alternative,
    e.g. FewCLUE's file for a missing CLUE one) or ``missing``; ``path`` is the file(s) used or expected."""
    from simlab.clue.tasks import all_tasks

    rows = []
    for task in all_tasks().values():
        splits = [(s, alts, True) for s, alts in task.splits.items()]
        splits += [(t.name, t.alternatives, False) for t in task.tests]
        for split, alts, required in splits:
            files, i = find_files(root, alts)
            first = " + ".join(alts[0])
            if files is None:
                status, path = "missing", " or ".join(" + ".join(a) for a in alts)
            elif i == 0:
                status, path = "ok", " + ".join(str(Path(f).relative_to(root)) for f in files)
            else:
                status, path = "fallback", " + ".join(alts[i]) + f" (no {first})"
            rows.append({"task": task.name, "split": split, "status": status, "path": path, "required": required})
    return rows


def runnable(rows: list[dict]) -> dict[str, bool]:
    """``{task: True}`` when every required split (train, dev) of the task has a file."""
    out: dict[str, bool] = {}
    for r in rows:
        out[r["task"]] = out.get(r["task"], True) and (r["status"] != "missing" or not r["required"])
    return out

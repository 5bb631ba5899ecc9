"""Submission files in the formats the CLUE / FewCLUE leaderboards accept (spec §1.4), their checks, the zip.

| file                                                  | format                                              |
|-------------------------------------------------------|-----------------------------------------------------|
| afqmc, iflytek, csl, cmnli, ocnli_50k, tnews10/11,    | jsonl ``{"id": "<id>", "label": "<label string>"}``  |
| cluewsc10/11, c310/11 ``_predict.json``               | (c3: the option index as a string)                  |
| chid10/11 ``_predict.json``                           | one JSON dict ``{"#idiomNNNNNN#": <int 0..9>}``      |
| cmrc2018 ``_predict.json``                            | one JSON dict ``{"<question id>": "<answer text>"}`` |
| cluener ``_predict.json``                             | jsonl: the input record + ``label: {type: {entity: [[start, end]]}}`` |
| FewCLUE ``tnewsf``, ``iflytekf``, ``ocnlif``, ``cslf``, ``cluewscf``, ``bustm``, ``eprstmt`` | jsonl ``{"id": <id as in test.json>, "label": "<label>"}`` |

Writers follow bojone/CLUE-bert4keras: ``json.dumps`` per line for jsonl; ``indent=4, ensure_ascii=False`` for
the dict files. ``simlab clue submit RUNS... --out clue_submit.zip`` checks every file against its task before
zipping (files at the zip root, as the leaderboard wants).

>>> import json, tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "afqmc_predict.json"
>>> _ = write_jsonl(p, [{"id": "0", "label": "1"}]); p.read_text()
'{"id": "0", "label": "1"}\\n'
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from collections import Counter
from pathlib import Path

from simlab.errors import BadInputError, DataError, MissingFileError
from simlab.io import atomic_write, atomic_write_text

IDIOM_KEY = re.compile(r"^#idiom\d{6}#$")
DICT_TASKS = ("chid", "cmrc2018")  # one JSON object per file, keyed by the id


def write_jsonl(path: str | os.PathLike, rows: list[dict], ensure_ascii: bool = True) -> Path:
    """One ``json.dumps(row)`` per line, each ending in a newline; written atomically."""
    return atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=ensure_ascii) + "\n" for r in rows))


def write_dict(path: str | os.PathLike, mapping: dict) -> Path:
    """One JSON object, ``indent=4, ensure_ascii=False`` (bert4keras ``chid.py`` / ``cmrc2018.py``)."""
    return atomic_write_text(path, json.dumps(mapping, ensure_ascii=False, indent=4))


def submission_tasks() -> dict:
    """``{submission file name: (task, test name)}`` over every task."""
    from simlab.clue.tasks import all_tasks

    out = {}
    for task in all_tasks().values():
        for test in task.tests:
            if test.submission:
                out[test.submission] = (task, test.name)
    return out


def _jsonl(path: Path) -> list[tuple[int, dict]]:
    """(line number, row) of a jsonl submission; bad JSON, a non-object line or invalid UTF-8 is one error line
    naming file:line."""
    from simlab.clue.common import read_jsonl

    return list(read_jsonl(path))


def check_submission(path: str | os.PathLike) -> int:
    """Check a submission file against the format of its task (chosen by file name); returns its row count.

    DataError names the file and the first offending line or key.
    """
    path = Path(path)
    known = submission_tasks()
    if path.name not in known:
        raise BadInputError(f"{path}: not a CLUE/FewCLUE submission file name ({', '.join(sorted(known))})")
    task, _ = known[path.name]
    if task.name == "chid":
        return _check_dict(path, key_ok=IDIOM_KEY.match, value_ok=lambda v: type(v) is int and 0 <= v < 10,
                           what="#idiomNNNNNN# -> int 0..9")
    if task.name == "cmrc2018":
        return _check_dict(path, key_ok=lambda k: bool(k), value_ok=lambda v: isinstance(v, str),
                           what="question id -> answer string")
    rows = _jsonl(path)
    for lineno, row in rows:
        where = f"{path}:{lineno}"
        if task.kind == "ner":
            _check_cluener_row(row, where)
            continue
        if set(row) != {"id", "label"}:
            raise DataError(f"{where}: expected exactly the fields id, label; got {', '.join(sorted(row))}")
        if task.id_as_str and not isinstance(row["id"], str):
            raise DataError(f"{where}: id must be a string, got {type(row['id']).__name__}")
        labels = task.labels if task.kind == "classify" else tuple(str(i) for i in range(task.num_choices))
        if not isinstance(row["label"], str) or row["label"] not in labels:
            raise DataError(f"{where}: label {row['label']!r} is not one of the strings {labels[:6]}...")
    return len(rows)


def _check_dict(path: Path, key_ok, value_ok, what: str) -> int:
    from simlab.clue.common import read_json

    obj = read_json(path)
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected one JSON object ({what})")
    for k, v in obj.items():
        if not key_ok(k) or not value_ok(v):
            raise DataError(f"{path}: entry {k!r}: {v!r} does not match {what}")
    return len(obj)


def _check_cluener_row(row: dict, where: str) -> None:
    if not isinstance(row.get("text"), str) or not isinstance(row.get("label"), dict):
        raise DataError(f"{where}: a CLUENER row needs 'text' (string) and 'label' (object)")
    text = row["text"]
    for etype, entities in row["label"].items():
        if not isinstance(entities, dict):
            raise DataError(f"{where}: label[{etype!r}] must map entity text to spans")
        for entity, spans in entities.items():
            if not isinstance(spans, list):
                raise DataError(f"{where}: label[{etype!r}][{entity!r}] must be a list of [start, end] spans")
            for span in spans:
                ok = (isinstance(span, list) and len(span) == 2 and all(type(x) is int for x in span)
                      and 0 <= span[0] <= span[1] < len(text) and text[span[0]:span[1] + 1] == entity)
                if not ok:
                    raise DataError(f"{where}: span {span!r} of {etype}/{entity!r} is not [start, end] of that "
                                    "text (end inclusive)")


def submission_ids(path: str | os.PathLike, task) -> list:
    """The ids a submission file answers, in file order with duplicates kept: the keys of a dict file (CHID, CMRC;
    ``json.loads`` would silently keep one of two equal keys), else each row's ``id`` (its position when absent,
    as the CLUENER reader numbers rows without one)."""
    from simlab.clue.common import read_json

    if task.name in DICT_TASKS:
        pairs = read_json(path, object_pairs_hook=lambda kv: kv)
        return [k for k, _ in pairs] if isinstance(pairs, list) else []
    return [row.get("id", i) for i, (_, row) in enumerate(_jsonl(Path(path)))]


def compare_ids(path: Path, got: list, want: list, source: str) -> None:
    """DataError naming ``path`` unless ``got`` answers every id of ``want`` exactly once (ids compared as text)."""
    have, need = Counter(map(str, got)), Counter(map(str, want))
    over, under = have - need, need - have
    if not over and not under:
        return
    dup = [k for k in over if k in need]
    extra = [k for k in over if k not in need]
    parts = [f"{len(ids)} {what} (first: {', '.join(ids[:3])})" for ids, what in
             ((list(under), "test ids missing"), (dup, "ids duplicated"), (extra, "ids not in the test file"))
             if ids]
    raise DataError(f"{path}: {len(got)} predictions for the {len(want)} rows of {source}: {'; '.join(parts)}; "
                    "rerun `simlab clue run` to write it again")


def check_against_run(path: Path, rec: dict, summary: dict) -> None:
    """``path`` answers exactly the rows that ``metrics.json`` recorded for it and that its test file holds: the
    same count, and every test id once (the first ``--limit`` rows for a ``--limit`` run)."""
    task, test_name = submission_tasks()[rec["file"]]
    got = submission_ids(path, task)
    if len(got) != rec["rows"]:
        raise DataError(f"{path}: {len(got)} predictions, but metrics.json records {rec['rows']} rows for "
                        f"{rec['file']}; the file was cut or changed after the run")
    sources = [Path(f) for f in rec["source"]]
    for src in sources:
        if not src.is_file():
            raise MissingFileError(f"{src}: the test file {rec['file']} was predicted from is gone (named in "
                                   f"{Path(path).parent / 'metrics.json'}); its ids cannot be checked")
    examples = task.read(sources, test_name).examples
    limit = summary.get("limit")
    want = [ex.uid for ex in (examples[:limit] if isinstance(limit, int) else examples)]
    compare_ids(path, got, want, ", ".join(map(str, sources)))


def run_submissions(run_dir: str | os.PathLike) -> tuple[list[dict], dict]:
    """(the submission records, the whole summary) of a finished ``clue run`` folder's metrics.json; a record
    that is not what ``clue run`` writes is one error line naming metrics.json."""
    from simlab.clue.common import read_summary

    summary = read_summary(run_dir)
    meta = Path(run_dir) / "metrics.json"
    records = summary.get("submissions", [])
    known = submission_tasks()
    ok = isinstance(records, list) and all(
        isinstance(r, dict) and r.get("file") in known and isinstance(r.get("rows"), int)
        and isinstance(r.get("source"), list) and isinstance(r.get("test"), str) for r in records)
    if not ok:
        raise DataError(f"{meta}: 'submissions' is not the list `simlab clue run` writes (file, test, source, "
                        "rows); the file is damaged")
    return records, summary


def make_zip(run_dirs: list[str | os.PathLike], out: str | os.PathLike, allow_partial: bool = False) -> list[str]:
    """Check and zip the submission files of ``run_dirs`` into ``out`` (files at the root); returns the names.

    Each file must pass its format check and answer exactly the rows of its test file that metrics.json recorded
    (:func:`check_against_run`). Refuses runs made with ``--limit`` (partial test predictions) unless
    ``allow_partial``, and two runs that wrote the same file.
    """
    chosen: dict[str, Path] = {}
    for run_dir in run_dirs:
        records, summary = run_submissions(run_dir)
        for rec in records:
            path = Path(run_dir) / rec["file"]
            if not rec.get("complete", False) and not allow_partial:
                raise BadInputError(f"{path}: predictions of a --limit run ({rec.get('rows')} rows); pass "
                                    "--allow-partial to zip it anyway")
            if rec["file"] in chosen:
                raise BadInputError(f"{rec['file']} comes from two runs: {chosen[rec['file']].parent} and {run_dir}")
            if not path.is_file():
                raise MissingFileError(f"{path}: listed in metrics.json but missing")
            check_submission(path)
            check_against_run(path, rec, summary)
            chosen[rec["file"]] = path
    if not chosen:
        raise BadInputError("no submission files in the given runs (a task without its test file writes none)")

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, path in sorted(chosen.items()):
                zf.write(path, arcname=name)

    atomic_write(out, write)
    return sorted(chosen)

"""The run contract: one output-folder protocol that every simlab trainer (pretrain, finetune, clue, generate,
univae) uses, so each command fails cleanly, refuses what would damage a folder, and resumes after a kill.

``open_run`` is called once the recipe's options are checked and before anything heavy loads:

    run = open_run(out, kind="finetune", settings=settings_of(cfg), resume=cfg.resume,
                   reads=[model_folder], checkpoint_dir="checkpoints")
    trainer = build_trainer(...)                     # adds the checkpoint-completion callback (on_save)
    metrics = train.trainer.run(trainer, resume_from=run.resume_from())
    run.finish(summary, keep_checkpoints=cfg.keep_checkpoints)
    run.write_card("# title", "intro", {"Data": [...], "Held-out metrics": [...]})

``OUT/simlab_run.json`` records the kind, the settings that must not change on ``--resume``, where the checkpoints
live, the status (running / finished), and one record per invocation (command line, start time, machine). It is
written only after every check has passed, so a refused command changes nothing.

>>> from simlab.train.run import open_run                                    # doctest: +SKIP
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from simlab.config import differences
from simlab.errors import BadInputError, TrainingError
from simlab.io import atomic_write_json, atomic_write_text, read_json
from simlab.machine import describe, machine_info
from simlab.outdir import RUN_FILE, check_output_folder
from simlab.train.checkpoint import (
    checkpoints,
    last_complete_checkpoint,
    set_aside_incomplete,
    verify_checkpoint,
)

__all__ = ["RunFolder", "open_run", "read_record", "describe_interrupt", "command_line"]


def command_line(argv: list[str] | None = None) -> str:
    """The command as typed (``simlab ...`` when run through the console script or ``-m simlab.cli.main``)."""
    argv = list(sys.argv if argv is None else argv)
    if argv and (argv[0].endswith("simlab") or argv[0].endswith("simlab/cli/main.py") or argv[0] == "-m"):
        argv = ["simlab", *argv[1:]]
    return shlex.join(argv)


def read_record(out: str | os.PathLike) -> dict | None:
    """``OUT/simlab_run.json`` as a dict (None when absent); a damaged file is one error line naming it."""
    path = Path(out) / RUN_FILE
    if not path.is_file():
        return None
    record = read_json(path, "run record (move the folder aside or choose another --out)", TrainingError)
    if "kind" not in record:
        raise TrainingError(f"{path}: not a simlab run record (no 'kind')")
    return record


@dataclass
class RunFolder:
    """An opened run folder (see :func:`open_run`); holds the record and the time the process started it."""

    out: Path
    kind: str
    resume: bool
    record: dict
    checkpoint_dir: Path
    t0: float = field(default_factory=time.time)

    def resume_from(self, warn=None) -> Path | None:
        """The checkpoint to resume from: the newest complete one whose checksums hold (None without resume or
        when none exists). A damaged newest checkpoint is moved to ``.damaged-checkpoint-N`` with one warning line,
        and the previous complete one is used."""
        if not self.resume:
            return None
        warn = warn or (lambda msg: print(msg, file=sys.stderr, flush=True))
        set_aside_incomplete(self.checkpoint_dir)
        while (last := last_complete_checkpoint(self.checkpoint_dir)) is not None:
            problem = verify_checkpoint(last)
            if problem is None:
                return last
            dest = last.with_name(f".damaged-{last.name}")
            shutil.rmtree(dest, ignore_errors=True)
            last.rename(dest)
            warn(f"simlab: warning: {last} is damaged ({problem}); moved to {dest.name}, resuming from the "
                 "previous complete checkpoint")
        warn(f"simlab: no complete checkpoint in {self.checkpoint_dir}; starting from step 0")
        return None

    def save(self) -> None:
        atomic_write_json(self.out / RUN_FILE, self.record)

    def _close_invocation(self, status: str, summary: dict | None) -> None:
        summary = dict(summary or {})
        inv = self.record["invocations"][-1]
        inv["wall_seconds"] = round(time.time() - self.t0, 1)
        inv["ended"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        self.record.update(status=status, summary=summary,
                           wall_seconds_total=round(sum(i.get("wall_seconds", 0) for i in self.record["invocations"]), 1))
        if "global_step" in summary:
            self.record["final_step" if status == "finished" else "last_step"] = summary["global_step"]

    def pause(self, summary: dict | None = None) -> None:
        """Record this invocation (wall time, summary) and leave the run open for ``--resume``: a ``--minutes``
        budget stopped it before ``max_steps``. The checkpoints stay."""
        self._close_invocation("stopped", summary)
        self.save()

    def finish(self, summary: dict | None = None, keep_checkpoints: bool = False) -> None:
        """Mark the run finished (final step, wall time of this process, summary) and, unless kept, remove the
        checkpoint folders (they only served ``--resume``)."""
        self._close_invocation("finished", summary)
        self.record["checkpoints"] = "kept" if keep_checkpoints else "removed after the run finished"
        self.save()
        if not keep_checkpoints:
            for _, path, _ in checkpoints(self.checkpoint_dir):
                shutil.rmtree(path, ignore_errors=True)

    def card_lines(self) -> list[str]:
        """The "Run" and "Command" sections every card carries (from the record)."""
        rec, inv = self.record, self.record["invocations"]
        summ = rec.get("summary", {})
        lines = ["## Run", ""]
        for key, label in (("global_step", "steps"), ("tokens_seen", "tokens seen"), ("train_loss", "final train loss"),
                           ("precision", "precision")):
            if summ.get(key) is not None:
                lines.append(f"- {label}: {summ[key]}")
        lines.append(f"- wall time: {rec.get('wall_seconds_total', inv[-1].get('wall_seconds', '?'))} s over "
                     f"{len(inv)} invocation(s)")
        lines.append(f"- machine: {describe(inv[-1]['machine'])}")
        lines += ["", "## Command", ""]
        lines += [f"- `{i['command']}`" + (" (resume)" if i.get("resume") else "") for i in inv]
        return lines + [""]

    def write_card(self, title: str, intro: str, sections: dict[str, list[str] | str],
                   front_matter: dict | None = None) -> Path:
        """``OUT/README.md``: an optional YAML front matter (the Hub's model-card metadata: ``pipeline_tag``,
        ``tags``, ...), title, intro, the recipe's own sections, then "Run" and "Command" from the record."""
        lines = []
        if front_matter:
            lines.append("---")
            for key, value in front_matter.items():
                if isinstance(value, (list, tuple)):
                    lines += [f"{key}:"] + [f"- {v}" for v in value]
                else:
                    lines.append(f"{key}: {value}")
            lines += ["---", ""]
        lines += [title if title.startswith("#") else f"# {title}", "", intro, ""]
        for name, body in sections.items():
            lines += [f"## {name}", ""]
            lines += [body] if isinstance(body, str) else list(body)
            lines.append("")
        return atomic_write_text(self.out / "README.md", "\n".join(lines + self.card_lines()))


def open_run(out: str | os.PathLike, *, kind: str, settings: dict, resume: bool = False, reads=(),
             checkpoint_dir: str = ".", command: str | None = None, flag: str = "--out") -> RunFolder:
    """Check ``out`` for a ``kind`` run and open it; nothing is written unless every check passes.

    Refused (exit 2): ``out`` overlaps a folder in ``reads``; holds another kind's run or someone else's files;
    holds a run of this kind without ``resume``; ``resume`` with settings that differ (each one named, old -> new);
    ``resume`` of a finished run.
    """
    out = Path(out).expanduser()
    check_output_folder(out, kind=kind, reads=reads, flag=flag)
    record = read_record(out)
    ckpt_dir = out / checkpoint_dir
    if record is None:
        legacy = [p.name for _, p, _ in checkpoints(ckpt_dir)]
        if legacy and not resume:
            raise TrainingError(f"{out} already holds checkpoints ({legacy[-1]}); pass --resume to continue that "
                                f"run, or choose another {flag}")
        record = {"kind": kind, "settings": settings, "checkpoint_dir": checkpoint_dir, "status": "running",
                  "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "invocations": []}
    elif not resume:
        state = "a finished" if record.get("status") == "finished" else "an unfinished"
        raise TrainingError(f"{out} holds {state} {kind} run; "
                            + ("choose another " + flag if state == "a finished" else
                               f"pass --resume to continue it, or choose another {flag}"))
    else:
        if record.get("status") == "finished":
            raise TrainingError(f"{out} holds a finished {kind} run (step {record.get('final_step', '?')}): "
                                f"nothing to resume; choose another {flag} to train again")
        diff = differences(record.get("settings", {}), settings)
        if diff:
            raise BadInputError(f"--resume: settings differ from the run in {out}: {'; '.join(diff)}; rerun with "
                                f"the run's settings or choose another {flag}")
    record["invocations"].append({"command": command or command_line(), "resume": bool(resume),
                                  "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": machine_info()})
    record["status"] = "running"
    out.mkdir(parents=True, exist_ok=True)
    run = RunFolder(out=out, kind=kind, resume=resume, record=record, checkpoint_dir=ckpt_dir)
    run.save()
    return run


def describe_interrupt(out: str | os.PathLike) -> list[str]:
    """What Ctrl-C should say about the run in ``out``: its last complete checkpoint and the resume command."""
    try:
        record = read_record(out)
    except TrainingError:
        return []
    if record is None:
        return []
    last = last_complete_checkpoint(Path(out) / record.get("checkpoint_dir", "."))
    lines = [f"last complete checkpoint: {last}" if last else f"no complete checkpoint yet in {out}"]
    if last and record.get("invocations"):
        argv = shlex.split(record["invocations"][-1]["command"])
        if "--resume" not in argv:
            argv.append("--resume")
        lines.append(f"resume with: {shlex.join(argv)}")
    return lines


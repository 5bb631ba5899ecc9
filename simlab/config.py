"""Recipe configs: ranges declared on the dataclass fields, checked in one place, built from the CLI by field name.

Every recipe (pretrain, finetune, clue, generate, trim, ...) has one config dataclass. Its numeric and choice fields
carry their valid range with :func:`bounded`; :func:`check_config` checks them all before anything loads, so
``--batch-size 0`` or ``--lr -1`` is one ``simlab: error:`` line, never a silent default or a traceback;
:func:`config_from_args` builds the config from an ``argparse`` namespace by field name (argparse ``dest`` = field
name), instead of relaying keyword arguments through layers.

>>> from dataclasses import dataclass
>>> @dataclass
... class Demo:
...     batch_size: int = bounded(32, ge=1)
...     lr: float = bounded(2e-5, gt=0)
...     top_p: float | None = bounded(None, gt=0, le=1)
>>> check_config(Demo(batch_size=8))
>>> check_config(Demo(batch_size=0))
Traceback (most recent call last):
...
simlab.errors.BadInputError: --batch-size must be ≥ 1, got 0
>>> settings_of(Demo())
{'batch_size': 32, 'lr': 2e-05, 'top_p': None}
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from typing import Any

from simlab.errors import BadInputError

# fields that may differ between a run and its --resume (they do not change what is trained)
VOLATILE = ("resume", "minutes", "threads", "command", "keep_checkpoints", "log", "progress_stream")


def bounded(default: Any = dataclasses.MISSING, *, ge=None, gt=None, le=None, lt=None, choices=None,
            flag: str | None = None, help: str | None = None, default_factory=dataclasses.MISSING):
    """A dataclass field whose value must satisfy ``ge`` / ``gt`` / ``le`` / ``lt`` / ``choices`` (None passes:
    it means "the preset's default"). ``flag`` names the option in messages (default ``--field-name``).

    >>> f = bounded(3, ge=1); f.metadata["ge"], f.default
    (1, 3)
    """
    meta = {k: v for k, v in dict(ge=ge, gt=gt, le=le, lt=lt, choices=choices, flag=flag, help=help).items()
            if v is not None}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def flag_of(field: dataclasses.Field) -> str:
    """The option name a message uses for ``field``: its ``flag`` metadata or ``--`` + the name with dashes."""
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def _fmt(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def check_value(name: str, value, meta) -> None:
    """Check one value against a field's metadata; raises :class:`BadInputError` naming ``name``."""
    if value is None:
        return
    choices = meta.get("choices")
    if choices is not None:
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if v not in choices:
                raise BadInputError(f"{name} {v!r}: choose one of {', '.join(map(str, choices))}")
    if not any(k in meta for k in ("ge", "gt", "le", "lt")):
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadInputError(f"{name} must be a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise BadInputError(f"{name} must be a finite number, got {value}")
    for key, ok, word in (("ge", lambda a, b: a >= b, "≥"), ("gt", lambda a, b: a > b, ">"),
                          ("le", lambda a, b: a <= b, "≤"), ("lt", lambda a, b: a < b, "<")):
        if key in meta and not ok(value, meta[key]):
            raise BadInputError(f"{name} must be {word} {_fmt(meta[key])}, got {_fmt(value)}")


def check_config(cfg) -> None:
    """Check every :func:`bounded` field of the dataclass ``cfg``, then its own ``check()`` (cross-field rules)."""
    for f in dataclasses.fields(cfg):
        if f.metadata:
            check_value(flag_of(f), getattr(cfg, f.name), f.metadata)
    extra = getattr(cfg, "check", None)
    if callable(extra):
        extra()


def config_from_args(cls, args: argparse.Namespace | dict, **overrides):
    """``cls`` built by field name from an argparse namespace (attributes that are not fields are ignored; fields
    that are not attributes keep their defaults; ``overrides`` win), then checked with :func:`check_config`.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class C:
    ...     n: int = bounded(1, ge=1)
    >>> config_from_args(C, argparse.Namespace(n=4, unrelated=True))
    C(n=4)
    """
    source = vars(args) if isinstance(args, argparse.Namespace) else dict(args)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    kw = {k: v for k, v in source.items() if k in names}
    kw.update({k: v for k, v in overrides.items() if k in names})
    cfg = cls(**kw)
    check_config(cfg)
    return cfg


def settings_of(cfg, volatile=()) -> dict:
    """The JSON-able settings of ``cfg`` that must not change on ``--resume``: ``asdict`` without the
    :data:`VOLATILE` fields, the ``volatile`` argument and the class's ``VOLATILE`` class attribute."""
    skip = set(VOLATILE) | set(volatile) | set(getattr(type(cfg), "VOLATILE", ()))
    data = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in skip}
    return json.loads(json.dumps(data, default=str))


def differences(saved: dict, now: dict) -> list[str]:
    """``["lr 2e-05 -> 0.0001", ...]`` for each setting that differs (keys in either).

    >>> differences({"lr": 2e-5, "batch_size": 32}, {"lr": 1e-4, "batch_size": 32})
    ['lr 2e-05 -> 0.0001']
    """
    out = []
    for key in sorted(set(saved) | set(now)):
        a, b = saved.get(key, "(unset)"), now.get(key, "(unset)")
        if a != b:
            out.append(f"{key} {json.dumps(a, ensure_ascii=False)} -> {json.dumps(b, ensure_ascii=False)}")
    return out

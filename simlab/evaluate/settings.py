"""Whitening settings of the study (kexue.fm/archives/8321): a = none, b = full dimension, c = first k columns,
each optionally with the β/γ of kexue.fm/archives/9079 (ỹ = (x − βμ) U Λ^{-γ/2}; β = γ = 1 is plain whitening).

Syntax of one setting: ``none`` | ``full`` | ``K`` | ``k`` (= ``--k``), then optionally ``@bBETA``, ``@gGAMMA``
or ``@bBETAgGAMMA``: ``256@b0g0`` is 9079's rotation cut to 256 dimensions, ``full@b0.5g0.5`` the half-way
setting. Labels (table rows, grid cell keys) are the canonical spelling: ``full``, ``256``, ``256@b0g0``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from simlab.errors import BadInputError

_SETTING = re.compile(r"^(?P<base>[^@]+?)(?:@(?:b(?P<beta>[0-9.]+))?(?:g(?P<gamma>[0-9.]+))?)?$")


@dataclass(frozen=True)
class WhiteningSetting:
    """``label`` is what tables show: "none", "full" or the kept dimension k as text, plus "@bβgγ" when β/γ ≠ 1."""

    label: str
    k: int | None = None  # None with label "full" = all d columns
    beta: float = 1.0
    gamma: float = 1.0

    @property
    def enabled(self) -> bool:
        return self.label != "none"

    @property
    def params(self) -> tuple[float, float]:
        """(β, γ) of this setting."""
        return (self.beta, self.gamma)

    @property
    def base(self) -> str:
        """The label without its β/γ part: "none", "full" or k."""
        return self.label.split("@", 1)[0]

    def k_for(self, d: int, source: str = "") -> int | None:
        """Columns kept for dimension d (None = no whitening); k > d is a WhiteningError naming d, never a
        silently clamped run labelled with the k that was asked for."""
        if not self.enabled:
            return None
        if self.k is None:
            return d
        from simlab.whitening.model import check_k

        return check_k(self.k, d, source=source, context=f"whitening setting {self.label!r}: ")


def bg_suffix(beta: float, gamma: float) -> str:
    """``""`` for β = γ = 1, else ``"@b{β}g{γ}"`` (shortest float spelling)."""
    return "" if (beta, gamma) == (1.0, 1.0) else f"@b{beta:g}g{gamma:g}"


def with_beta_gamma(setting: WhiteningSetting, beta: float, gamma: float) -> WhiteningSetting:
    """The same none/full/k setting with other β/γ (``none`` stays ``none``)."""
    if not setting.enabled:
        return setting
    return WhiteningSetting(setting.base + bg_suffix(beta, gamma), setting.k, float(beta), float(gamma))


def _fraction(raw: str | None, name: str, spec: str) -> float:
    if raw is None:
        return 1.0
    try:
        v = float(raw)
    except ValueError:
        v = -1.0
    if not 0.0 <= v <= 1.0:
        raise BadInputError(f"bad whitening setting {spec!r}: {name} must be a number in [0, 1], got {raw!r}")
    return v


def parse_whiten(spec: str, default_k: int | None = None) -> list[WhiteningSetting]:
    """``"none,full,256,256@b0g0"`` → settings. ``"k"`` stands for ``default_k`` (the CLI's ``--k``).

    >>> [s.label for s in parse_whiten("none,full,256")]
    ['none', 'full', '256']
    >>> s = parse_whiten("256@b0.5g0")[0]
    >>> s.label, s.k, s.beta, s.gamma
    ('256@b0.5g0', 256, 0.5, 0.0)
    """
    out: list[WhiteningSetting] = []
    for raw in (p.strip().lower() for p in spec.split(",")):
        if not raw:
            continue
        m = _SETTING.match(raw)
        if m is None or (raw.endswith("@")):
            raise BadInputError(f"bad whitening setting {raw!r}: use none, full, a positive k, or 'k' with --k, "
                             f"optionally followed by @bBETA, @gGAMMA or @bBETAgGAMMA (e.g. 256@b0g0)")
        base = m["base"]
        beta, gamma = _fraction(m["beta"], "beta", raw), _fraction(m["gamma"], "gamma", raw)
        if base in ("none", "no", "0"):
            if "@" in raw:
                raise BadInputError(f"bad whitening setting {raw!r}: 'none' takes no β/γ")
            s = WhiteningSetting("none")
        elif base in ("full", "all", "-1"):
            s = WhiteningSetting("full")
        elif base == "k":
            if default_k is None:
                raise BadInputError("whitening setting 'k' needs --k N")
            s = WhiteningSetting(str(default_k), int(default_k))
        elif base.isdigit() and int(base) > 0:
            s = WhiteningSetting(str(int(base)), int(base))
        else:
            raise BadInputError(f"bad whitening setting {raw!r}: use none, full, a positive k, or 'k' with --k, "
                             f"optionally followed by @bBETA, @gGAMMA or @bBETAgGAMMA (e.g. 256@b0g0)")
        s = with_beta_gamma(s, beta, gamma)
        if s not in out:
            out.append(s)
    if not out:
        raise BadInputError(f"no whitening settings in {spec!r}")
    return out


def parse_grid_values(spec: str) -> list[float]:
    """``"0,0.5,1"`` → [0.0, 0.5, 1.0], each in [0, 1] (the β/γ sweep values of ``simlab grid --bg-sweep``)."""
    vals = []
    for raw in (p.strip() for p in spec.split(",")):
        if raw:
            vals.append(_fraction(raw, "each value", spec))
    if not vals:
        raise BadInputError(f"no values in {spec!r}")
    return sorted(set(vals))


def bg_sweep(settings: list[WhiteningSetting], values: list[float]) -> list[WhiteningSetting]:
    """Every enabled setting × every (β, γ) in ``values``² (the sweep of kexue.fm/archives/9079), deduplicated,
    the given settings first."""
    out = list(settings)
    for s in settings:
        if not s.enabled:
            continue
        for b in values:
            for g in values:
                t = with_beta_gamma(s, b, g)
                if t not in out:
                    out.append(t)
    return out


_SUFFIX = re.compile(r"@(?:b(?P<beta>[0-9.]+))?(?:g(?P<gamma>[0-9.]+))?$")


def split_bg_suffix(text: str) -> tuple[str, float | None, float | None]:
    """``"fit@b0g0"`` → ("fit", 0.0, 0.0); ``"w.safetensors"`` → ("w.safetensors", None, None).

    The ``--whiten`` value of ``simlab index build``: ``fit`` or a PATH, optionally with a β/γ suffix.

    >>> split_bg_suffix("fit@b0.5")
    ('fit', 0.5, None)
    """
    m = _SUFFIX.search(text)
    if m is None or m.group(0) == "@":
        return text, None, None
    beta = None if m["beta"] is None else _fraction(m["beta"], "beta", text)
    gamma = None if m["gamma"] is None else _fraction(m["gamma"], "gamma", text)
    return text[:m.start()], beta, gamma

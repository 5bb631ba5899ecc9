"""Whitening settings of the study (kexue.fm/archives/8321): a = none, b = full dimension, c = first k columns."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WhiteningSetting:
    """``label`` is what tables show: "none", "full" or the kept dimension k as text."""

    label: str
    k: int | None = None  # None with label "full" = all d columns

    @property
    def enabled(self) -> bool:
        return self.label != "none"

    def k_for(self, d: int) -> int | None:
        """Columns kept for dimension d (None = no whitening)."""
        if not self.enabled:
            return None
        return d if self.k is None else min(self.k, d)


def parse_whiten(spec: str, default_k: int | None = None) -> list[WhiteningSetting]:
    """``"none,full,256"`` → settings. ``"k"`` stands for ``default_k`` (the CLI's ``--k``).

    >>> [s.label for s in parse_whiten("none,full,256")]
    ['none', 'full', '256']
    """
    out: list[WhiteningSetting] = []
    for raw in (p.strip().lower() for p in spec.split(",")):
        if not raw:
            continue
        if raw in ("none", "no", "0"):
            s = WhiteningSetting("none")
        elif raw in ("full", "all", "-1"):
            s = WhiteningSetting("full")
        elif raw == "k":
            if default_k is None:
                raise ValueError("whitening setting 'k' needs --k N")
            s = WhiteningSetting(str(default_k), int(default_k))
        elif raw.isdigit() and int(raw) > 0:
            s = WhiteningSetting(raw, int(raw))
        else:
            raise ValueError(f"bad whitening setting {raw!r}: use none, full, a positive k, or 'k' with --k")
        if s not in out:
            out.append(s)
    if not out:
        raise ValueError(f"no whitening settings in {spec!r}")
    return out

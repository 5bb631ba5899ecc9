"""The grid plan: which models × tasks × poolings × whitening settings form the study, and each cell's key.

A *cell* is one result record: (model, task, pooling, whitening setting). Its key ``model|task|pooling|setting``
is stable across runs; everything else that changes a score (weights hash, max_length, fit_on, prefix, split)
lives in the run configuration (``grid.json``), which a rerun into the same folder must match.

>>> specs = parse_models("e5-small:all,minilm:en", default_tasks="zh")
>>> [(s.name, len(s.tasks)) for s in specs]
[('e5-small', 12), ('minilm', 7)]
>>> k_grid(32)
[8, 16, 24, 32]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from simlab.data import resolve_tasks
from simlab.encode.pooling import POOLINGS
from simlab.errors import BadInputError
from simlab.evaluate.settings import WhiteningSetting, bg_sweep, parse_whiten

SEP = "|"


@dataclass(frozen=True)
class ModelSpec:
    """One model of the grid: display ``name`` (used in tables and cell keys), ``source`` (short name, folder or
    hub id) and its task list."""

    name: str
    source: str
    tasks: tuple[str, ...]


@dataclass(frozen=True)
class Cell:
    model: str
    task: str
    pooling: str
    setting: str  # WhiteningSetting.label: "none", "full" or k as text, + "@bβgγ" for β/γ whitening

    @property
    def key(self) -> str:
        return SEP.join((self.model, self.task, self.pooling, self.setting))


@dataclass
class GridConfig:
    """Everything that defines a grid's cells and their values (recorded in ``DIR/grid.json``)."""

    models: list[ModelSpec]
    poolings: str = "all"  # "all" or a comma list
    whiten: str = "none,full,256"
    k_sweep: bool = False
    k_grid: tuple[int, ...] | None = None  # explicit k list for the sweep; None = :func:`k_grid` of each model's d
    bg_sweep: tuple[float, ...] | None = None  # β, γ values crossed with every --whiten setting (kexue.fm 9079)
    engine: str = "torch"  # resolved (never "auto"): simlab.encode.engines
    precision: str = "fp32"
    fit_on: str = "all"
    split: str | None = None  # None = each task's eval split (test; AFQMC valid)
    max_length: int | None = None  # None = the protocol's: each task's own (64; PAWSX 128), or the model's (cmteb)
    prefix: str | None = None  # None = the protocol's: none (study), the model's own prompt (cmteb)
    skip_bad_lines: bool = False
    protocol: str = "study"  # simlab.evaluate.protocol: study | cmteb

    def to_json(self, identities: dict[str, str] | None = None) -> dict:
        d = asdict(self)
        d["models"] = [{**asdict(m), "tasks": list(m.tasks),
                        **({"identity": identities[m.name]} if identities else {})} for m in self.models]
        d["k_grid"] = list(self.k_grid) if self.k_grid else None
        if self.bg_sweep is None:  # keeps grid.json of grids without a β/γ sweep as it was
            d.pop("bg_sweep")
        else:
            d["bg_sweep"] = list(self.bg_sweep)
        if (self.engine, self.precision) == ("torch", "fp32"):  # likewise for the exact torch/fp32 path
            d.pop("engine")
            d.pop("precision")
        if self.protocol == "study":  # and for the study protocol (every grid before --protocol existed)
            d.pop("protocol")
        return {"format": "simlab-grid-1", **d}

    def settings_for(self, d: int, model: str = "") -> list[WhiteningSetting]:
        """The whitening settings of a model of dimension ``d``: ``--whiten`` (× the β/γ sweep of
        kexue.fm/archives/9079 when ``bg_sweep`` is set), then the k-sweep (β = γ = 1), deduplicated.

        A k > d in ``--whiten`` or ``--k-grid`` is a WhiteningError naming d (checked here, before any cell
        runs); the default k-sweep stops at d by construction."""
        from simlab.whitening.model import check_k

        out = parse_whiten(self.whiten)
        for s in out:
            s.k_for(d, model)  # raises for k > d
        if self.bg_sweep:
            out = bg_sweep(out, list(self.bg_sweep))
        if self.k_sweep:
            ks = [check_k(k, d, "k", model, f"--k-grid {','.join(map(str, self.k_grid))}: ") for k in self.k_grid] \
                if self.k_grid else k_grid(d)
            out += [WhiteningSetting(str(k), k) for k in ks]
        seen: dict[str, WhiteningSetting] = {}
        for s in out:
            seen.setdefault(s.label, s)
        return list(seen.values())

    def poolings_for(self, available: tuple[str, ...]) -> tuple[list[str], list[str]]:
        """(poolings to run, requested poolings this model lacks) for a model supporting ``available``."""
        if self.poolings.strip().lower() == "all":
            return list(available), []
        wanted = parse_poolings(self.poolings)
        return [p for p in wanted if p in available], [p for p in wanted if p not in available]


def parse_poolings(spec: str) -> list[str]:
    """``"cls,first-last-avg"`` → list; unknown names are a BadInputError (a ValueError) naming them."""
    wanted = [p.strip() for p in spec.split(",") if p.strip()]
    bad = [p for p in wanted if p not in POOLINGS]
    if bad or not wanted:
        raise BadInputError(f"unknown pooling(s) {', '.join(bad) or repr(spec)}; choose from {', '.join(POOLINGS)} or 'all'")
    return list(dict.fromkeys(wanted))


def k_grid(d: int, start: int = 8) -> list[int]:
    """The k-sweep of arXiv 2103.15316 §4.4 (Fig. 1): steps of 8 up to 64, then steps of 32, and d itself."""
    if d < start:
        return [d]
    ks = set(range(start, min(d, 64) + 1, 8)) | set(range(64, d + 1, 32)) | {d}
    return sorted(k for k in ks if start <= k <= d)


def parse_models(spec: str, default_tasks: str = "all") -> list[ModelSpec]:
    """``"[ALIAS=]SOURCE[:TASKS],..."``; per-model TASKS join names with ``+`` (``minilm:STS12+SICK-R``).

    ``bert-base-chinese=/path/to/folder`` shows the folder under the display name ``bert-base-chinese``.
    """
    out: list[ModelSpec] = []
    for item in (x.strip() for x in spec.split(",")):
        if not item:
            raise BadInputError(f"empty model in --models {spec!r} (stray comma?)")
        name = None
        if "=" in item:
            name, item = (x.strip() for x in item.split("=", 1))
            if not name or not item:
                raise BadInputError(f"bad model entry {name!r}={item!r}: use ALIAS=SOURCE")
        tasks = default_tasks
        if ":" in item:
            item, tasks = item.rsplit(":", 1)
            if not tasks.strip():
                raise BadInputError(f"empty task list after ':' in model entry {item!r}")
            tasks = tasks.replace("+", ",")
        source = item.strip()
        if not source:
            raise BadInputError(f"empty model source in --models {spec!r}")
        ms = ModelSpec(name or source, source, tuple(resolve_tasks(tasks)))
        if any(m.name == ms.name for m in out):
            raise BadInputError(f"model {ms.name!r} appears twice in --models; give one an alias (ALIAS=SOURCE)")
        if SEP in ms.name:
            raise BadInputError(f"model name {ms.name!r} may not contain {SEP!r}")
        out.append(ms)
    return out


@dataclass
class ModelPlan:
    """One model's part of the grid once its dimension and poolings are known."""

    spec: ModelSpec
    dim: int
    poolings: list[str]
    settings: list[WhiteningSetting]
    unavailable: list[str] = field(default_factory=list)

    def cells(self, task: str) -> list[tuple[str, WhiteningSetting, Cell]]:
        return [(p, s, Cell(self.spec.name, task, p, s.label)) for p in self.poolings for s in self.settings]


def plan_model(config: GridConfig, spec: ModelSpec, dim: int, available: tuple[str, ...]) -> ModelPlan:
    poolings, missing = config.poolings_for(available)
    return ModelPlan(spec, dim, poolings, config.settings_for(dim, spec.name), missing)

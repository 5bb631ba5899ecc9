"""The study grid (kexue.fm/archives/8321): models × poolings × whitening settings × tasks, cached and resumable.

>>> from simlab.grid import GridConfig, parse_models, run_grid, write_report      # doctest: +SKIP
>>> cfg = GridConfig(parse_models("e5-small:all,minilm:en"), k_sweep=True)        # doctest: +SKIP
>>> res = run_grid(cfg, "results/grid")                                          # doctest: +SKIP
>>> write_report(res.records, "results/grid", config=res.config)                 # doctest: +SKIP
"""

from simlab.grid.cells import Cell, GridConfig, ModelSpec, k_grid, parse_models
from simlab.grid.report import write_report
from simlab.grid.run import GridResult, run_grid
from simlab.grid.store import CorruptResultsError, GridConfigError, ResultStore, load_records, read_results

__all__ = ["Cell", "CorruptResultsError", "GridConfig", "GridConfigError", "GridResult", "ModelSpec",
           "ResultStore", "k_grid", "load_records", "parse_models", "read_results", "run_grid", "write_report"]

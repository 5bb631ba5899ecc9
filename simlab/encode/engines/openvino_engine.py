"""The OpenVINO engine: ``openvino.convert_model`` of the pooling-heads graph (:mod:`.heads`) on the torch
module, saved as IR once per weights hash (:mod:`.store`), compiled for the CPU plugin.

- ``fp32``: ``INFERENCE_PRECISION_HINT=f32``. OpenVINO's default on CPUs with bf16 instructions is bf16, so
  true fp32 must be asked for.
- ``bf16``: ``INFERENCE_PRECISION_HINT=bf16``; refused (:func:`simlab.encode.engines.supported`) on CPUs without
  native bf16, where OpenVINO would silently run f32.
- ``int8``: NNCF post-training quantisation (``nncf.quantize``, ``ModelType.TRANSFORMER``: SmoothQuant + fast
  bias correction) calibrated on local non-test sentences (:mod:`.calibration`); the IR stores int8 weights.

The IR is saved with ``compress_to_fp16=False`` (``save_model`` would otherwise round fp32 weights to fp16).

>>> runner = OpenVinoRunner(model, True, "fp32", weights_id="minilm@3f2a")    # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np


def convert_ir(heads, path: Path):
    """``openvino.convert_model`` on the torch module with dynamic batch × tokens inputs; returns the ov.Model."""
    import openvino as ov
    import torch

    ids = torch.full((2, 8), 5, dtype=torch.int64)
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # tracer warnings from the HF model
        model = ov.convert_model(heads, example_input={"input_ids": ids, "attention_mask": mask})
    model.reshape({"input_ids": [-1, -1], "attention_mask": [-1, -1]})
    return model


class OpenVinoRunner:
    def __init__(self, model, has_pooler: bool, precision: str, *, weights_id: str, num_threads=None,
                 calibration=None):
        import openvino as ov
        import torch

        from simlab.encode.engines.heads import heads_module
        from simlab.encode.engines.store import exported

        if precision not in ("fp32", "bf16", "int8"):
            raise ValueError(f"openvino engine: unknown precision {precision!r}")
        self.precision = precision
        versions = {"openvino": ov.__version__.split("-")[0], "torch": torch.__version__.split("+")[0]}
        digest, batches = calibration if (precision == "int8" and calibration) else ("", None)
        if precision == "int8":
            import nncf

            versions["nncf"] = nncf.__version__
            if batches is None:
                raise ValueError("openvino int8 needs calibration batches")
        graph = "int8" if precision == "int8" else "fp32"  # bf16 is a compile-time hint on the fp32 IR

        def convert(folder: Path) -> None:
            ir = convert_ir(heads_module(model, has_pooler), folder)
            if precision == "int8":
                import nncf

                data = [{"input_ids": i, "attention_mask": m} for i, m in batches()]
                ir = nncf.quantize(ir, nncf.Dataset(data), model_type=nncf.ModelType.TRANSFORMER,
                                   subset_size=len(data))
            ov.save_model(ir, str(folder / "model.xml"), compress_to_fp16=False)

        self.folder = exported(weights_id, "openvino", graph, versions, convert, digest)
        config = {"INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
                  "PERFORMANCE_HINT": "LATENCY",
                  "INFERENCE_NUM_THREADS": int(num_threads or torch.get_num_threads())}
        self.compiled = ov.Core().compile_model(str(self.folder / "model.xml"), "CPU", config)
        self.request = self.compiled.create_infer_request()

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        res = self.request.infer({"input_ids": np.asarray(input_ids, dtype=np.int64),
                                  "attention_mask": np.asarray(attention_mask, dtype=np.int64)})
        return np.array(res[0], dtype=np.float32, copy=True)  # (B, H, D); the request reuses its buffer

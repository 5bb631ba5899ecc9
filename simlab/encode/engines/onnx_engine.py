"""The ONNX Runtime engine: the pooling-heads graph (:mod:`.heads`) exported with ``torch.onnx.export`` once per
weights hash (:mod:`.store`), run by ONNX Runtime's CPU provider.

- ``fp32``: the exported graph as it is, ORT graph optimisations on (``ORT_ENABLE_ALL``).
- ``int8``: ``onnxruntime.quantization.quantize_static`` in QDQ format on the MatMul/Gemm weights (int8,
  per channel) and their inputs (uint8), calibrated on local non-test sentences (:mod:`.calibration`).

>>> runner = OnnxRunner(model, True, "fp32", weights_id="minilm@3f2a")       # doctest: +SKIP
>>> runner.run(input_ids, attention_mask).shape                              # doctest: +SKIP
(64, 5, 384)
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

INPUTS = ("input_ids", "attention_mask")


def export_onnx(heads, path: Path) -> None:
    """``torch.onnx.export`` of the heads module with dynamic batch and sequence axes (opset 17)."""
    import torch

    ids = torch.full((2, 8), 5, dtype=torch.int64)  # dummy ids; 5 exists in every vocabulary simlab loads
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}, "heads": {0: "batch"}}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice and tracer warnings
        torch.onnx.export(heads, (ids, mask), str(path), input_names=list(INPUTS), output_names=["heads"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)


class _Reader:
    """onnxruntime's CalibrationDataReader over pre-tokenised batches."""

    def __init__(self, batches):
        self._it = iter(batches)

    def get_next(self):
        b = next(self._it, None)
        return None if b is None else {"input_ids": b[0], "attention_mask": b[1]}


def quantize_int8(src: Path, dst: Path, batches) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = dst.with_name("pre.onnx")
    quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
    quantize_static(str(pre), str(dst), _Reader(batches), quant_format=QuantFormat.QDQ, op_types_to_quantize=[
        "MatMul", "Gemm"], per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax)
    pre.unlink(missing_ok=True)


class OnnxRunner:
    def __init__(self, model, has_pooler: bool, precision: str, *, weights_id: str, num_threads=None,
                 calibration=None):
        import onnxruntime as ort
        import torch

        from simlab.encode.engines.heads import heads_module
        from simlab.encode.engines.store import exported

        if precision not in ("fp32", "int8"):
            raise ValueError(f"onnx engine: precision {precision!r} is not supported (fp32, int8)")
        self.precision = precision
        versions = {"onnxruntime": ort.__version__, "torch": torch.__version__.split("+")[0]}
        digest, batches = calibration if (precision == "int8" and calibration) else ("", None)
        if precision == "int8" and batches is None:
            raise ValueError("onnx int8 needs calibration batches")

        def convert(folder: Path) -> None:
            export_onnx(heads_module(model, has_pooler), folder / "model.onnx")
            if precision == "int8":
                quantize_int8(folder / "model.onnx", folder / "model_int8.onnx", batches())
                (folder / "model.onnx").unlink()
                (folder / "model.onnx.data").unlink(missing_ok=True)

        self.folder = exported(weights_id, "onnx", precision, versions, convert, digest)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = int(num_threads or torch.get_num_threads())
        opts.inter_op_num_threads = 1
        name = "model_int8.onnx" if precision == "int8" else "model.onnx"
        self.session = ort.InferenceSession(str(self.folder / name), opts, providers=["CPUExecutionProvider"])

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feed = {"input_ids": np.asarray(input_ids, dtype=np.int64),
                "attention_mask": np.asarray(attention_mask, dtype=np.int64)}
        return self.session.run(None, feed)[0]

"""Inference engines × precisions for :class:`simlab.encode.Encoder`: every pooling from one pass on each.

| engine     | how                                                                  | precisions           | extra |
|------------|----------------------------------------------------------------------|----------------------|-------|
| ``torch``  | the HF model in PyTorch (fp32 = the study's exact path)              | fp32, bf16, int8     | -     |
| ``onnx``   | ``torch.onnx.export`` of the pooling-heads graph, ONNX Runtime       | fp32, int8           | ``simlab[onnx]`` |
| ``openvino`` | ``openvino.convert_model`` of the same graph, OpenVINO CPU plugin  | fp32, bf16, int8     | ``simlab[openvino]`` |

``auto`` (engine or precision) resolves by :func:`resolve` from what is installed and what this CPU runs natively
(:mod:`simlab.encode.engines.auto`). Exported graphs are cached by weights hash (:mod:`.store`): converted once.

>>> resolve("torch", "fp32")
('torch', 'fp32')
"""

from __future__ import annotations

from simlab.encode.engines.auto import ENGINES, PRECISIONS, engine_installed, resolve, supported

__all__ = ["ENGINES", "PRECISIONS", "engine_installed", "make_runner", "resolve", "supported"]


def make_runner(model, has_pooler: bool, engine: str, precision: str, *, weights_id: str, num_threads=None,
                calibration=None):
    """A runner with ``run(input_ids, attention_mask) -> heads (B, H, D) float32`` (numpy in, numpy out)."""
    if engine == "torch":
        from simlab.encode.engines.torch_engine import TorchRunner

        return TorchRunner(model, has_pooler, precision)
    if engine == "onnx":
        from simlab.encode.engines.onnx_engine import OnnxRunner

        return OnnxRunner(model, has_pooler, precision, weights_id=weights_id, num_threads=num_threads,
                          calibration=calibration)
    if engine == "openvino":
        from simlab.encode.engines.openvino_engine import OpenVinoRunner

        return OpenVinoRunner(model, has_pooler, precision, weights_id=weights_id, num_threads=num_threads,
                              calibration=calibration)
    raise ValueError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)} or auto")

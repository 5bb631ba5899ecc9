"""The torch engine at reduced precision: bf16 under ``torch.autocast`` and int8 by dynamic quantisation.

(fp32 on torch is :class:`simlab.encode.Encoder`'s own exact path, the study's numbers; it never comes here.)

- ``bf16``: the forward pass under ``torch.autocast("cpu", dtype=torch.bfloat16)`` (matmuls in bf16, reductions
  and LayerNorm in fp32), the configuration sentence-transformers users get with ``torch.autocast``.
- ``int8``: ``torch.ao.quantization.quantize_dynamic`` on every ``nn.Linear`` (int8 weights, activations quantised
  per batch), applied to a copy, so the fp32 model stays intact for export.

>>> runner = TorchRunner(model, has_pooler=True, precision="bf16")             # doctest: +SKIP
>>> heads = runner.run(input_ids, attention_mask)                              # doctest: +SKIP
"""

from __future__ import annotations

import copy
import warnings

import numpy as np


class TorchRunner:
    def __init__(self, model, has_pooler: bool, precision: str):
        import torch

        from simlab.encode.engines.heads import heads_module

        if precision not in ("fp32", "bf16", "int8"):
            raise ValueError(f"torch engine: unknown precision {precision!r}")
        self.precision = precision
        if precision == "int8":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notice
                model = torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear},
                                                               dtype=torch.qint8)
        self.heads = heads_module(model, has_pooler)

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        import contextlib

        import torch

        ids, mask = torch.from_numpy(np.asarray(input_ids, dtype=np.int64)), torch.from_numpy(
            np.asarray(attention_mask, dtype=np.int64))
        cast = torch.autocast("cpu", dtype=torch.bfloat16) if self.precision == "bf16" else contextlib.nullcontext()
        with torch.inference_mode(), cast:
            return self.heads(ids, mask).float().numpy()

"""Every pooling from ONE forward pass of an exported graph: the graph returns pooled "heads", not hidden states.

The poolings of :mod:`simlab.encode.pooling` need four (B, D) reductions of one pass (kexue.fm/archives/8321;
bojone/BERT-whitening ``get_encoder``), plus the pooler's dense layer when the checkpoint has one:

| head          | value                                   | used by                              |
|---------------|-----------------------------------------|--------------------------------------|
| cls           | last block, position 0                  | cls, pooler, pooler-tanh              |
| mean_first    | masked mean of block 1 (hidden[1])      | first-last-avg                       |
| mean_prev     | masked mean of block L−1 (hidden[-2])   | last2avg                             |
| mean_last     | masked mean of the last block           | last-avg, first-last-avg, last2avg   |
| pooler_dense  | pooler.dense(cls) (no tanh)             | pooler, pooler-tanh                  |

so the exported graph's output is one (B, H, D) tensor (H = 4 or 5) instead of L+1 × (B, T, D) hidden states,
and the poolings are sums of heads (:func:`poolings_from_heads`), exactly as :func:`simlab.encode.pooling.pool`.

>>> import numpy as np
>>> h = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)
>>> poolings_from_heads(h, ["first-last-avg"])["first-last-avg"][0].tolist()   # (mean_first + mean_last) / 2
[6.0, 7.0, 8.0]
"""

from __future__ import annotations

import numpy as np

HEADS = ("cls", "mean_first", "mean_prev", "mean_last", "pooler_dense")
HEADS_VERSION = "1"  # bump when the graph's outputs change: exported models are cached under it


def heads_module(model, has_pooler: bool):
    """A ``torch.nn.Module``: (input_ids (B, T) int64, attention_mask (B, T) int64) → heads (B, H, D) float."""
    import torch

    from simlab.encode.pooling import masked_mean

    class PoolingHeads(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model
            self.dense = model.pooler.dense if has_pooler else None

        def forward(self, input_ids, attention_mask):
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask,
                                output_hidden_states=True).hidden_states  # L+1 × (B, T, D)
            last = hidden[-1]
            heads = [last[:, 0], masked_mean(hidden[1], attention_mask), masked_mean(hidden[-2], attention_mask),
                     masked_mean(last, attention_mask)]
            if self.dense is not None:
                heads.append(self.dense(last[:, 0]))
            return torch.stack(heads, dim=1)  # (B, H, D)

    return PoolingHeads().eval()


def poolings_from_heads(heads: np.ndarray, names) -> dict[str, np.ndarray]:
    """{pooling: (B, D) float32} from heads (B, H, D), by the definitions of :mod:`simlab.encode.pooling`."""
    h = np.asarray(heads, dtype=np.float32)
    out = {}
    for name in names:
        if name == "cls":
            out[name] = h[:, 0]
        elif name == "last-avg":
            out[name] = h[:, 3]
        elif name == "first-last-avg":
            out[name] = (h[:, 1] + h[:, 3]) / 2
        elif name == "last2avg":
            out[name] = (h[:, 2] + h[:, 3]) / 2
        elif name in ("pooler", "pooler-tanh"):
            if h.shape[1] < 5:
                raise ValueError("this checkpoint has no pooler weights, so the 'pooler' pooling does not exist for it")
            out[name] = h[:, 4] if name == "pooler" else np.tanh(h[:, 4])
        else:
            raise ValueError(f"unknown pooling {name!r}")
    return out

"""Test helpers that ship with the package: tiny randomly initialised models saved as ordinary HF folders.

>>> from simlab.testing import make_tiny_bert
>>> folder = make_tiny_bert(tmp_path / "tiny")        # doctest: +SKIP
"""

from __future__ import annotations


def make_tiny_bert(folder, with_pooler=True, drop=(), seed=0):
    """A randomly initialised 3-layer BertModel + WordPiece tokenizer saved as an ordinary HF folder."""
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import BertConfig, BertModel, BertTokenizer

    words = "the a cat dog sat ran on mat fast slow big small red blue 猫 狗 坐 跑 在 上 大 小 红 蓝".split()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words + [f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz"]
    folder.mkdir(parents=True, exist_ok=True)
    BertTokenizer(vocab={w: i for i, w in enumerate(vocab)}).save_pretrained(folder)  # transformers 5: a dict
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=64)
    BertModel(cfg).save_pretrained(folder)
    weights = folder / "model.safetensors"
    sd = load_file(str(weights))
    drop = tuple(drop) + (() if with_pooler else ("pooler.",))
    sd = {k: v for k, v in sd.items() if not any(k.startswith(p) for p in drop)}
    save_file(sd, str(weights), metadata={"format": "pt"})
    return folder

"""Pretraining a Chinese RoFormer by masked language modelling (the unsupervised model the whitening study needs).

- :mod:`.corpus`: streaming readers (txt / jsonl / the ``zh-default`` sources), the STS-sentence filter,
  dedup and cutting at sentence punctuation, with every count reported.
- :mod:`.vocab`: a bert-base-chinese-style character vocabulary built with HF ``tokenizers``.
- :mod:`.packing`: tokenised texts packed into fixed-length sequences on disk (memory-mapped).
- :mod:`.mlm`: 15 % masking, 80/10/10, optional whole-word masking (jieba); the collator.
- :mod:`.presets`: ``zh-tiny`` / ``zh-small`` / ``zh-base`` RoFormer configurations.
- :mod:`.recipe`: the whole run, top to bottom (``simlab pretrain``).
"""

"""Pretraining a Chinese RoFormer by masked language modelling (the unsupervised model the whitening study needs).

- :mod:`.corpus`: streaming readers (txt / jsonl / the ``zh-default`` sources), the STS-sentence filter,
  dedup and cutting at sentence punctuation, with every count reported.
- :mod:`.vocab`: the character vocabulary (moved to :mod:`simlab.train.vocab`; names re-exported).
- :mod:`.packing`: tokenised texts packed into fixed-length sequences on disk (memory-mapped).
- :mod:`.mlm`: 15 % masking, 80/10/10, optional whole-word masking (jieba); the collator.
- :mod:`.presets`: ``zh-tiny`` / ``zh-small`` / ``zh-base`` RoFormer configurations.
- :mod:`.config`: :class:`~.config.PretrainConfig`, every option's range on its field; presets fill ``None``.
- :mod:`.prepare`: the data stages (pieces, tokenizer, packed sequences), each reused when its inputs match.
- :mod:`.recipe`: the whole run, top to bottom, on the run contract of :mod:`simlab.train.run`.
- :mod:`.card`: the model card's own sections; :mod:`.study` / :mod:`.study_report`: ``simlab study``.
"""

"""A bert-base-chinese-style vocabulary built from the corpus with HF ``tokenizers`` (``simlab pretrain``'s vocabulary
and ``simlab generate``'s scratch one: shared training code, so it lives here, below both trainers).

Every CJK character is its own token (BertNormalizer puts spaces around CJK characters); Latin letters and
digits get WordPiece pieces (``##`` continuations); everything is lower-cased. The alphabet keeps characters
seen at least ``min_freq`` times (most frequent first) within a size cap; the rest of the budget goes to
WordPiece merges. Special tokens come first: ``[PAD] [UNK] [CLS] [SEP] [MASK]`` then ``[unused1..N]``.
Saved as a standard fast-tokenizer folder (``tokenizer.json``, ``tokenizer_config.json``, and a ``vocab.txt`` in
bert-base-chinese's layout for BERT tooling); ``AutoTokenizer`` loads it with its exact pipeline:
NFKC -> BertNormalizer (lower-case, spaces around CJK) -> BertPreTokenizer -> WordPiece.

>>> tok = build_tokenizer(["今天天气很好 iPhone 12", "明天下雨"], vocab_size=60, min_freq=1)   # doctest: +SKIP
>>> tok.tokenize("今天iphone")                                                                # doctest: +SKIP
['今', '天', 'ip', '##hone']
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
MIN_VOCAB_SIZE = 100  # the specials, a few merges and ~85 characters: below that a vocabulary is mostly [UNK]


def char_counts(texts: Iterable[str]) -> Counter:
    """Character frequencies after the tokenizer's own normalisation (NFKC, lower-case)."""
    import unicodedata

    counts: Counter = Counter()
    for t in texts:
        counts.update(unicodedata.normalize("NFKC", t).lower())
    counts.pop(" ", None)
    return counts


def budgets(vocab_size: int) -> tuple[int, int]:
    """(``[unusedN]`` entries, entries reserved for WordPiece merges) for a vocabulary cap: CLUE's 99 and 800 at
    8,021 entries, scaled down for small caps (1/80 and 1/10 of the cap) so that the characters always get most of
    the vocabulary (a fixed 899 reserved entries left a 300-entry cap one character: 94 % ``[UNK]``).

    >>> budgets(8021), budgets(300)
    ((99, 800), (3, 30))
    """
    if vocab_size < MIN_VOCAB_SIZE:
        raise ValueError(f"vocab_size must be >= {MIN_VOCAB_SIZE}, got {vocab_size}")
    return min(99, vocab_size // 80), min(800, vocab_size // 10)


def build_tokenizer(texts: Iterable[str], vocab_size: int = 8021, min_freq: int = 3, n_unused: int | None = None,
                    merges_budget: int | None = None, counts: Counter | None = None):
    """Train the character + WordPiece vocabulary on ``texts`` (an iterable you can read twice, or pass
    ``counts``) and return a ``BertTokenizerFast``.

    ``vocab_size`` caps the whole vocabulary (CLUE's own vocabulary has 8,021 entries); ``merges_budget``
    entries are reserved for WordPiece merges of Latin letters and digits (default for both: :func:`budgets`).
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    auto_unused, auto_merges = budgets(vocab_size) if n_unused is None or merges_budget is None else (0, 0)
    n_unused = auto_unused if n_unused is None else n_unused
    merges_budget = auto_merges if merges_budget is None else merges_budget
    texts = list(texts) if counts is None and not isinstance(texts, (list, tuple)) else texts
    counts = counts if counts is not None else char_counts(texts)
    specials = SPECIAL + [f"[unused{i}]" for i in range(1, n_unused + 1)]
    frequent = [c for c, n in counts.most_common() if n >= min_freq and not c.isspace()]
    alphabet_cap = max(1, vocab_size - len(specials) - merges_budget)
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", continuing_subword_prefix="##", max_input_chars_per_word=100))
    tok.normalizer = normalizers.Sequence([  # NFKC first: full-width ，？！ become the ,?! the corpus was cut with
        normalizers.NFKC(),
        normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True),
    ])
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, min_frequency=min_freq, special_tokens=specials,
        limit_alphabet=min(len(frequent), alphabet_cap), initial_alphabet=frequent[:alphabet_cap],
        continuing_subword_prefix="##", show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    from tokenizers import processors

    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    # PreTrainedTokenizerFast keeps tokenizer.json's pipeline exactly. transformers 5's BertTokenizer(Fast) class
    # rebuilds its own BertNormalizer on load and would drop the NFKC step the corpus was normalised with, so
    # full-width ，？！ at inference would become [UNK] (measured: 2.8 % of the STS test characters).
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]",
                                   cls_token="[CLS]", mask_token="[MASK]")


def unk_share(tokenizer, sentences: Iterable[str]) -> dict:
    """Coverage: the share of characters (non-space) that land in ``[UNK]`` tokens.

    A character counts as unknown when the token covering it (by offsets) is ``[UNK]``.
    """
    unk_id = tokenizer.unk_token_id
    chars = unk = 0
    unk_chars: Counter = Counter()
    for s in sentences:
        enc = tokenizer(s, add_special_tokens=False, return_offsets_mapping=True)
        for tid, (a, b) in zip(enc["input_ids"], enc["offset_mapping"]):
            n = sum(1 for c in s[a:b] if not c.isspace())
            chars += n
            if tid == unk_id:
                unk += n
                unk_chars.update(c for c in s[a:b] if not c.isspace())
    total = sum(1 for s in sentences for c in s if not c.isspace()) if isinstance(sentences, list) else chars
    return {"chars": total, "unk_chars": unk, "unk_share": unk / max(total, 1),
            "top_unk": [c for c, _ in unk_chars.most_common(20)]}


def save_tokenizer(tokenizer, folder) -> None:
    """``save_pretrained`` plus a ``vocab.txt`` (one token a line, in id order) when the library wrote none:
    transformers 5 saves only ``tokenizer.json``; ``vocab.txt`` keeps the folder readable by BERT tooling that
    expects bert-base-chinese's layout."""
    from pathlib import Path

    folder = Path(folder)
    tokenizer.save_pretrained(folder)
    if not (folder / "vocab.txt").is_file():
        vocab = tokenizer.get_vocab()
        ordered = sorted(vocab, key=vocab.__getitem__)
        if [vocab[t] for t in ordered] == list(range(len(ordered))):  # dense ids only
            (folder / "vocab.txt").write_text("".join(t + "\n" for t in ordered), encoding="utf-8")

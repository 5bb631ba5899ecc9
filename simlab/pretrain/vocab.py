"""Moved to :mod:`simlab.train.vocab` (``simlab generate`` builds its scratch vocabulary with it too, and one trainer
package never imports another: tests/test_import_graph.py). These names stay importable from here for the
pretrain modules and tests that use them; new code imports ``simlab.train.vocab``."""

from simlab.train.vocab import (
    MIN_VOCAB_SIZE,
    SPECIAL,
    budgets,
    build_tokenizer,
    char_counts,
    save_tokenizer,
    unk_share,
)

__all__ = ["MIN_VOCAB_SIZE", "SPECIAL", "budgets", "build_tokenizer", "char_counts", "save_tokenizer", "unk_share"]

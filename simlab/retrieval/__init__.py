"""Retrieval over whitened sentence vectors: corpus files, faiss indexes, ranking metrics.

>>> from simlab.retrieval import Index, read_corpus                         # doctest: +SKIP
>>> index = Index.build(read_corpus("docs.txt"), encoder, whitening="fit", k=128)   # doctest: +SKIP
>>> index.save("my-index"); Index.load("my-index").search("查询", top=5)      # doctest: +SKIP
"""

from simlab.retrieval.backends import KINDS, exact_search, make_index, search_index
from simlab.retrieval.corpus import Corpus, read_corpus
from simlab.retrieval.index import Hit, Index, IndexMismatchError, check_compatible
from simlab.retrieval.metrics import drop_rows, mrr_at_k, recall_at_k
from simlab.retrieval.projection import Projection

__all__ = ["KINDS", "Corpus", "Hit", "Index", "IndexMismatchError", "Projection", "check_compatible", "drop_rows",
           "exact_search", "make_index", "mrr_at_k", "read_corpus", "recall_at_k", "search_index"]

"""Corpus-scale pipelines: encode → whiten → index, shard by shard, on any :mod:`simlab.distributed` executor.

>>> from simlab.distributed import make_executor
>>> from simlab.pipeline import encode_corpus, fit_whitening, build_index          # doctest: +SKIP
>>> with make_executor("local") as ex:                                             # doctest: +SKIP
...     encode_corpus(["docs.txt"], encoder=enc, pooling="last-avg", out="vecs", executor=ex)
...     w = fit_whitening("vecs", ex, n_components=128)
...     build_index("vecs", ex, whitening=w, kind="ivf").save("index")
"""

from simlab.pipeline.encode import encode_corpus
from simlab.pipeline.index import build_index
from simlab.pipeline.vectors_dir import VectorsDir
from simlab.pipeline.whiten import fit_whitening

__all__ = ["VectorsDir", "build_index", "encode_corpus", "fit_whitening"]

"""Take a simlab encoder + whitening into other tools: sentence-transformers folders, faiss transforms, mteb.

>>> from simlab.export import export_sentence_transformer, export_faiss_transform, MtebEncoder   # doctest: +SKIP
"""

from simlab.export.faiss_export import export_faiss_transform, linear_transform
from simlab.export.st_export import (
    build_modules,
    export_sentence_transformer,
    layer_weights,
    load_exported_config,
)

__all__ = ["MtebEncoder", "build_modules", "export_faiss_transform", "export_sentence_transformer", "layer_weights",
           "linear_transform", "load_exported_config"]


def __getattr__(name):  # mteb is optional and slow to import: load the adapter on first use
    if name == "MtebEncoder":
        from simlab.export.mteb_model import MtebEncoder

        return MtebEncoder
    raise AttributeError(name)

"""simlab: Chinese-first sentence similarity and the Transformer research around it.

Heavy parts (torch, transformers, faiss) are imported lazily by the submodules that need them.
"""

__version__ = "0.1.0"

"""``simlab serve``: an OpenAI-compatible embedding and search server where ``dimensions`` means whitening.

Modules (one concept each): :mod:`~simlab.serve.config` (ServeConfig, Limits), :mod:`~simlab.serve.schemas`
(pydantic bodies), :mod:`~simlab.serve.pipeline` (text -> vectors), :mod:`~simlab.serve.batching` (micro-batches),
:mod:`~simlab.serve.routes` / :mod:`~simlab.serve.app` (HTTP), :mod:`~simlab.serve.errors` (OpenAI's envelope),
:mod:`~simlab.serve.limits`, :mod:`~simlab.serve.auth`, :mod:`~simlab.serve.metrics`,
:mod:`~simlab.serve.lifecycle`, :mod:`~simlab.serve.startup`, :mod:`~simlab.serve.search`,
:mod:`~simlab.serve.tokens`, :mod:`~simlab.serve.provenance`, :mod:`~simlab.serve.playground`,
:mod:`~simlab.serve.server`. Needs ``pip install 'simlab[serve]'``; docs/serve.md.

>>> from simlab.serve.config import ServeConfig
>>> ServeConfig(model="minilm").port
8000
"""

"""The OpenAPI document of ``simlab serve``, independent of the model and options it runs with, as committed in
docs/serve-openapi.json (``simlab serve --write-openapi docs/serve-openapi.json``; tests/serve checks it is current).

>>> "/v1/search" in openapi_document()["paths"]
True
"""

from __future__ import annotations

import json
from pathlib import Path


def openapi_document() -> dict:
    from simlab.serve.app import create_app
    from simlab.serve.config import ServeConfig
    from simlab.serve.lifecycle import ServerState

    return create_app(ServerState(ServeConfig())).openapi()


def render() -> str:
    return json.dumps(openapi_document(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write_openapi(path) -> Path:
    from simlab.io import atomic_write

    text = render()
    return atomic_write(path, lambda p: Path(p).write_text(text, encoding="utf-8"))

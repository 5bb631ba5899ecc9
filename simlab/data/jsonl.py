"""One JSON-lines record, parsed with the file:line error every reader gives (CLUE tasks, the pretraining
corpus, the retrieval / scale corpus readers).

>>> json_object_line("a.jsonl", 3, '{"text": "你好"}')
{'text': '你好'}
"""

from __future__ import annotations

import json

from simlab.errors import DataError


def json_object_line(path, lineno: int, line: str) -> dict:
    """``line`` as a JSON object; DataError naming ``path:lineno`` on bad JSON or a non-object value."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
    return obj

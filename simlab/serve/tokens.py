"""Token-id input: LangChain's ``OpenAIEmbeddings`` and LlamaIndex send OpenAI *tiktoken* ids (cl100k_base),
not text. simlab decodes them back to text with tiktoken and re-tokenises with the model's own tokenizer (TEI
reads them as the model's ids instead, which embeds the wrong tokens: TEI #273, infinity #36 / #295).

tiktoken downloads its encoding file on first use; a server must work offline, so the file is used only when it
is already in tiktoken's cache (``TIKTOKEN_CACHE_DIR``, ``DATA_GYM_CACHE_DIR`` or ``$TMP/data-gym-cache``). Without
it, token ids get a 400 that names the client setting that sends text instead.

>>> TokenIds.reject("tiktoken is not installed").decode([[1, 2]])
Traceback (most recent call last):
...
simlab.serve.errors.APIError: this server cannot read token-id input (tiktoken is not installed). Send text instead: LangChain OpenAIEmbeddings(check_embedding_ctx_length=False), LlamaIndex / the openai client: pass strings
"""

from __future__ import annotations

import hashlib
import os
import tempfile

from simlab.serve.errors import APIError

ENCODING = "cl100k_base"
BLOB = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"  # tiktoken_ext.openai_public
CLIENT_HINT = ("Send text instead: LangChain OpenAIEmbeddings(check_embedding_ctx_length=False), LlamaIndex / the "
               "openai client: pass strings")


def tiktoken_cache_file() -> str:
    """Where tiktoken keeps cl100k_base (tiktoken.load.read_file_cached: sha1 of the URL in its cache folder)."""
    folder = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR") or os.path.join(
        tempfile.gettempdir(), "data-gym-cache")
    return os.path.join(folder, hashlib.sha1(BLOB.encode()).hexdigest())


class TokenIds:
    """How ``[int]`` / ``[[int]]`` inputs are read: ``encoding`` (a tiktoken Encoding) or a 400 with ``reason``."""

    def __init__(self, encoding=None, reason: str = ""):
        self.encoding, self.reason = encoding, reason

    @classmethod
    def reject(cls, reason: str) -> TokenIds:
        return cls(None, reason)

    @classmethod
    def from_mode(cls, mode: str = "auto") -> TokenIds:
        """``auto``: tiktoken when it and its cl100k_base file are here, else reject; ``tiktoken``: the same but
        a missing piece is an error at start-up; ``reject``: always 400."""
        if mode == "reject":
            return cls.reject("the server runs with --token-ids reject")
        try:
            import tiktoken
        except ImportError:
            if mode == "tiktoken":
                from simlab.errors import BadInputError

                raise BadInputError("--token-ids tiktoken needs the tiktoken package: pip install tiktoken") from None
            return cls.reject("tiktoken is not installed")
        path = tiktoken_cache_file()
        if not os.path.isfile(path):
            if mode == "tiktoken":
                from simlab.errors import MissingFileError

                raise MissingFileError(f"--token-ids tiktoken: the {ENCODING} file is not in tiktoken's cache ({path}); "
                                       f"this server does not download it")
            return cls.reject(f"tiktoken's {ENCODING} file is not available offline")
        return cls(tiktoken.get_encoding(ENCODING))

    def describe(self) -> str:
        return f"tiktoken ({self.encoding.name})" if self.encoding is not None else f"rejected: {self.reason}"

    def decode(self, rows: list[list[int]]) -> list[str]:
        """Text of each row of token ids (400 if ids cannot be read)."""
        if self.encoding is None:
            raise APIError(400, f"this server cannot read token-id input ({self.reason}). {CLIENT_HINT}",
                           param="input", code="token_ids_unsupported")
        n = self.encoding.n_vocab
        for i, row in enumerate(rows):
            bad = next((t for t in row if t >= n), None)
            if bad is not None:
                raise APIError(400, f"input {i}: token id {bad} is not in {self.encoding.name} (0 to {n - 1})",
                               param="input", code="invalid_token_id")
        try:
            return [self.encoding.decode(row) for row in rows]
        except (KeyError, ValueError) as exc:
            raise APIError(400, f"token ids that {self.encoding.name} cannot decode: {exc}", param="input",
                           code="invalid_token_id") from None

"""Request and response bodies (pydantic 2): OpenAI's embeddings contract plus simlab's named extensions.

OpenAI's fields (openai-python ``types/embedding_create_params.py``): ``input`` (a string, strings, token ids or
lists of token ids), ``model``, ``encoding_format`` (float | base64), ``dimensions``, ``user``. Extensions, marked
"extension" in the OpenAPI document: ``input_type`` (query | passage: the model's prefixes, e.g. e5's "query: "),
``whiten`` (false = the pooled vector), ``normalize`` (false = no L2 normalisation) and ``truncate`` (false = a 400
for inputs over the token limit instead of truncating them).

>>> EmbeddingRequest.model_validate({"input": "你好", "dimensions": 64}).dimensions
64
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

TokenId = Annotated[StrictInt, Field(ge=0)]
EmbeddingInput = StrictStr | list[StrictStr] | list[TokenId] | list[list[TokenId]]


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore")  # unknown fields are ignored, as OpenAI-compatible servers do


class EmbeddingRequest(_Request):
    """``POST /v1/embeddings``."""

    input: EmbeddingInput = Field(description="a string, a list of strings, a list of token ids (tiktoken "
                                              "cl100k_base) or a list of such lists; at most 2,048 inputs")
    model: StrictStr | None = Field(None, description="the served model's name (any name is accepted unless the "
                                                      "server runs with --strict-model)")
    encoding_format: Literal["float", "base64"] = Field(
        "float", description="float: a JSON array; base64: little-endian float32 bytes")
    dimensions: Annotated[StrictInt, Field(ge=1)] | None = Field(
        None, description="the number of whitened dimensions k: (x − μ)·W[:, :k], L2-normalised; needs a whitening "
                          "(GET /info lists the supported k)")
    user: StrictStr | None = Field(None, description="ignored (never logged)")
    input_type: Literal["query", "passage"] | None = Field(
        None, description="extension: the model's prefix for this role (e5: 'query: ' / 'passage: ')")
    whiten: StrictBool = Field(True, description="extension: false returns the pooled vector without whitening")
    normalize: StrictBool = Field(True, description="extension: false skips the final L2 normalisation")
    truncate: StrictBool = Field(True, description="extension: false answers 400 for an input over the token "
                                                   "limit instead of truncating it")


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class Usage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: Usage


class SearchRequest(_Request):
    """``POST /v1/search`` (extension): top-k hits of an index served with ``--index NAME=DIR``."""

    index: StrictStr = Field(description="the index name (GET /v1/indexes)")
    query: StrictStr | None = Field(None, description="one query (or use queries)")
    queries: list[StrictStr] | None = Field(None, description="several queries")
    top_k: Annotated[StrictInt, Field(ge=1, le=1000)] = 10
    min_score: float | None = Field(None, description="drop hits scoring below this cosine")
    return_text: StrictBool = True
    input_type: Literal["query", "passage"] | None = Field(
        None, description="a prefix role instead of the index's own prefix (default: the index's)")


class Hit(BaseModel):
    id: str
    text: str | None = None
    score: float
    rank: int


class SearchResult(BaseModel):
    object: Literal["search_result"] = "search_result"
    index: int
    query: str
    hits: list[Hit]


class SearchResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[SearchResult]
    model: str
    index: str
    usage: Usage


class SimilarityRequest(_Request):
    """``POST /v1/similarity`` (extension): cosine of sentence pairs, after the same pipeline as embeddings."""

    pairs: list[Annotated[list[StrictStr], Field(min_length=2, max_length=2)]] = Field(
        description="sentence pairs [[a, b], ...]")
    dimensions: Annotated[StrictInt, Field(ge=1)] | None = None
    whiten: StrictBool = True
    input_type: Literal["query", "passage"] | None = None


class Score(BaseModel):
    object: Literal["similarity"] = "similarity"
    index: int
    score: float


class SimilarityResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[Score]
    model: str
    usage: Usage


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "simlab"
    dimensions: int
    max_tokens: int


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """OpenAI's error envelope, used for every error."""

    error: ErrorBody

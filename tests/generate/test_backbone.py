"""The backbone keeps HF parity: MLM logits of transformers.RoFormerForMaskedLM, HF folder round trip."""

from __future__ import annotations

import pytest
import torch

from simlab.errors import ModelError
from simlab.generate.backbone import UniLMBackbone
from simlab.generate.masked_forward import roformer_forward
from simlab.nn.masks import additive_mask, unilm_mask

transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

TOL = 1e-5  # float32, 2 layers, hidden 48: logits O(1)


def hf_mlm(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = transformers.RoFormerConfig(vocab_size=97, hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
                                      intermediate_size=80, max_position_embeddings=64, **kw)
    model = transformers.RoFormerForMaskedLM(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or name.endswith("predictions.bias"):
                p.add_(0.1 * torch.randn_like(p))
            if "query.weight" in name or "key.weight" in name:
                p.mul_(5.0)
    return model


@pytest.mark.parametrize("kw", [{}, {"embedding_size": 32}], ids=["tied", "embedding_project"])
def test_mlm_logits_match_hf(tmp_path, kw):
    hf = hf_mlm(**kw)
    hf.save_pretrained(tmp_path / "hf")
    bb = UniLMBackbone.from_pretrained(tmp_path / "hf").eval()
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, 97, (2, 13), generator=g)
    seg = torch.tensor([[0] * 6 + [1] * 7] * 2)
    with torch.no_grad():
        ref = hf(input_ids=ids, token_type_ids=seg).logits
        h, _ = roformer_forward(bb.roformer, ids, seg)
        assert (bb.logits(h) - ref).abs().max() <= TOL * ref.abs().max().clamp_min(1)
        m = unilm_mask(seg)  # the UniLM mask as HF's 4D additive mask
        ref_m = hf(input_ids=ids, token_type_ids=seg, attention_mask=additive_mask(m)[:, None]).logits
        h, _ = roformer_forward(bb.roformer, ids, seg, masks=m)
        assert (bb.logits(h) - ref_m).abs().max() <= TOL * ref.abs().max().clamp_min(1)


def test_save_hf_round_trip(tmp_path):
    bb = UniLMBackbone.new(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                           intermediate_size=64).eval()
    with torch.no_grad():
        bb.cls.predictions.bias.add_(torch.randn(50))
    bb.save_hf(tmp_path / "m")
    hf = transformers.RoFormerForMaskedLM.from_pretrained(tmp_path / "m").eval()
    back = UniLMBackbone.from_pretrained(tmp_path / "m").eval()
    ids = torch.randint(1, 50, (2, 9))
    with torch.no_grad():
        h, _ = roformer_forward(bb.roformer, ids)
        ours = bb.logits(h)
        assert (hf(input_ids=ids).logits - ours).abs().max() <= TOL
        h2, _ = roformer_forward(back.roformer, ids)
        assert torch.equal(back.logits(h2), ours)


def test_errors(tmp_path):
    with pytest.raises(ModelError):
        UniLMBackbone.from_pretrained(tmp_path)
    torch.manual_seed(0)
    base = transformers.RoFormerModel(transformers.RoFormerConfig(
        vocab_size=50, hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64))
    base.save_pretrained(tmp_path / "nohead")
    with pytest.raises(ModelError, match="MLM head"):
        UniLMBackbone.from_pretrained(tmp_path / "nohead")


def test_generation_tokenizer_keeps_the_folders_nfkc_step(tmp_path):
    """Full-width ？（１２） must map to the vocabulary's ?(12), not [UNK] (transformers 5's BertTokenizer(Fast)
    rebuilds the normaliser from its config and drops NFKC; load_tokenizer reads the folder's own pipeline)."""
    import json

    from simlab.generate.folder import load_tokenizer
    from simlab.train.vocab import build_tokenizer

    tok = build_tokenizer(["今天好吗?(12)", "明天好吗?"] * 3, vocab_size=100, min_freq=1, n_unused=2, merges_budget=0)
    folder = tmp_path / "tok"
    tok.save_pretrained(str(folder))
    want = ["今", "天", "好", "吗", "?", "(", "12", ")"]
    assert load_tokenizer(folder).tokenize("今天好吗？（１２）") == want
    cfg = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    (folder / "tokenizer_config.json").write_text(json.dumps({**cfg, "tokenizer_class": "BertTokenizer"}), "utf-8")
    from transformers import AutoTokenizer

    assert "[UNK]" in AutoTokenizer.from_pretrained(str(folder)).tokenize("今天好吗？")  # the trap itself
    reloaded = load_tokenizer(folder)
    assert reloaded.tokenize("今天好吗？（１２）") == want
    assert reloaded("好吗")["input_ids"][0] == reloaded.cls_token_id == tok.cls_token_id

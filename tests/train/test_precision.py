"""bf16-master: bf16 forward/backward on copies of float32 master weights (simlab.train.precision).

Parity references: a model cast to bf16 (the forward and the products' gradients must be the same numbers), and
torch.optim.AdamW on float32 weights fed the same bf16-rounded gradients (the optimizer step must be the same).
"""

import copy

import pytest
import torch

from simlab.train import args as targs
from simlab.train.precision import BF16MasterCallback, bf16_compute, precision_callbacks


def _tiny_bert(seed=0, mlm=False):
    from transformers import BertConfig, BertForMaskedLM, BertModel

    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=32, attn_implementation="sdpa",
                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)  # same numbers both ways
    return (BertForMaskedLM(cfg) if mlm else BertModel(cfg, add_pooling_layer=False)).train()


def _batch():
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(5, 64, (4, 12), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    mask[3, 4:] = 0
    return {"input_ids": ids, "attention_mask": mask}


def _is_bf16(t: torch.Tensor) -> bool:
    return torch.equal(t, t.bfloat16().float())


def test_forward_and_backward_are_a_bf16_models():
    """Same outputs and same gradients (products: exactly; embedding tables: accumulated in float32 here, in bf16
    by the reference, so equal to the reference within bf16 rounding of the sums)."""
    model, batch = _tiny_bert(), _batch()
    ref = copy.deepcopy(model).to(torch.bfloat16)
    out_ref = ref(**batch).last_hidden_state
    out_ref.float().pow(2).mean().backward()
    with bf16_compute(model):
        out = model(**batch).last_hidden_state
    assert out.dtype == torch.float32 and all(p.dtype == torch.float32 for p in model.parameters())
    assert torch.equal(out, out_ref.float())
    out.pow(2).mean().backward()
    ref_grads = dict(ref.named_parameters())
    for name, p in model.named_parameters():
        g, g_ref = p.grad, ref_grads[name].grad.float()
        assert g.dtype == torch.float32
        if "embeddings" in name and "LayerNorm" not in name:
            torch.testing.assert_close(g, g_ref, rtol=2 ** -7, atol=2 ** -7 * g_ref.abs().max().item())
        else:
            assert torch.equal(g, g_ref), name
    assert "forward" not in model.__dict__  # removed: the model is float32 again
    assert model(**batch).last_hidden_state.dtype == torch.float32


def test_tied_output_layer_and_labels():
    """A tied MLM head gets the bf16 copy of the table; the loss comes back float32 and reaches the table."""
    model = _tiny_bert(mlm=True)
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    batch = _batch()
    labels = batch["input_ids"].masked_fill(torch.rand(batch["input_ids"].shape) < 0.7, -100)
    labels[0, 0] = batch["input_ids"][0, 0]
    with bf16_compute(model):
        out = model(**batch, labels=labels)
    assert out.loss.dtype == torch.float32 and out.logits.dtype == torch.float32
    out.loss.backward()
    table = model.bert.embeddings.word_embeddings.weight
    assert table.grad is not None and table.grad.dtype == torch.float32 and _is_bf16(table.grad)
    ref = copy.deepcopy(model).to(torch.bfloat16)
    torch.testing.assert_close(out.loss, ref(**batch, labels=labels).loss.float(), rtol=0, atol=0)


def test_a_module_shared_by_two_paths_gets_its_float32_weights_back():
    """finetune's pooler Dense *is* the backbone's pooler.dense (one module under two names): after the step every
    parameter is the float32 leaf it was, with its gradient, and the gradient is the bf16 model's."""
    torch.manual_seed(0)
    shared = torch.nn.Linear(4, 4)
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), shared, torch.nn.Tanh(), shared)
    masters = [p for p in model.parameters()]
    x = torch.randn(3, 4)
    ref = copy.deepcopy(model).to(torch.bfloat16)
    ref(x.to(torch.bfloat16)).float().sum().backward()
    with bf16_compute(model):
        y = model(x)
    y.sum().backward()
    assert [id(p) for p in model.parameters()] == [id(p) for p in masters]
    assert all(p.is_leaf and p.dtype == torch.float32 and p.grad is not None for p in model.parameters())
    for (name, p), q in zip(model.named_parameters(), ref.parameters()):
        assert torch.equal(p.grad, q.grad.float()), name


class _Rows(torch.utils.data.Dataset):
    def __init__(self, n=12):
        g = torch.Generator().manual_seed(2)
        self.ids = torch.randint(5, 64, (n, 10), generator=g)

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "attention_mask": torch.ones(10, dtype=torch.long)}


class _Wrap(torch.nn.Module):
    """Trainer needs a loss: mean square of the encoder's output."""

    def __init__(self):
        super().__init__()
        self.enc = _tiny_bert(seed=3)

    def forward(self, input_ids, attention_mask):
        h = self.enc(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return {"loss": h.pow(2).mean()}




def test_trainer_step_is_adamw_on_bf16_rounded_gradients(tmp_path):
    from transformers import Trainer, TrainerCallback

    model = _Wrap()
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    seen = []

    class Record(TrainerCallback):
        def on_pre_optimizer_step(self, args, state, control, model=None, **kw):
            seen.append({n: p.grad.detach().clone() for n, p in model.named_parameters()})

    args = targs.training_args(tmp_path, max_steps=3, batch_size=4, lr=1e-3, precision="bf16-master",
                               scheduler="constant", max_grad_norm=0.0, save_strategy="no", eval_strategy="no",
                               logging_steps=100)
    assert args.bf16 is False and args.simlab_precision == "bf16-master" and args.optim == "adamw_torch_fused"
    callbacks = precision_callbacks(args)
    assert [type(c) for c in callbacks] == [BF16MasterCallback]
    Trainer(model=model, args=args, train_dataset=_Rows(), callbacks=callbacks + [Record()]).train()
    assert len(seen) == 3 and "forward" not in model.enc.__dict__ and "forward" not in model.__dict__
    for grads in seen:  # the products' gradients are bf16 numbers held in float32
        assert all(_is_bf16(g) for n, g in grads.items() if g.ndim == 2 and "embeddings" not in n)
    ref = {n: p.clone().requires_grad_(True) for n, p in start.items()}
    opt = torch.optim.AdamW(list(ref.values()), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                            fused=True)
    for grads in seen:
        for n, p in ref.items():
            p.grad = grads[n]
        opt.step()
    for n, p in model.named_parameters():
        assert p.dtype == torch.float32
        assert torch.equal(p.detach(), ref[n].detach()), n
    assert any(not torch.equal(p.detach(), start[n]) for n, p in model.named_parameters())


def test_fp32_and_autocast_need_no_callback(tmp_path):
    for precision in ("fp32", "bf16"):
        args = targs.training_args(tmp_path, precision=precision, eval_strategy="no")
        assert args.simlab_precision == precision and precision_callbacks(args) == []


@pytest.mark.parametrize("kind, record, native, expected", [
    ("x86-amx", {"x86-amx": {"auto": "bf16-master"}}, True, "bf16-master"),
    ("x86-amx", {"x86-amx": {"auto": "fp32"}}, True, "fp32"),
    ("x86-avx2", {"x86-amx": {"auto": "bf16-master"}}, False, "fp32"),  # unmeasured kind
    ("x86-amx", {"x86-amx": {"auto": "bf16-master"}}, False, "fp32"),  # no native bf16 after all
])
def test_auto_reads_the_measured_record(monkeypatch, kind, record, native, expected):
    monkeypatch.setattr(targs, "measured_precisions", lambda: record)
    monkeypatch.setattr(targs, "cpu_kind", lambda: kind)
    monkeypatch.setattr(targs, "cpu_has_bf16", lambda: native)
    assert targs.resolve_precision("auto", "cpu") == expected


def test_the_shipped_record_is_well_formed():
    targs.measured_precisions.cache_clear()
    for kind, rec in targs.measured_precisions().items():
        assert rec["auto"] in targs.PRECISIONS and rec["auto"] != "auto", kind

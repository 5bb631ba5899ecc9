"""Pretraining throughput: simlab's trainer against a plain ``Trainer`` script, and bf16 against fp32.

Same model (a preset's RoFormerForMaskedLM, same seed), same packed sequences, same batch, in ONE process,
configurations interleaved and repeated so machine noise shows; tokens/s counts non-padding input tokens.

1. simlab (``build_trainer`` + ``MLMCollator`` + ``PackedDataset``) vs plain (``Trainer`` +
   ``DataCollatorForLanguageModeling`` over the same sequences), both bf16 autocast where the CPU has it.
   Target: ratio ≥ 1.0.
2. simlab bf16 vs simlab fp32: tokens/s (target ≥ 1.6×) and held-out masked accuracy after the same steps.

    SIMLAB_DATA=../shared/data .venv/bin/python benchmarks/bench_pretrain.py --steps 30 --repeat 2

Uses the packed data of ``~/.cache/simlab/models/roformer-zh-small/data`` when present (else ``--data DIR``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def _model(preset, vocab, pad, seed=0):
    import torch
    from transformers import RoFormerForMaskedLM

    torch.manual_seed(seed)
    return RoFormerForMaskedLM(preset.config(vocab, pad))


def run_simlab(data, tok, preset, steps, batch, precision, heldout):
    from simlab.pretrain.mlm import MLMCollator, masked_accuracy
    from simlab.pretrain.packing import PackedDataset
    from simlab.train.args import training_args
    from simlab.train.trainer import build_trainer

    with tempfile.TemporaryDirectory() as tmp:
        args = training_args(tmp, max_steps=steps, batch_size=batch, lr=preset.lr, precision=precision,
                             save_strategy="no", eval_strategy="no", logging_steps=steps)
        tr = build_trainer(_model(preset, len(tok), tok.pad_token_id), args, PackedDataset(data / "train"), None,
                           data_collator=MLMCollator(tok), progress_stream=open("/dev/null", "w"))
        t0 = time.perf_counter()
        tr.train()
        dt = time.perf_counter() - t0
        tokens = tr.state.num_input_tokens_seen
        acc = None
        if heldout is not None:
            tr.compute_metrics = lambda p: masked_accuracy(p.predictions, p.label_ids)
            tr.preprocess_logits_for_metrics = lambda logits, labels: logits.argmax(-1)
            acc = tr.evaluate(heldout)["eval_masked_accuracy"]
    return tokens / dt, acc


def run_plain(data, tok, preset, steps, batch, precision):
    """What a user writes with transformers alone: Trainer + DataCollatorForLanguageModeling."""
    import torch
    from transformers import DataCollatorForLanguageModeling, Trainer, TrainingArguments

    from simlab.pretrain.packing import PackedDataset

    ds = PackedDataset(data / "train")

    class Plain(torch.utils.data.Dataset):
        def __len__(self):
            return len(ds)

        def __getitem__(self, i):
            return {"input_ids": ds[i]["input_ids"].tolist()}

    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(tmp, max_steps=steps, per_device_train_batch_size=batch, learning_rate=preset.lr,
                                 bf16=precision == "bf16", use_cpu=True, save_strategy="no", report_to="none",
                                 logging_steps=steps, disable_tqdm=True, seed=0, data_seed=0,
                                 include_num_input_tokens_seen="non_padding")
        tr = Trainer(model=_model(preset, len(tok), tok.pad_token_id), args=args, train_dataset=Plain(),
                     data_collator=DataCollatorForLanguageModeling(tok, mlm_probability=0.15))
        t0 = time.perf_counter()
        tr.train()
        dt = time.perf_counter() - t0
        return tr.state.num_input_tokens_seen / dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="zh-small")
    ap.add_argument("--data", default=None, help="a pretrain output's data/ folder")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", default=None, help="also write the figures as JSON here")
    a = ap.parse_args()

    import torch
    from transformers import AutoTokenizer

    from simlab.paths import cache_dir
    from simlab.pretrain.mlm import MLMCollator
    from simlab.pretrain.presets import get_preset
    from simlab.pretrain.recipe import heldout_set
    from simlab.train.args import resolve_precision

    preset = get_preset(a.preset)
    data = Path(a.data) if a.data else cache_dir("models") / f"roformer-{a.preset}" / "data"
    tok = AutoTokenizer.from_pretrained(data / "tokenizer")
    batch = a.batch_size or preset.batch_size
    heldout = heldout_set(data, MLMCollator(tok), 256, 0)
    fast = resolve_precision("auto")
    print(f"preset {preset.name}, batch {batch} × {preset.max_len}, {a.steps} steps, torch threads "
          f"{torch.get_num_threads()}, auto precision {fast}")
    # the precision arm: bf16 forced against fp32, whatever auto picked (auto = fp32 on a CPU without AVX512-BF16)
    other = "simlab-fp32" if fast == "bf16" else "simlab-bf16"
    names = ["simlab", "plain", other]
    res: dict[str, list] = {n: [] for n in names}
    accs: dict[str, list] = {"bf16": [], "fp32": []}
    for r in range(a.repeat):
        for name in (names if r % 2 == 0 else names[::-1]):
            if name == "plain":
                tps = run_plain(data, tok, preset, a.steps, batch, fast)
            else:
                prec = {"simlab": fast, "simlab-fp32": "fp32", "simlab-bf16": "bf16"}[name]
                tps, acc = run_simlab(data, tok, preset, a.steps, batch, prec, heldout)
                accs[prec].append(acc)
            res[name].append(tps)
            print(f"  round {r + 1}: {name:12s} {tps:8.0f} tokens/s", flush=True)
    best = {k: max(v) for k, v in res.items()}
    bf16_arm = "simlab" if fast == "bf16" else "simlab-bf16"
    fp32_arm = "simlab" if fast == "fp32" else "simlab-fp32"
    summary = {
        "preset": preset.name, "steps": a.steps, "batch": batch, "repeat": a.repeat, "auto_precision": fast,
        "tokens_per_s": res, "simlab_over_plain": best["simlab"] / best["plain"],
        "bf16_over_fp32": best[bf16_arm] / best[fp32_arm],
        "heldout_acc_after_steps": {k: v[-1] for k, v in accs.items()},
    }
    print(f"simlab / plain Trainer: {summary['simlab_over_plain']:.3f} (target ≥ 1.0)")
    print(f"bf16 / fp32: {summary['bf16_over_fp32']:.3f} (target ≥ 1.6); held-out masked accuracy after "
          f"{a.steps} steps: bf16 {summary['heldout_acc_after_steps']['bf16']:.4f}, "
          f"fp32 {summary['heldout_acc_after_steps']['fp32']:.4f}")
    if a.out:
        Path(a.out).write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()

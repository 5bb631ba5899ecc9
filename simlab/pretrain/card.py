"""The model card (README.md) of a pretrained folder: data, counts, steps, tokens, wall time, machine,
held-out metrics, the data's terms and the exact command."""

from __future__ import annotations

from pathlib import Path

from simlab.io import atomic_write_text

TERMS = """- `corpus-zh/xwlb.txt` (CCTV 新闻联播 text via china-data/xwlb): source says study use only, CCTV reserves all
  rights: **research use only, no redistribution** of the text (MANIFEST §7.1).
- CLUE / FewCLUE files: no licence stated by CLUE; OCNLI CC BY-NC 2.0; CMRC2018 CC BY-SA 4.0; C3 non-commercial
  research only (MANIFEST §2.3, §7.1). Treat these weights as **research use only**."""


def _tokenizer_line(s: dict) -> str:
    t = s.get("tokenizer") or {}
    cov = t.get("sts_test_coverage")
    line = (f"{t.get('vocab_size', '?')} entries: every CJK character one token, WordPiece for Latin letters and "
            "digits, lower-cased (`BertTokenizerFast`, bert-base-chinese style).")
    if cov:
        line += (f" Coverage: {cov['unk_share']:.4%} of the {cov['chars']:,} characters of the 5 STS tasks' test "
                 f"sentences map to `[UNK]` (most frequent: {' '.join(cov['top_unk'][:10])}).")
    return line


def write_card(out: Path, s: dict) -> Path:
    """Write ``out/README.md`` from the run summary of :func:`simlab.pretrain.recipe.pretrain`."""
    cfg, p, m, c = s["config"], s["preset"], s["metrics"], s["corpus"]
    tot = c["total"]
    rows = "\n".join(
        f"| `{src}` | {v['texts']:,} | {v['sts_removed']:,} | {v['duplicates']:,} | {v['pieces']:,} | {v['chars']:,} |"
        for src, v in c["sources"].items())
    pk = s["packed"]
    acc = m.get("eval_masked_accuracy")
    text = f"""---
language: zh
library_name: transformers
pipeline_tag: fill-mask
tags: [roformer, simlab, mlm]
---
# {out.name}

A Chinese RoFormer (`RoFormerForMaskedLM`, RoPE) pretrained by masked language modelling with simlab
(`simlab pretrain`). Unsupervised: no labelled pairs were used. It loads with `AutoModel.from_pretrained` and
`simlab.encode.load_encoder`.

## Held-out metrics
- masked-token accuracy: **{acc if acc is None else f'{acc:.4f}'}**; MLM loss {m.get('eval_loss', float('nan')):.4f}
  ({pk['heldout']['sequences']:,} held-out sequences, masked once with a fixed seed; first {cfg['heldout_max']} used).

## Tokenizer
{_tokenizer_line(s)}

## Training
| | |
|---|---|
| preset | `{p['name']}`: {p['layers']} layers × {p['hidden']} hidden, {p['heads']} heads, FFN {p['intermediate']} |
| parameters | {s['parameters']:,} |
| init | {cfg['init'] or 'random (seed ' + str(cfg['seed']) + ')'} |
| steps | {m.get('global_step')} (resumed from step {m.get('resumed_from_step')}) |
| tokens seen | {m.get('tokens_seen', 0):,} (non-padding) |
| batch × length | {cfg['batch_size'] or p['batch_size']} × {cfg['max_len'] or p['max_len']} packed tokens |
| masking | {cfg['mlm_prob']:.0%} of tokens, 80/10/10{', whole-word (jieba)' if cfg['wwm'] else ''} |
| optimiser | AdamW, lr {cfg['lr'] or p['lr']}, warmup {p['warmup_ratio']:.0%}, linear decay, weight decay 0.01 |
| precision | {'bf16 autocast' if s['machine']['bf16'] else 'fp32'} on {s['machine']['device']} |
| wall time | {s['wall_seconds']:.0f} s for this command (training part {m.get('train_runtime', 0):.0f} s) |
| machine | {s['machine']['platform']}, {s['machine']['cpus']} CPUs, Python {s['machine']['python']} |

Curves: `train/curves.png`; every logged value: `train/metrics.jsonl`. `step0/` holds the same architecture at
step 0 (random init, same tokenizer), the control for the STS study.

## Data
Corpus `{' '.join(cfg['corpus'])}`: texts are NFKC-normalised, deduplicated, cut at sentence punctuation to
{(cfg['max_len'] or p['max_len']) - 2} characters, and every text or piece equal (after normalisation) to a sentence of any split of
ATEC, BQ, LCQMC, PAWSX or STS-B ({c['sts_sentences_filtered_against']:,} distinct sentences) is removed.

| source | texts | STS-removed | duplicates | pieces | chars |
|---|---:|---:|---:|---:|---:|
{rows}
| **total** | {tot['texts']:,} | {tot['sts_removed']:,} | {tot['duplicates']:,} | {tot['pieces']:,} | {tot['chars']:,} |

Held-out pieces: {c['heldout_pieces']:,} (chosen by hash). Packed: {pk['train']['sequences']:,} train sequences /
{pk['train']['tokens']:,} tokens; {pk['train']['truncated_texts']:,} texts truncated.
{('Missing sources: ' + ', '.join(c['missing_sources'])) if c.get('missing_sources') else ''}

## Terms of the data
{TERMS}

## Rebuild
The recipe is seeded; this command rebuilds the model:

```bash
{s['command'] or '(python API)'}
```
"""
    path = out / "README.md"
    atomic_write_text(path, text)
    return path

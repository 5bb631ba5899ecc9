"""The recipe's sections of a pretrained folder's model card (README.md): held-out metrics, tokenizer, training,
data counts and the data's terms. Steps, tokens, wall time, machine and every command come from the run contract's
card skeleton (:meth:`simlab.train.run.RunFolder.write_card`)."""

from __future__ import annotations

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


INTRO = ("A Chinese RoFormer (`RoFormerForMaskedLM`, RoPE) pretrained by masked language modelling with simlab "
         "(`simlab pretrain`). Unsupervised: no labelled pairs were used. It loads with `AutoModel.from_pretrained` "
         "and `simlab.encode.load_encoder`.")


def card_sections(s: dict) -> dict[str, list[str]]:
    """The recipe's own sections of ``README.md`` from the run summary of :func:`simlab.pretrain.recipe.pretrain`
    (the run contract's :meth:`~simlab.train.run.RunFolder.write_card` adds "Run" and "Command").

    >>> sorted(card_sections(summary))                     # doctest: +SKIP
    ['Data', 'Held-out metrics', 'Terms of the data', 'Tokenizer', 'Training']
    """
    cfg, p, m, pk = s["config"], s["preset"], s["metrics"], s["packed"]
    acc = m.get("eval_masked_accuracy")
    return {
        "Held-out metrics": [
            f"- masked-token accuracy: **{acc if acc is None else f'{acc:.4f}'}**; MLM loss "
            f"{m.get('eval_loss', float('nan')):.4f} ({pk['heldout']['sequences']:,} held-out sequences, masked once "
            f"with a fixed seed; first {cfg['heldout_max']} used)."],
        "Tokenizer": [_tokenizer_line(s)],
        "Training": _training_rows(s, cfg, p, m),
        "Data": _data_lines(s["corpus"], pk, cfg),
        "Terms of the data": [TERMS],
    }


def _training_rows(s: dict, cfg: dict, p: dict, m: dict) -> list[str]:
    return [
        "| | |", "|---|---|",
        f"| preset | `{p['name']}`: {p['layers']} layers × {p['hidden']} hidden, {p['heads']} heads, FFN "
        f"{p['intermediate']} |",
        f"| parameters | {s['parameters']:,} |",
        f"| init | {cfg['init'] or 'random (seed ' + str(cfg['seed']) + ')'} |",
        f"| steps | {m.get('global_step')} of {cfg['max_steps']} (this invocation resumed from step "
        f"{m.get('resumed_from_step')}) |",
        f"| batch × length | {cfg['batch_size']} × {cfg['max_len']} packed tokens |",
        f"| masking | {cfg['mlm_prob']:.0%} of tokens, 80/10/10{', whole-word (jieba)' if cfg['wwm'] else ''} |",
        f"| optimiser | AdamW, lr {cfg['lr']}, warmup {p['warmup_ratio']:.0%}, linear decay, weight decay 0.01 |",
        f"| precision | {'bf16 autocast' if s['precision'] == 'bf16' else 'fp32'} on {s['device']} |",
        "",
        "Curves: `train/curves.png`; every logged value: `train/metrics.jsonl`. `step0/` holds the same architecture "
        "at step 0 (random init, same tokenizer), the control for the STS study.",
    ]


def _data_lines(c: dict, pk: dict, cfg: dict) -> list[str]:
    tot = c["total"]
    rows = [f"| `{src}` | {v['texts']:,} | {v['sts_removed']:,} | {v['duplicates']:,} | {v['pieces']:,} | "
            f"{v['chars']:,} |" for src, v in c["sources"].items()]
    lines = [
        f"Corpus `{' '.join(cfg['corpus'])}`: texts are NFKC-normalised, deduplicated, cut at sentence punctuation to "
        f"{cfg['max_len'] - 2} characters, and every text or piece equal (after normalisation) to a sentence of any "
        f"split of ATEC, BQ, LCQMC, PAWSX or STS-B ({c['sts_sentences_filtered_against']:,} distinct sentences) is "
        "removed.", "",
        "| source | texts | STS-removed | duplicates | pieces | chars |", "|---|---:|---:|---:|---:|---:|", *rows,
        f"| **total** | {tot['texts']:,} | {tot['sts_removed']:,} | {tot['duplicates']:,} | {tot['pieces']:,} | "
        f"{tot['chars']:,} |", "",
        f"Held-out pieces: {c['heldout_pieces']:,} (chosen by hash). Packed: {pk['train']['sequences']:,} train "
        f"sequences / {pk['train']['tokens']:,} tokens; {pk['train']['truncated_texts']:,} texts truncated.",
    ]
    if c.get("missing_sources"):
        lines.append("Missing sources: " + ", ".join(c["missing_sources"]))
    return lines

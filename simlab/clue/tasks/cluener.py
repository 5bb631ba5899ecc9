"""CLUENER2020: fine-grained NER with GlobalPointer, one head per entity type (8739 ``cluener.py``).

- Reader: ``{"text", "label": {type: {entity: [[start, end], ...]}}}`` with inclusive ends; 10 types.
- Span <-> token mapping: a token starts an entity when its first character is the entity's first character,
  ends it when its last character is the entity's last (bert4keras ``rematch`` start/end mappings, here from the
  tokenizer's offsets). Entities whose bounds fall inside a token (possible with subword tokenizers, rare with
  BERT's character vocabulary) cannot be labelled; they are counted and still count as gold in the F1.
- GlobalPointer, multilabel categorical cross-entropy, decoding threshold 0; special tokens are masked.
- Dev metric: entity-level micro F1 over (type, start, end) character spans.
- Submission ``cluener_predict.json``: each test record plus ``label: {type: {entity: [[start, end]]}}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simlab.clue.common import ClueTask, Loaded, Recipe, TestFile, field_of, read_jsonl
from simlab.clue.metrics import entity_prf

TYPES = ("address", "book", "company", "game", "government", "movie", "name", "organization", "position", "scene")


@dataclass
class NerExample:
    uid: object
    text: str
    entities: set = field(default_factory=set)  # {(type index, start, end)}, end inclusive
    record: dict = field(default_factory=dict)
    label: object = None  # True when the record has gold labels


def read(files, split) -> Loaded:
    loaded = Loaded([])
    row = 0
    for path in files:
        for lineno, rec in read_jsonl(path):
            text = str(field_of(rec, "text", path, lineno))
            ents = set()
            for etype, entities in (rec.get("label") or {}).items():
                if etype not in TYPES:
                    loaded.skip(path, lineno, f"entity type {etype!r} not one of the 10 CLUENER types")
                    continue
                for name, spans in entities.items():
                    for s, e in spans:
                        if text[s:e + 1] != name:
                            loaded.skip(path, lineno, f"span [{s}, {e}] is not {name!r} in the text")
                            continue
                        ents.add((TYPES.index(etype), int(s), int(e)))
            labelled = "label" in rec
            loaded.examples.append(NerExample(rec.get("id", row), text, ents, rec, True if labelled else None))
            row += 1
    return loaded


def char_to_token_maps(offsets: list, special: list[int]) -> tuple[dict, dict]:
    """({first char: token}, {last char: token}) over non-special tokens (bert4keras start/end_mapping).

    >>> char_to_token_maps([(0, 0), (0, 2), (2, 3), (0, 0)], [1, 0, 0, 1])
    ({0: 1, 2: 2}, {1: 1, 2: 2})
    """
    starts, ends = {}, {}
    for i, ((s, e), sp) in enumerate(zip(offsets, special)):
        if sp or e <= s:
            continue
        starts.setdefault(s, i)
        ends[e - 1] = i
    return starts, ends


def featurize(examples, tokenizer, max_length, task=None) -> list[dict]:
    feats = []
    for ex in examples:
        enc = tokenizer(ex.text, truncation=True, max_length=max_length, return_offsets_mapping=True,
                        return_special_tokens_mask=True, return_token_type_ids=False)
        offsets = [tuple(o) for o in enc["offset_mapping"]]
        special = list(enc["special_tokens_mask"])
        starts, ends = char_to_token_maps(offsets, special)
        labels = [(t, starts[s], ends[e]) for t, s, e in sorted(ex.entities) if s in starts and e in ends]
        feats.append({"input_ids": list(enc["input_ids"]), "span_mask": [1 - x for x in special],
                      "labels": labels, "offsets": offsets, "unaligned": len(ex.entities) - len(labels)})
    return feats


def decode(examples, features, outputs, task=None) -> list[set]:
    """Per example the set of (type index, char start, char end) with score > 0."""
    preds = []
    for f, hits in zip(features, outputs):
        spans = set()
        for t, s, e in hits:
            cs, ce = f["offsets"][s][0], f["offsets"][e][1] - 1
            if ce >= cs:
                spans.add((t, cs, ce))
        preds.append(spans)
    return preds


def score(examples, predictions, task=None) -> dict:
    pairs = [(ex.entities, p) for ex, p in zip(examples, predictions) if ex.label]
    if not pairs:
        return {"n": 0}
    return entity_prf([g for g, _ in pairs], [p for _, p in pairs])


def write(path, examples, predictions, task=None) -> None:
    from simlab.clue.submit import write_jsonl

    rows = []
    for ex, spans in zip(examples, predictions):
        rec = dict(ex.record)
        rec["label"] = {}
        for t, s, e in sorted(spans, key=lambda x: (x[1], x[2], x[0])):
            rec["label"].setdefault(TYPES[t], {}).setdefault(ex.text[s:e + 1], []).append([s, e])
        rows.append(rec)
    write_jsonl(path, rows, ensure_ascii=False)


TASK = ClueTask(
    name="cluener", title="CLUENER2020 named entities (GlobalPointer, 10 types)", kind="ner",
    recipe=Recipe(max_length=256, batch_size=32, epochs=10),
    splits={"train": (("CLUE/cluener2020/train.json",),), "dev": (("CLUE/cluener2020/dev.json",),)},
    tests=(TestFile("test", (("CLUE/cluener2020/test.json",),), "cluener_predict.json"),),
    read=read, labels=TYPES, metric="f1", featurize=featurize, decode=decode, score=score, write=write,
)

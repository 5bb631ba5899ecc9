"""``FinetuneTrainer``: sentence-transformers' ``SentenceTransformerTrainer`` plus the two things it lacks here.

1. **The loss's own weights survive a kill.** The SBERT head (``MaskedSoftmaxLoss.classifier``) lives in the loss,
   not in the model, so the trainer's checkpoints omit it (its Adam moments are in ``optimizer.pt``, its values are
   not). They are written to ``loss_state.safetensors`` inside each checkpoint *before* simlab's completion
   marker (:class:`simlab.train.callbacks.CheckpointCompleteCallback`) and loaded back on resume.
2. **Tokens seen.** The collated batch holds ``sentence1_attention_mask`` etc., not ``input_ids``, so
   transformers cannot count tokens; they are counted here (non-padding), for simlab's tokens/s display.
3. **Length-grouped batches** (:mod:`simlab.finetune.sampler`) through sentence-transformers' documented hooks
   ``get_batch_sampler`` / ``get_multi_dataset_batch_sampler``: seeded per epoch, so a resumed run sees the same
   batches; with ``text_groups`` (MNRL) no batch holds two texts of one paraphrase group.

The training loop itself is transformers' (via sentence-transformers); nothing else is overridden.

>>> from simlab.train.trainer import build_trainer                                   # doctest: +SKIP
>>> trainer = build_trainer(model, args, ds, trainer_cls=FinetuneTrainer, loss=loss) # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from sentence_transformers import SentenceTransformerTrainer

__all__ = ["LOSS_STATE", "FinetuneTrainer", "loss_parameters"]

LOSS_STATE = "loss_state.safetensors"


def loss_parameters(loss, model) -> dict:
    """Trainable parameters of the loss module(s) that are not the model's: ``{name: Parameter}``."""
    import torch

    own = {id(p) for p in model.parameters()}
    modules = loss.items() if isinstance(loss, dict) else [("", loss)]
    out = {}
    for prefix, module in modules:
        for name, p in module.named_parameters():
            if id(p) in own or not p.requires_grad or any(q is p for q in out.values()):
                continue
            out[f"{prefix}.{name}" if prefix else name] = p
    assert all(isinstance(p, torch.nn.Parameter) for p in out.values())
    return out


class FinetuneTrainer(SentenceTransformerTrainer):
    """``SentenceTransformerTrainer`` that checkpoints the loss head, counts tokens and groups batches by length
    (see module docstring). ``group_by_length=False`` keeps sentence-transformers' random batches."""

    def __init__(self, *args, group_by_length: bool = True, text_groups: dict | None = None, **kwargs):
        self.group_by_length = group_by_length
        self.text_groups = text_groups
        super().__init__(*args, **kwargs)

    def get_batch_sampler(self, dataset, batch_size, drop_last, valid_label_columns=None, generator=None, seed=0):
        if not self.group_by_length:
            return super().get_batch_sampler(dataset, batch_size, drop_last, valid_label_columns, generator, seed)
        from simlab.finetune.sampler import LengthGroupedBatchSampler

        return LengthGroupedBatchSampler(dataset, batch_size, drop_last, valid_label_columns, generator, seed,
                                         groups=self.text_groups)

    def get_multi_dataset_batch_sampler(self, dataset, batch_samplers, generator=None, seed=0):
        from simlab.finetune.sampler import RoundRobinEpochSampler

        return RoundRobinEpochSampler(dataset=dataset, batch_samplers=batch_samplers, generator=generator, seed=seed)

    def _save_checkpoint(self, model, trial):
        super()._save_checkpoint(model, trial)
        params = loss_parameters(self.loss, self.model)
        if params and self.args.should_save:
            from safetensors.torch import save_file

            folder = Path(self._get_output_dir(trial=trial)) / f"checkpoint-{self.state.global_step}"
            save_file({k: p.detach().cpu().contiguous() for k, p in params.items()}, str(folder / LOSS_STATE))

    def _load_from_checkpoint(self, checkpoint_path, *args, **kwargs):
        super()._load_from_checkpoint(checkpoint_path, *args, **kwargs)
        params = loss_parameters(self.loss, self.model)
        if not params:
            return
        from safetensors.torch import load_file

        from simlab.errors import TrainingError

        path = Path(checkpoint_path) / LOSS_STATE
        if not path.is_file():
            raise TrainingError(f"{checkpoint_path} has no {LOSS_STATE}: the loss head ({', '.join(params)}) "
                                "cannot be restored; start a fresh run")
        state = load_file(str(path))
        if set(state) != set(params):
            raise TrainingError(f"{path} holds {sorted(state)}, this run's loss has {sorted(params)}")
        import torch

        with torch.no_grad():
            for name, p in params.items():
                p.copy_(state[name].to(p.device, p.dtype))

    def _track_num_input_tokens(self, inputs):
        if self.args.include_num_input_tokens_seen == "no":
            return
        tokens = sum(int(v.sum()) for k, v in inputs.items() if k.endswith("attention_mask"))
        self.state.num_input_tokens_seen += tokens

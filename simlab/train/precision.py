"""``--precision bf16-master``: bf16 forward and backward, float32 master weights, for training on CPUs with native
bf16 (AMX, AVX512-BF16) and on GPUs.

Why not autocast (``--precision bf16``): CPU autocast runs the matrix products in bf16 but keeps LayerNorm, GELU,
softmax and the residual adds in float32, casting the activations back and forth around every product; at
e5-small's shapes (batch 32 x 48 tokens) that made forward + backward no faster than float32 (issue 22). Here
every activation is bf16 from the embedding lookup to the model's output, so the backward's products run in bf16
too (docs/training-speed.md has the measurements).

How (mixed-precision training with master weights, Micikevicius et al. 2018, arXiv:1710.03740, in bf16, which
needs no loss scaling: Kalamkar et al. 2019, arXiv:1905.12322):

- the model's parameters stay float32. They are the master weights: the optimizer (any: AdamW, AdaFactor) updates
  them, checkpoints and saved models hold them, ``--resume`` restores them exactly;
- each forward runs on bf16 copies ``p.to(bfloat16)``, swapped into the parameter slots for the call. Autograd's backward of that
  cast turns each bf16 gradient into float32 in ``p.grad``, so the optimizer sees bf16-rounded gradients and keeps
  float32 state;
- embedding tables are not copied (250k x 384 for e5-small): the rows they return are cast, and the gradient of
  the table is accumulated in float32. A table shared with an output layer (a tied LM head) is copied;
- floating tensor inputs are cast to bf16 (``labels`` are left as they are); floating outputs are cast back to
  float32, so a loss outside the model (sentence-transformers' heads) and the
  logged loss are float32.

>>> import torch
>>> model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
>>> with bf16_compute(model):
...     y = model(torch.randn(2, 4))
>>> y.dtype, model[0].weight.dtype            # float32 out, float32 weights; bf16 inside
(torch.float32, torch.float32)
"""

from __future__ import annotations

import contextlib
import functools

import torch
from transformers import TrainerCallback

__all__ = ["BF16_MASTER", "BF16Compute", "BF16MasterCallback", "bf16_compute", "precision_callbacks"]

BF16_MASTER = "bf16-master"
ARGS_ATTR = "simlab_precision"  # set on TrainingArguments by simlab.train.args.training_args


def _to_float32(x):
    """Floating bf16 tensors inside ``x`` (tensor, dict / ModelOutput, list, tuple) cast to float32, in place for
    mappings (a ``ModelOutput`` keeps its type and attributes)."""
    if isinstance(x, torch.Tensor):
        return x.float() if x.dtype == torch.bfloat16 else x
    if isinstance(x, dict):
        for k in list(x.keys()):
            x[k] = _to_float32(x[k])
        return x
    if isinstance(x, (list, tuple)):
        items = [_to_float32(v) for v in x]
        return type(x)(*items) if hasattr(x, "_fields") else type(x)(items)
    return x


def _copied_names(module: torch.nn.Module) -> list[str]:
    """Names of the floating parameters that get a bf16 copy each forward: all but the tables that only
    ``nn.Embedding`` modules use (their looked-up rows are cast instead)."""
    owners: dict[int, list[bool]] = {}
    for sub in module.modules():
        for p in sub.parameters(recurse=False):
            owners.setdefault(id(p), []).append(isinstance(sub, torch.nn.Embedding))
    return [n for n, p in module.named_parameters() if p.is_floating_point() and not all(owners[id(p)])]


class BF16Compute:
    """Runs ``module``'s forward (and so its backward) in bf16 on copies of its float32 parameters; see the module
    docstring. :meth:`remove` restores the module exactly. The copies are swapped into the parameter slots for the call and
    the float32 masters put back after it, also when the forward raises.

    >>> import torch
    >>> lin = torch.nn.Linear(3, 2)
    >>> h = BF16Compute(lin)
    >>> lin(torch.ones(1, 3)).dtype, lin.weight.dtype
    (torch.float32, torch.float32)
    >>> h.remove()
    """

    def __init__(self, module: torch.nn.Module, dtype: torch.dtype = torch.bfloat16):
        self.module, self.dtype = module, dtype
        self.names = _copied_names(module)
        names = set(self.names)
        masters = {id(p) for n, p in module.named_parameters() if n in names}
        # every parameter slot holding a copied master, found once: modules() visits a module shared by two paths
        # once (finetune's pooler Dense *is* the backbone's pooler.dense), so each slot is swapped exactly once
        self._slots = [(sub, name, p) for sub in module.modules() for name, p in sub._parameters.items()
                       if p is not None and id(p) in masters]
        self._hooks = [m.register_forward_hook(self._cast_rows) for m in module.modules()
                       if isinstance(m, torch.nn.Embedding)]
        self._had_forward = "forward" in module.__dict__
        self._forward = module.forward  # bound method (or an earlier instance-level wrapper)

        def forward(*args, **kwargs):
            return self._run(*args, **kwargs)

        module.forward = functools.wraps(self._forward)(forward)  # keeps the signature Trainer inspects

    def _cast_rows(self, mod, args, out):
        return out.to(self.dtype) if out.is_floating_point() else out

    def _cast_input(self, x):
        return x.to(self.dtype) if isinstance(x, torch.Tensor) and x.is_floating_point() else x

    def _run(self, *args, **kwargs):
        copies = {id(p): p.to(self.dtype) for _, _, p in self._slots}  # autograd: d copy / d master = the cast back
        args = tuple(self._cast_input(a) for a in args)
        kwargs = {k: v if "label" in k else self._cast_input(v) for k, v in kwargs.items()}
        try:  # torch.func.functional_call left the bf16 copy in a shared module; the slots are restored here
            for sub, name, p in self._slots:
                sub._parameters[name] = copies[id(p)]
            out = self._forward(*args, **kwargs)
        finally:
            for sub, name, p in self._slots:
                sub._parameters[name] = p
        return _to_float32(out)

    def remove(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks = []
        if self._had_forward:
            self.module.forward = self._forward
        else:
            self.module.__dict__.pop("forward", None)


@contextlib.contextmanager
def bf16_compute(module: torch.nn.Module):
    """``with bf16_compute(model): loss = ...; loss.backward()``: :class:`BF16Compute` for the block."""
    handle = BF16Compute(module)
    try:
        yield handle
    finally:
        handle.remove()


class BF16MasterCallback(TrainerCallback):
    """Installs :class:`BF16Compute` on the trained model for each training step (all its micro-batches), from
    ``on_step_begin`` to ``on_step_end``: evaluations, saves and whatever runs after ``train()`` (or after an
    exception raised between steps) see the float32 model. Installing costs one pass over the module tree."""

    def __init__(self):
        self.handle = None

    def on_step_begin(self, args, state, control, model=None, **kw):
        if self.handle is None and model is not None:
            self.handle = BF16Compute(model)

    def on_step_end(self, args, state, control, **kw):
        if self.handle is not None:
            self.handle.remove()
            self.handle = None

    on_train_end = on_step_end


def precision_callbacks(args) -> list:
    """The callbacks that the precision chosen in :func:`simlab.train.args.training_args` needs (``[]`` for fp32 and
    autocast bf16, which ``TrainingArguments.bf16`` covers). ``build_trainer`` adds them to every trainer.

    >>> precision_callbacks(object())
    []
    """
    return [BF16MasterCallback()] if getattr(args, ARGS_ATTR, None) == BF16_MASTER else []

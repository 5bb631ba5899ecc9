"""UniVAE: one RoFormer as a multi-scale vMF-VAE through attention masks (kexue.fm/archives/8475, bojone/univae).

Input ``[x ; x]``: the encoder half ``[CLS] x [SEP]`` padded to a fixed ``enc_len`` (segment 0, so the
decoder's start position says nothing about the length), the decoder half ``[CLS] x [SEP]`` (segment 1).
The lower ``L - n`` layers use the *independent* mask (halves separated), the top ``n`` the *UniAE* mask
(the decoder also sees column 0). Before each of the top n layers the encoder's [CLS] state is replaced:

    μ_j = L2(Dense_j(h[:, 0]))        # (B, z_dim)
    z_j ~ vMF(μ_j, κ)                  # training; μ_j itself when encoding / evaluating
    h[:, 0] = Dense'_j(z_j)            # (B, C)

so the decoder's only view of x is z = [z_1; …; z_n] (n · z_dim numbers). With κ fixed the KL is the
constant n · KL(vMF_d(κ) ‖ U) (8404), and the loss is the decoder's cross-entropy alone: decoder token t+1
predicted from decoder position t. Settings of 8475: 12 layers, n = 4, z_dim = 16, κ = 32.

>>> from simlab.generate.backbone import UniLMBackbone
>>> bb = UniLMBackbone.new(vocab_size=30, hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
...                        intermediate_size=32)
>>> vae = UniVAE(bb, num_latent_layers=2, z_dim=4, kappa=16.0, enc_len=8)
>>> vae.latent_dim, vae.latent_layers
(8, [1, 2])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from simlab.generate.backbone import UniLMBackbone
from simlab.generate.cached_step import DecodeState, make_step, start
from simlab.generate.masked_forward import roformer_forward
from simlab.generate.seq2seq import pad_rows, seq2seq_loss
from simlab.generate.text import text_ids, univae_compact_row
from simlab.generate.vmf import VMFSampler, vmf_kl
from simlab.nn.masks import unilm_mask, univae_layer_masks

__all__ = ["UniVAE", "UniVAECollator", "split_blocks", "normalize_blocks"]


def split_blocks(z: torch.Tensor, n: int) -> torch.Tensor:
    """(B, n·d) -> (B, n, d)."""
    if z.shape[-1] % n:
        raise ValueError(f"latent of size {z.shape[-1]} does not split into {n} blocks")
    return z.reshape(*z.shape[:-1], n, z.shape[-1] // n)


def normalize_blocks(z: torch.Tensor, n: int) -> torch.Tensor:
    """Each block of (B, n·d) L2-normalised (a zero block stays zero); 8475 re-normalises before decoding."""
    return F.normalize(split_blocks(z, n), dim=-1).flatten(-2)


class UniVAECollator:
    """Sentences -> ``[x ; x]`` batches in the compact layout (:func:`simlab.generate.text.univae_compact_row`:
    the encoder half acts as if padded to ``enc_len`` = max_chars + 2) plus the encoder-only inputs."""

    def __init__(self, tokenizer, max_chars: int = 32):
        self.tok, self.max_chars, self.enc_len = tokenizer, max_chars, max_chars + 2

    def __call__(self, items) -> dict[str, torch.Tensor]:
        ids, segs, pos = [], [], []
        for item in items:
            text = item["text"] if isinstance(item, dict) else item
            r, s, p = univae_compact_row(self.tok, text_ids(self.tok, text, self.max_chars), self.enc_len)
            ids.append(r)
            segs.append(s)
            pos.append(p)
        return {"input_ids": pad_rows(ids, self.tok.pad_token_id), "token_type_ids": pad_rows(segs, 1),
                "attention_mask": pad_rows([[1] * len(r) for r in ids], 0), "position_ids": pad_rows(pos, 0)}

    def encoder_inputs(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """``[CLS] x [SEP]`` rows, right-padded: (ids, attention mask)."""
        rows = [[self.tok.cls_token_id] + text_ids(self.tok, t, self.max_chars) + [self.tok.sep_token_id]
                for t in texts]
        return pad_rows(rows, self.tok.pad_token_id), pad_rows([[1] * len(r) for r in rows], 0)


class UniVAE(nn.Module):
    """``forward(**batch) -> {"loss"}``; ``encode_ids`` (the μ's), ``decoder_logits`` (teacher-forced, any z),
    ``decode_start`` + ``decode_step`` for greedy / beam / sampling (:mod:`simlab.generate.decoding`)."""

    kind = "univae"

    def __init__(self, backbone: UniLMBackbone, num_latent_layers: int = 2, z_dim: int = 16, kappa: float = 32.0,
                 enc_len: int = 34):
        super().__init__()
        L = backbone.config.num_hidden_layers
        if not 0 < num_latent_layers <= L:
            raise ValueError(f"num_latent_layers must be in 1..{L}, got {num_latent_layers}")
        self.backbone = backbone
        C = backbone.config.hidden_size
        self.n, self.z_dim, self.kappa, self.enc_len = num_latent_layers, z_dim, float(kappa), enc_len
        self.start_layer = L - num_latent_layers
        self.down = nn.ModuleList([nn.Linear(C, z_dim) for _ in range(num_latent_layers)])
        self.up = nn.ModuleList([nn.Linear(z_dim, C) for _ in range(num_latent_layers)])
        for lin in [*self.down, *self.up]:  # Keras Dense's default (glorot uniform), as bojone/univae
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)
        self.vmf = VMFSampler(z_dim, kappa)

    # ---- bookkeeping ----------------------------------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        return self.n * self.z_dim

    @property
    def latent_layers(self) -> list[int]:
        return list(range(self.start_layer, self.start_layer + self.n))

    def kl_nats(self) -> float:
        """The constant KL(q(z|x) ‖ p(z)) of the whole code: n · KL(vMF_{z_dim}(κ) ‖ U)."""
        return self.n * vmf_kl(self.z_dim, self.kappa)

    def settings(self) -> dict:
        return {"num_latent_layers": self.n, "z_dim": self.z_dim, "kappa": self.kappa, "enc_len": self.enc_len}

    def extra_state(self) -> dict[str, torch.Tensor]:
        sd = {f"down.{k}": v for k, v in self.down.state_dict().items()}
        sd.update({f"up.{k}": v for k, v in self.up.state_dict().items()})
        return sd

    def load_extra_state(self, sd: dict[str, torch.Tensor]) -> None:
        self.down.load_state_dict({k[5:]: v for k, v in sd.items() if k.startswith("down.")})
        self.up.load_state_dict({k[3:]: v for k, v in sd.items() if k.startswith("up.")})

    def _device(self) -> torch.device:
        return self.up[0].weight.device

    # ---- the latent hook ------------------------------------------------------------------------------
    def _hook(self, z: torch.Tensor | None = None, sample: bool = False, collect: list | None = None):
        """Layer-input hook: at latent layer j, position 0 <- Dense'_j(z_j). ``z`` (B, n, d) overrides the
        encoder's μ (decoding, ablations); else z_j = vMF sample of μ_j when ``sample``, μ_j otherwise."""

        def hook(l: int, x: torch.Tensor) -> torch.Tensor:
            if l < self.start_layer:
                return x
            j = l - self.start_layer
            if z is not None:
                zj = z[:, j]
            else:
                mu = F.normalize(self.down[j](x[:, 0]), dim=-1)  # (B, d)
                if collect is not None:
                    collect.append(mu)
                zj = self.vmf(mu) if sample else mu
            return torch.cat([self.up[j](zj)[:, None], x[:, 1:]], dim=1)  # (B, T, C)

        return hook

    def _masks(self, token_type_ids, attention_mask):
        return univae_layer_masks(token_type_ids, self.backbone.config.num_hidden_layers, self.n, attention_mask)

    # ---- training ---------------------------------------------------------------------------------------
    def forward(self, input_ids, token_type_ids, attention_mask, position_ids=None, return_loss: bool = True,
                **_) -> dict[str, torch.Tensor]:
        """``position_ids`` (B, T): RoPE positions (the compact layout); None = 0..T-1 (the padded layout).
        ``return_loss``: its default tells transformers' Trainer that the model returns an eval loss."""
        h, _ = roformer_forward(self.backbone.roformer, input_ids, token_type_ids, positions=position_ids,
                                masks=self._masks(token_type_ids, attention_mask), hook=self._hook(sample=self.training))
        return {"loss": seq2seq_loss(self.backbone, h, input_ids, token_type_ids, attention_mask, from_segment=1)}

    # ---- sub-models -------------------------------------------------------------------------------------
    @torch.no_grad()
    def encode_ids(self, enc_ids: torch.Tensor, enc_mask: torch.Tensor) -> torch.Tensor:
        """μ = [μ_1; …; μ_n] (B, n·d) from the encoder half alone (it never sees the decoder)."""
        mus: list[torch.Tensor] = []
        seg = torch.zeros_like(enc_ids)
        roformer_forward(self.backbone.roformer, enc_ids, seg, masks=unilm_mask(seg, enc_mask),
                         hook=self._hook(collect=mus))
        return torch.cat(mus, dim=-1)

    @torch.no_grad()
    def encode(self, tokenizer, texts: list[str], batch_size: int = 128) -> torch.Tensor:
        """μ's of ``texts`` (N, n·d) on the CPU (eval mode)."""
        self.eval()
        col = UniVAECollator(tokenizer, self.enc_len - 2)
        out = []
        for i in range(0, len(texts), batch_size):
            ids, att = col.encoder_inputs(texts[i:i + batch_size])
            out.append(self.encode_ids(ids.to(self._device()), att.to(self._device())).cpu())
        return torch.cat(out) if out else torch.zeros(0, self.latent_dim)

    @torch.no_grad()
    def decoder_logits(self, batch: dict, z: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced (logits (N, V), targets (N,)) over the decoder targets of ``batch`` with the encoder's
        μ (``z`` None) or a given ``z`` (B, n·d) (shuffled, zeroed, ...), blocks used as given."""
        self.eval()
        dev = self._device()
        ids, seg, att = (batch[k].to(dev) for k in ("input_ids", "token_type_ids", "attention_mask"))
        pos = batch.get("position_ids")
        zz = None if z is None else split_blocks(z.to(dev), self.n)
        h, _ = roformer_forward(self.backbone.roformer, ids, seg, positions=None if pos is None else pos.to(dev),
                                masks=self._masks(seg, att), hook=self._hook(z=zz))
        tgt = (seg[:, 1:] == 1) & att[:, 1:].bool() & (seg[:, :-1] == 1)
        return self.backbone.logits(h[:, :-1][tgt]), ids[:, 1:][tgt]

    @torch.no_grad()
    def decode_start(self, z: torch.Tensor, cls_id: int) -> tuple[torch.Tensor, DecodeState]:
        """Decoder prompt for latents z (B, n·d): the encoder's column 0 (position 0) carrying z, the decoder's
        [CLS] at position ``enc_len``. Returns the first-token logits and the cache state."""
        self.eval()
        B, dev = z.shape[0], self._device()
        ids = torch.full((B, 2), cls_id, dtype=torch.long, device=dev)
        seg = torch.tensor([[0, 1]], device=dev).expand(B, 2)
        pos = torch.tensor([[0, self.enc_len]], device=dev).expand(B, 2)
        masks = self._masks(seg, None)  # independent: [[1,0],[0,1]]; UniAE: [[1,0],[1,1]]
        return start(self.backbone, ids, seg, masks=masks, positions=pos,
                     hook=self._hook(z=split_blocks(z.to(dev), self.n)))

    def decode_step(self):
        """The cached step: the decoder never sees column 0 in the independent layers."""
        return make_step(self.backbone, hide_first=range(self.start_layer))

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n latents from the prior: each block uniform on its sphere (normalised Gaussian, 8475)."""
        return normalize_blocks(torch.randn(n, self.latent_dim, generator=generator), self.n)

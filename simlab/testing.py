"""Test helpers that ship with the package: tiny randomly initialised models saved as ordinary HF folders, and
rounding-error bounds that tests use as tolerances instead of constants tuned on one machine.

The bounds are the standard deterministic ones (N. J. Higham, *Accuracy and Stability of Numerical Algorithms*,
2nd ed. 2002, §2.2 and §3.1): they hold for every summation order, blocking, FMA use and thread count, so a
test using them passes on any BLAS. They grow with the *conditioning* of what is compared: whitening
y = (x − μ)W multiplies the rounding of x by |W|, whose columns scale as 1/√λ; relative to ‖y‖ that is
κ(x) = ‖|x||W|‖ / ‖(x − μ)W‖ ≳ √(λ_max/λ_min) (more when x sits far from the origin compared to its spread,
as the [CLS] vectors of a random model do), so a near-singular covariance loosens the tolerance accordingly.

>>> from simlab.testing import make_tiny_bert
>>> folder = make_tiny_bert(tmp_path / "tiny")        # doctest: +SKIP
>>> import numpy as np
>>> x, A = np.ones((1, 4)), np.full((4, 2), 0.5)
>>> bool(np.all(affine_bound(x, A) < 1e-6)), gamma(10) == 10 * U32 / (1 - 10 * U32)
(True, True)
"""

from __future__ import annotations

import numpy as np


def make_tiny_bert(folder, with_pooler=True, drop=(), seed=0):
    """A randomly initialised 3-layer BertModel + WordPiece tokenizer saved as an ordinary HF folder."""
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import BertConfig, BertModel, BertTokenizer

    words = "the a cat dog sat ran on mat fast slow big small red blue 猫 狗 坐 跑 在 上 大 小 红 蓝".split()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words + [f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz"]
    folder.mkdir(parents=True, exist_ok=True)
    BertTokenizer(vocab={w: i for i, w in enumerate(vocab)}).save_pretrained(folder)  # transformers 5: a dict
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=64)
    BertModel(cfg).save_pretrained(folder)
    weights = folder / "model.safetensors"
    sd = load_file(str(weights))
    drop = tuple(drop) + (() if with_pooler else ("pooler.",))
    sd = {k: v for k, v in sd.items() if not any(k.startswith(p) for p in drop)}
    save_file(sd, str(weights), metadata={"format": "pt"})
    return folder


U32 = 2.0 ** -24  # unit roundoff of float32 (eps/2): round to nearest gives |fl(a) − a| ≤ U32·|a|
U64 = 2.0 ** -53  # unit roundoff of float64


def gamma(n: int, u: float = U32) -> float:
    """γ_n = n·u / (1 − n·u): |fl(Σᵢ aᵢbᵢ) − Σᵢ aᵢbᵢ| ≤ γ_n Σᵢ|aᵢbᵢ| for n terms, in any order (Higham Lemma 3.1)."""
    return n * u / (1 - n * u)


def affine_bound(x, A, b=None, u: float = U32, u_store: float | None = None) -> np.ndarray:
    """Componentwise bound on |ŷ − (xA + b)| for ŷ = fl(x Â + b̂) computed in precision ``u``, where Â, b̂ are A, b
    rounded to the storage precision ``u_store`` (default ``u``; 0 if they are exact). x (N, d) is taken as
    exact; A (d, k); b (k,). Bound: (γ_{d+1}(u)(1 + u_s) + u_s)·(|x||A| + |b|)."""
    x, A = np.abs(np.asarray(x, dtype=np.float64)), np.abs(np.asarray(A, dtype=np.float64))
    scale = x @ A + (0.0 if b is None else np.abs(np.asarray(b, dtype=np.float64)))
    us = u if u_store is None else u_store
    return (gamma(A.shape[0] + 1, u) * (1 + us) + us) * scale


def unit_rows_bound(delta, y, u: float = U32) -> np.ndarray:
    """Per-row bound on ‖fl(ŷ/‖ŷ‖) − y/‖y‖‖₂ when |ŷ − y| ≤ ``delta`` componentwise, normalised in precision u.

    2‖δ‖/‖y‖ bounds the change of direction; γ_{k+2}(u) the normalisation's own rounding (k squares, √, ÷).
    ``y`` may itself be approximate to within ``delta``: ‖y‖ − ‖δ‖ is used as the denominator.
    """
    y, delta = np.asarray(y, dtype=np.float64), np.asarray(delta, dtype=np.float64)
    dn = np.linalg.norm(delta, axis=1)
    denom = np.maximum(np.linalg.norm(y, axis=1) - dn, np.finfo(np.float64).tiny)
    return 2 * dn / denom + gamma(y.shape[1] + 2, u)


def cosine_bound(e_a, e_b, k: int, u: float = U32) -> np.ndarray:
    """(N, M) bound on |fl(âᵢ·b̂ⱼ) − aᵢ·bⱼ| for unit rows a, b approximated by â, b̂ with ‖âᵢ − aᵢ‖ ≤ e_a[i],
    ‖b̂ⱼ − bⱼ‖ ≤ e_b[j], dot products of length k in precision u: e_a + e_b + e_a·e_b + γ_k(1 + e_a)(1 + e_b)."""
    ea, eb = np.asarray(e_a, dtype=np.float64)[:, None], np.asarray(e_b, dtype=np.float64)[None, :]
    return ea + eb + ea * eb + gamma(k, u) * (1 + ea) * (1 + eb)


def transform_error(x, white, k: int | None = None) -> np.ndarray:
    """Per-row bound on the error of simlab's own ``white.transform(x)[:, :k]`` (renormalised in float32 when
    k < n_components), against the exact unit rows of (x − μ)W_k: float64 arithmetic, then one rounding to
    float32, then the float32 renormalisation of the first k columns."""
    W = np.asarray(white.kernel_, dtype=np.float64)
    y = (np.asarray(x, dtype=np.float64) - white.mean_) @ W
    # (x − μ) in float64, then · W: within γ_{d+1}(U64)(|x| + |μ|)|W|; normalised in float64, rounded to float32
    e = unit_rows_bound(affine_bound(x, W, np.abs(white.mean_) @ np.abs(W), U64, 0.0), y, U64) + U32
    kk = W.shape[1] if k is None else k
    if kk < W.shape[1]:  # float32 renormalisation of a slice of a float32 unit vector
        part = np.linalg.norm(y[:, :kk], axis=1) / np.linalg.norm(y, axis=1)
        e = 2 * e / np.maximum(part - e, np.finfo(np.float64).tiny) + gamma(kk + 2)
    return e


def float64_twin(encoder):
    """A copy of an :class:`~simlab.encode.Encoder` whose network runs in float64 (same tokenizer and weights).

    Its ``encode`` still returns float32, the float64 result rounded once: |x̂ − x| ≤ U32·|x| plus the float64
    forward error (:func:`forward_error64`). Comparing two pipelines this way tests what they compute, not how
    two float32 runs with different batching happen to round.
    """
    import copy

    twin = copy.copy(encoder)
    twin.model = copy.deepcopy(encoder.model).double()
    return twin


def forward_error(config, max_length: int, x, u: float = U64) -> np.ndarray:
    """First-order bound on the forward error of pooled BERT vectors x (N, d) computed in precision u:
    γ_n(u)·max|x| per row, n = the summed dot-product lengths along the network (per layer: Q, K, V and output
    projections over the hidden size, scores over the head size, weights over the tokens, the two FFN matmuls;
    plus the pooler). In float64 that is ~1e-13 of |x|, far below the float32 terms it is added to."""
    h, inter = int(config.hidden_size), int(config.intermediate_size)
    per_layer = 4 * h + h // int(config.num_attention_heads) + int(max_length) + h + inter
    n = int(config.num_hidden_layers) * per_layer + h
    return gamma(n, u) * np.abs(np.asarray(x, dtype=np.float64)).max(axis=1)


def affine_unit_error(x, white, k: int | None = None) -> np.ndarray:
    """Per-row bound on ‖unit(ŷ) − unit((x − μ)W_k)‖ when ŷ is ONE float32 affine map x·W_k + (−μW_k) with W_k
    and −μW_k (computed in float64) stored as float32, normalised in float32: faiss's LinearTransform followed
    by ``normalize_L2``. x (float32) is taken as exact."""
    W = np.asarray(white.kernel_, dtype=np.float64)[:, :k]
    mu = np.asarray(white.mean_, dtype=np.float64)
    y = (np.asarray(x, dtype=np.float64) - mu) @ W
    delta = affine_bound(x, W, -mu @ W) + gamma(W.shape[0], U64) * (np.abs(mu) @ np.abs(W))
    return unit_rows_bound(delta, y)


def split_centre_error(x, white, k: int | None, dx, u: float) -> np.ndarray:
    """Per-row bound on ‖unit(ŷ) − unit((x − μ)W_k)‖ for the two-layer whitening of simlab's sentence-transformers
    export run in precision u on inputs within ``dx`` (componentwise) of x: z = x − μ_hi (μ_hi = float32(μ); one
    rounding, as the centring layer's weight is the identity), then z·W_k + (−μ_lo W_k) with both stored as
    float32, then L2 normalisation (simlab/export/st_export.py)."""
    W = np.asarray(white.kernel_, dtype=np.float64)[:, :k]
    mu = np.asarray(white.mean_, dtype=np.float64)
    mu_hi = mu.astype(np.float32).astype(np.float64)
    x = np.asarray(x, dtype=np.float64)
    z = (np.abs(x - mu_hi) + dx) * (1 + u)  # |ẑ|: the centred input, its perturbation and its one rounding
    delta = (dx + u * z) @ np.abs(W) + affine_bound(z, W, np.abs(mu - mu_hi) @ np.abs(W), u, U32)
    return unit_rows_bound(delta, (x - mu) @ W, u)


def assert_st_export_matches(folder, encoder, pooling: str, white=None, k: int | None = None, texts=()) -> None:
    """Assert that the sentence-transformers folder ``folder`` computes simlab's ``pooling`` (+ whitening to k).

    Both sides run in float64 (the export's weights are float32 values, exact in float64), so the comparison
    tests what the exported modules compute, not how two float32 runs with different batching round. The
    tolerance is derived: simlab's vectors are float64 results rounded once to float32 (U32·|x|), which the
    whitening amplifies by its conditioning |W_k|/‖y‖, plus the export's float32 parameters (see
    :func:`split_centre_error`) and the float64 forward error (:func:`forward_error`).
    """
    import sentence_transformers as st

    model = st.SentenceTransformer(str(folder), device="cpu", local_files_only=True).double()
    got = model.encode(list(texts), convert_to_tensor=True).cpu().numpy()  # (N, k) float64
    X = float64_twin(encoder).encode(list(texts), pooling=pooling)  # float64 pooled vectors rounded to float32
    fwd = forward_error(encoder.model.config, encoder.max_length, X)[:, None]
    dx = U32 * np.abs(X) * (1 + U32) + 2 * fwd  # |x_st − X|: the export's own float64 pooled x vs simlab's X
    if white is None:
        bad = np.abs(got - X) > dx
        assert not bad.any(), f"{int(bad.sum())} components differ by more than U32·|x|: {np.abs(got - X).max()}"
        return
    kk = white.n_components_ if k is None else k
    ref = white.transform(X)[:, :kk]
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    tol = (split_centre_error(X, white, kk, dx, U64) + transform_error(X, white, kk))[:, None]
    err = np.abs(got - ref)
    assert np.all(err <= tol), f"max error {err.max():.3g}, worst error/bound {(err / tol).max():.3g}"


def run_cli(*args, env=None, data_dir=None, cwd=None, timeout=600):
    """Run the real ``simlab`` command (``python -m simlab.cli.main ARGS``) offline in a subprocess.

    Returns ``(rc, stdout, stderr, seconds)``. ``SIMLAB_DATA`` / ``SIMLAB_DEBUG`` of the caller are dropped; pass
    ``data_dir`` to set the data folder.

    >>> rc, out, err, secs = run_cli("dims", "1000")          # doctest: +SKIP
    """
    import os
    import subprocess
    import sys
    import time

    full = {k: v for k, v in os.environ.items() if k not in ("SIMLAB_DATA", "SIMLAB_DEBUG")}
    full.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    if data_dir is not None:
        full["SIMLAB_DATA"] = str(data_dir)
    full.update(env or {})
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "simlab.cli.main", *map(str, args)], capture_output=True,
                          text=True, env=full, cwd=cwd, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - t0


def assert_bad_input(args, *needles, within: float | None = None, env=None, data_dir=None, cwd=None, code=2):
    """Run ``simlab ARGS`` and assert the bad-input contract: exit ``code`` (2), no traceback, exactly one
    ``simlab: error:`` line containing every needle, and (``within``) that it failed in under that many seconds
    (options are checked before any model loads: the issue-21 table uses ``within=3``).

    >>> assert_bad_input(["pretrain", "--max-steps", "0"], "--max-steps", within=3)   # doctest: +SKIP
    """
    rc, out, err, secs = run_cli(*args, env=env, data_dir=data_dir, cwd=cwd)
    assert rc == code, (args, rc, err[-2000:])
    assert "Traceback" not in out + err, (args, err[-2000:])
    lines = [line for line in err.splitlines() if line.startswith("simlab: error:")]
    assert len(lines) == 1, (args, err[-2000:])
    for needle in needles:
        assert needle in lines[0], (args, needle, lines[0])
    if within is not None:
        assert secs < within, (args, f"took {secs:.1f} s (limit {within} s): checked after something loaded?")
    return lines[0]


def signal_after_checkpoints(args, checkpoint_dir, sig, complete: int = 1, env=None, timeout: float = 600):
    """Start the real ``simlab ARGS``, wait until ``complete`` checkpoints under ``checkpoint_dir`` are complete
    (:func:`simlab.train.checkpoint.checkpoints`), then send ``sig`` (SIGKILL kills). The process is frozen with
    SIGSTOP while they are counted, so the count still holds when ``sig`` lands. Returns ``(returncode, stderr)``;
    ``env`` replaces the environment (default: this one, offline, without ``SIMLAB_DEBUG``).

    >>> rc, err = signal_after_checkpoints(["pretrain", ...], out / "train", signal.SIGINT)   # doctest: +SKIP
    """
    import os
    import signal
    import subprocess
    import sys
    import time

    from simlab.train.checkpoint import checkpoints

    def done() -> int:
        return sum(1 for _, _, ok in checkpoints(checkpoint_dir) if ok)

    if env is None:
        env = {k: v for k, v in os.environ.items() if k != "SIMLAB_DEBUG"}
        env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    proc = subprocess.Popen([sys.executable, "-m", "simlab.cli.main", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < timeout:
            if proc.poll() is not None:
                raise AssertionError(f"the run ended (rc {proc.returncode}) before {complete} checkpoints were "
                                     f"complete: {proc.stderr.read()[-2000:]}")
            if done() >= complete:
                proc.send_signal(signal.SIGSTOP)
                if done() >= complete:
                    proc.kill() if sig == signal.SIGKILL else proc.send_signal(sig)
                    proc.send_signal(signal.SIGCONT)
                    break
                proc.send_signal(signal.SIGCONT)
            time.sleep(0.01)
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err

"""Is a saved whitening meant for these vectors? A whitening (μ, W) is fitted on one model's vectors under one
pooling (kexue.fm/archives/8069); applied to another's it still runs, and gives silently wrong vectors.

A file written by simlab records its source: ``source_model`` (the encoder identity ``name@weights-hash``) and
``pooling``. :func:`check_source` compares them with the vectors about to be whitened: a recorded mismatch is a
:class:`~simlab.errors.WhiteningError` naming the file; a file that records nothing (written before simlab
recorded it, or fitted in Python without provenance) cannot be checked and gives a warning line instead.

>>> from simlab.whitening import Whitening
>>> w = Whitening(source_model="m@3cae392dbc6150e1", pooling="cls")
>>> check_source(w, "w.safetensors", pooling="cls", identity="m-copy@3cae392dbc6150e1") is None
True
>>> check_source(w, "w.safetensors", pooling="last-avg")
Traceback (most recent call last):
...
simlab.errors.WhiteningError: w.safetensors: this whitening was fitted on cls vectors of m@3cae392dbc6150e1, not on last-avg vectors; fit one for last-avg with `simlab whiten --pooling last-avg`
"""

from __future__ import annotations

import os

from simlab.errors import WhiteningError


def weights_of(identity: str | None) -> str | None:
    """The weights-hash part of an encoder identity ``name@hash`` (None when it records no hash).

    >>> weights_of("e5-small@0123abcd"), weights_of("e5-small")
    ('0123abcd', None)
    """
    if not identity or "@" not in identity:
        return None
    return identity.rsplit("@", 1)[1] or None


def check_source(white, path: str | os.PathLike, *, pooling: str | None = None, identity: str | None = None,
                 model: str | None = None) -> str | None:
    """Refuse applying ``white`` (loaded from ``path``) to vectors of ``pooling`` from the encoder ``identity``
    (``name@weights-hash``; None when not known yet). ``model`` is how the user named the model, for messages.

    Raises :class:`~simlab.errors.WhiteningError` when the file records another pooling or other weights (the
    same weights under another name match). Returns a one-line warning when the file records neither (or only
    part) of its source, so the caller can say it was not checked; None when everything it records matches.
    """
    src = white.source_model or "an unrecorded model"
    if pooling and white.pooling and white.pooling != pooling:
        raise WhiteningError(f"{path}: this whitening was fitted on {white.pooling} vectors of {src}, not on "
                             f"{pooling} vectors; fit one for {pooling} with `simlab whiten --pooling {pooling}`")
    recorded, given = weights_of(white.source_model), weights_of(identity)
    if recorded and given and recorded != given:
        name = model or identity.rsplit("@", 1)[0]
        raise WhiteningError(f"{path}: this whitening was fitted on the vectors of {white.source_model}, not of "
                             f"{name} ({identity}: other weights); fit one for {name} with `simlab whiten`")
    unknown = [what for what, known in (("model", recorded), ("pooling", white.pooling)) if not known]
    if unknown:
        return (f"{path} does not record the {' or '.join(unknown)} it was fitted on (an older or hand-made "
                f"file); applying it unchecked")
    return None

"""Atomic file and folder writes (a crash never leaves a half-written result behind), and the one loader path for
simlab's own files: :func:`read_json`, :func:`read_text_lines`, :func:`load_safetensors` turn a damaged file
(malformed JSON, invalid UTF-8, a truncated safetensors) into one :class:`~simlab.errors.SimlabError` naming it."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` then rename the temp file onto ``path`` (same folder, so the rename is atomic)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; results are ordinary files
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def atomic_write_json(path: str | os.PathLike, obj) -> Path:
    """Write ``obj`` as indented UTF-8 JSON to ``path`` atomically."""
    return atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


# -- reading: one loader path that turns a damaged file into one line naming it (issue 21) ----------------------
def _error_class(error):
    from simlab.errors import DataError

    return DataError if error is None else error


def _existing_file(path, what: str, error):
    """(Path, error class) once ``path`` is a file: missing -> MissingFileError, a folder -> ``error``."""
    from simlab.errors import MissingFileError

    path, error = Path(path), _error_class(error)
    if not path.exists():
        raise MissingFileError(f"{what} {path} does not exist")
    if path.is_dir():
        raise error(f"{path}: is a folder, expected a {what}")
    return path, error


def read_json(path: str | os.PathLike, what: str = "JSON file", error=None, *, object_only: bool = True):
    """The parsed JSON of ``path``, or a :class:`~simlab.errors.SimlabError` naming the file.

    A missing file is :class:`~simlab.errors.MissingFileError` ``"{what} {path} does not exist"``; a folder,
    invalid UTF-8, malformed or truncated JSON, or (``object_only``) a top-level value that is not an object is
    ``error`` (default :class:`~simlab.errors.DataError`; pass e.g. ``CacheError`` or ``IndexError_``) with the
    message ``"{path}: damaged {what} (<reason, with line and column>)"``.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "index.json"
    >>> _ = p.write_text('{"count": 3', encoding="utf-8")
    >>> read_json(p, "index description")
    Traceback (most recent call last):
    ...
    simlab.errors.DataError: .../index.json: damaged index description (not valid JSON: Expecting ',' delimiter at line 1 column 12)
    """
    path, error = _existing_file(path, what, error)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: damaged {what} (not valid UTF-8 at byte {exc.start})") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{path}: damaged {what} (not valid JSON: {exc.msg} at line {exc.lineno} column "
                    f"{exc.colno})") from None
    if object_only and not isinstance(obj, dict):
        raise error(f"{path}: damaged {what} (expected a JSON object, got {type(obj).__name__})")
    return obj


def iter_text_lines(path: str | os.PathLike, what: str = "text file", error=None):
    """``(line_number, line)`` for every line of a UTF-8 text file, streamed; line ends (``\\n``, one ``\\r``)
    and a leading byte-order mark are dropped. A line that is not UTF-8 is ``error`` (default
    :class:`~simlab.errors.DataError`) ``"{path}:{line}: not valid UTF-8 (byte N)"``; a missing file is
    :class:`~simlab.errors.MissingFileError`.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.txt"
    >>> _ = p.write_bytes(b"ok\\r\\n\\xff bad\\n")
    >>> list(iter_text_lines(p))
    Traceback (most recent call last):
    ...
    simlab.errors.DataError: .../s.txt:2: not valid UTF-8 (byte 0)
    """
    path, error = _existing_file(path, what, error)
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise error(f"{path}:{lineno}: not valid UTF-8 (byte {exc.start})") from None
            yield lineno, line.removesuffix("\n").removesuffix("\r")


def read_text_lines(path: str | os.PathLike, what: str = "text file", error=None) -> list[str]:
    """Every line of a UTF-8 text file (line ends dropped), with :func:`iter_text_lines`' errors naming the file
    and line.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.txt"
    >>> _ = p.write_text("今天\\n明天\\n", encoding="utf-8")
    >>> read_text_lines(p)
    ['今天', '明天']
    """
    return [line for _, line in iter_text_lines(path, what, error)]


def load_safetensors(path: str | os.PathLike, what: str = "safetensors file", error=None, *,
                     framework: str = "numpy") -> tuple[dict, dict[str, str]]:
    """``(tensors, metadata)`` of a ``.safetensors`` file; safetensors' own errors (truncated file, bad header,
    short data) become ``error`` (default :class:`~simlab.errors.DataError`) naming the file:
    ``"{path}: damaged {what} (<safetensors' reason>)"``. A missing file is
    :class:`~simlab.errors.MissingFileError`. ``framework``: ``"numpy"`` (default) or ``"pt"``.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "w.safetensors"
    >>> _ = p.write_bytes(b"\\x10\\x00")
    >>> load_safetensors(p, "whitening file")
    Traceback (most recent call last):
    ...
    simlab.errors.DataError: .../w.safetensors: damaged whitening file (Error while deserializing header: header too small)
    """
    from safetensors import SafetensorError, safe_open

    path, error = _existing_file(path, what, error)
    try:
        with safe_open(str(path), framework=framework) as f:
            meta = dict(f.metadata() or {})
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise error(f"{path}: damaged {what} ({exc})") from None
    return tensors, meta


# -- writing a whole folder -------------------------------------------------------------------------------------
def write_folder(out: str | os.PathLike, build: Callable[[Path], object]):
    """Call ``build(tmp)`` on a fresh temp folder beside ``out``, then put it in place of ``out``: a crash or
    Ctrl-C leaves ``out`` as it was (the temp folder is removed). An existing ``out`` is swapped out (two
    renames in the same parent) and deleted; callers decide beforehand whether it may be replaced
    (:func:`simlab.outdir.check_output_folder`). Returns what ``build`` returns.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "index"
    >>> _ = write_folder(out, lambda tmp: (tmp / "a.txt").write_text("x"))
    >>> sorted(p.name for p in out.iterdir())
    ['a.txt']
    """
    import shutil

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; results are ordinary folders
        result = build(tmp)
        old = None
        if out.exists() or out.is_symlink():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.rename(out, old / out.name)
        os.rename(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return result

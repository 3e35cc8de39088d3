"""The artifact protocol: one layout, one write and one check for everything pictext saves.

A saved classifier, ranking head, search index, captioner or collection audit is a folder::

    config.json        {"format": "pictext-classifier", "version": 1, ...its configuration}
    model.safetensors  its arrays (numpy safetensors: no pickles, no torch needed to read)
    ...                files of that kind only (an index's items.json, head/, ann.faiss)

:func:`save_artifact` writes it in one atomic folder write
(:func:`~pictext.core.atomic.atomic_folder`); :func:`load_artifact` reads it back only after
checking the format and version, and every refusal is one line naming the path, what was
found, what was expected and the command that rebuilds it. A bundle (the folder
``pictext serve`` reads) carries the same header in its ``bundle.json``. The format names
live in one registry (:data:`KINDS`), which ``bundle/layout.py`` reads to recognise parts.

The rule that embeddings, or an installed encoder, are the ones a saved thing was built with
lives here too (:func:`check_encoder`), so models, indexes and the service apply one check.
See docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pictext.core.atomic import atomic_folder, atomic_write_json
from pictext.core.errors import InputError, NotFoundError

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
_HEADER = ("format", "version")


@dataclass(frozen=True)
class ArtifactKind:
    """One registered artifact format."""

    name: str  # the "format" recorded in the header
    version: int  # the version this pictext writes and reads
    what: str  # what it is, in words, for messages
    rebuild: str  # the command that builds one; "{path}" is the artifact's folder
    legacy: str = ""  # "format" prefix of its layout before this protocol (refused clearly)
    config_file: str = CONFIG_FILE  # the file that holds the header

    def hint(self, path: str | Path) -> str:
        """The command that (re)builds this kind of artifact at ``path``."""
        return self.rebuild.format(path=path)


CLASSIFIER = ArtifactKind(
    name="pictext-classifier",
    version=1,
    what="fusion classifier",
    rebuild="pictext train DATASET --out {path}",
    legacy="pictext.fusion/",
)
RANKING_HEAD = ArtifactKind(
    name="pictext-ranking-head",
    version=1,
    what="ranking head",
    rebuild="pictext rank train DATASET --out RUN (the head is RUN/head)",
    legacy="pictext-ranking-head/",
)
INDEX = ArtifactKind(
    name="pictext-index",
    version=1,
    what="search index",
    rebuild="pictext index build DATASET --out {path}",
    legacy="pictext-index/",
)
CAPTIONER = ArtifactKind(
    name="pictext-captioner",
    version=1,
    what="captioner",
    rebuild="pictext caption-train DATASET --out {path}",
    legacy="pictext.captioner/",
)
AUDIT = ArtifactKind(
    name="pictext-audit",
    version=1,
    what="collection audit",
    rebuild="pictext audit DATASET --out {path}",
)
LINEAR = ArtifactKind(
    name="pictext-linear-classifier",
    version=1,
    what="linear classifier (a member of a saved ensemble)",
    rebuild="pictext train DATASET --out MODEL (the member is MODEL/linear)",
)
BUNDLE = ArtifactKind(
    name="pictext-bundle",
    version=1,
    what="bundle",
    rebuild='pictext demo --out {path}, or write {path}/bundle.json as {{"dataset": "NAME"}}',
    config_file="bundle.json",
)
KINDS: dict[str, ArtifactKind] = {
    k.name: k for k in (CLASSIFIER, RANKING_HEAD, INDEX, CAPTIONER, AUDIT, LINEAR, BUNDLE)
}
# Where an index kept its header before this protocol; read only to name what was found.
_LEGACY_FILES = ("manifest.json",)


class ArtifactError(InputError, ValueError):
    """A path does not hold a loadable artifact of the kind asked for.

    The message is one line: the path, the problem (what was found against what was
    expected) and the command that rebuilds it.

    Attributes:
        path: the folder or file concerned.
        problem: what is wrong, without the path and the rebuild hint.
        kind: the kind that was expected.
    """

    def __init__(self, path: str | Path, problem: str, kind: ArtifactKind) -> None:
        self.path, self.problem, self.kind = Path(path), problem, kind
        super().__init__(f"{path}: {problem}; {_next_step(Path(path), kind)}")

    def __reduce__(self) -> tuple[Any, ...]:  # picklable across processes (Ray, pytest-xdist)
        return (type(self), (self.path, self.problem, self.kind))


class ArtifactNotFoundError(ArtifactError, NotFoundError, FileNotFoundError):
    """The folder, its header or one of its files is missing."""


class ArtifactFormatError(ArtifactError):
    """The folder holds another kind of artifact, an unknown format or an unreadable header."""


class ArtifactVersionError(ArtifactFormatError):
    """The right kind of artifact, in an older (or newer) layout than this pictext reads."""


# ---- the header ---------------------------------------------------------------------------
def peek_format(directory: str | Path, config_file: str = CONFIG_FILE) -> tuple[str, Any]:
    """``(format, version)`` recorded in a folder, ``("", None)`` when there is none.

    Never raises: for telling what a folder holds before loading it (see :func:`kind_of`).
    """
    d = Path(directory)
    for name in (config_file, *_LEGACY_FILES):
        try:
            meta = json.loads((d / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(meta, dict) and "format" in meta:
            return str(meta["format"]), meta.get("version")
    return "", None


def _next_step(path: Path, kind: ArtifactKind) -> str:
    """What to do about a path that is not a loadable ``kind``: the command that rebuilds
    it, unless the folder holds another artifact, which that command would overwrite."""
    try:
        other = kind_of(path) if path.is_dir() else None
    except (OSError, ValueError):
        other = None
    if other is not None and other.name != kind.name:
        return (
            f"it holds a {other.what}; pass the folder of a saved {kind.what} "
            "or the bundle that holds one"
        )
    return f"rebuild it with: {kind.hint(path)}"


def kind_of(directory: str | Path) -> ArtifactKind | None:
    """The registered kind a folder's ``config.json`` names (old layouts included), or None."""
    fmt, _ = peek_format(directory)
    return _kind_named(fmt)


def _kind_named(fmt: str) -> ArtifactKind | None:
    if fmt in KINDS:
        return KINDS[fmt]
    return next((k for k in KINDS.values() if k.legacy and fmt.startswith(k.legacy)), None)


def check_header(meta: Mapping[str, Any], kind: ArtifactKind, where: str | Path) -> dict[str, Any]:
    """The configuration in ``meta`` once its format and version are ``kind``'s.

    Args:
        meta: the parsed header file.
        kind: the kind expected.
        where: the artifact's path, for the message.

    Returns:
        ``meta`` without ``format`` and ``version``.

    Raises:
        ArtifactFormatError: another kind, or an unknown format.
        ArtifactVersionError: ``kind`` in an old layout or another version.
    """
    fmt, version = str(meta.get("format", "")), meta.get("version")
    expected = f"a {kind.what} ({kind.name} version {kind.version})"
    if fmt != kind.name:
        other = _kind_named(fmt)
        if other is kind:
            raise ArtifactVersionError(
                where, f"a {kind.what} in the old {fmt!r} layout, expected {expected}", kind
            )
        found = f"a {other.what} ({fmt!r})" if other else f"format {fmt!r}"
        raise ArtifactFormatError(where, f"holds {found}, expected {expected}", kind)
    if version != kind.version:
        age = "newer" if isinstance(version, int) and version > kind.version else "older"
        raise ArtifactVersionError(
            where, f"{kind.name} version {version!r} ({age} pictext), expected {expected}", kind
        )
    return {k: v for k, v in meta.items() if k not in _HEADER}


def read_config(directory: str | Path, kind: ArtifactKind) -> dict[str, Any]:
    """The configuration saved in a ``kind`` artifact, header checked (no arrays read).

    Raises:
        ArtifactNotFoundError: no such folder, or no header file in it.
        ArtifactFormatError: unreadable header, another kind or an unknown format.
        ArtifactVersionError: an old or unknown version of ``kind``.
    """
    d = Path(directory)
    if not d.is_dir():
        raise ArtifactNotFoundError(d, f"no such folder, expected a saved {kind.what}", kind)
    file = d / kind.config_file
    if not file.is_file():
        fmt, _ = peek_format(d, kind.config_file)
        if fmt:  # an old layout with its header elsewhere
            return check_header({"format": fmt}, kind, d)
        raise ArtifactNotFoundError(
            d, f"no {kind.config_file}, so not a saved {kind.what} ({kind.name})", kind
        )
    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ArtifactFormatError(d, f"{kind.config_file} is unreadable ({err})", kind) from None
    if not isinstance(meta, dict):
        raise ArtifactFormatError(d, f"{kind.config_file} does not hold a JSON object", kind)
    return check_header(meta, kind, d)


def write_config(directory: str | Path, kind: ArtifactKind, config: Mapping[str, Any]) -> Path:
    """Write only the header file of ``kind`` (with format and version) atomically.

    For folders that gather parts over time, like a bundle; whole artifacts are written
    with :func:`save_artifact`.
    """
    file = Path(directory) / kind.config_file
    atomic_write_json(file, _with_header(kind, config))
    return file


def _with_header(kind: ArtifactKind, config: Mapping[str, Any]) -> dict[str, Any]:
    clash = set(_HEADER) & set(config)
    if clash:
        raise ValueError(f"config keys {sorted(clash)} are reserved for the artifact header")
    return {"format": kind.name, "version": kind.version, **config}


# ---- whole artifacts ----------------------------------------------------------------------
def save_artifact(
    directory: str | Path,
    kind: ArtifactKind,
    config: Mapping[str, Any],
    arrays: Mapping[str, np.ndarray],
    *,
    extra_files: Mapping[str, Callable[[Path], object]] | None = None,
) -> Path:
    """Write a ``kind`` artifact folder in one atomic folder write (replacing an old one).

    Args:
        directory: the artifact's folder.
        kind: its registered kind (its format name and version go into ``config.json``).
        config: everything needed to rebuild it, JSON-serialisable (NumPy scalars allowed).
        arrays: its weights and other arrays, saved in ``model.safetensors``.
        extra_files: name -> writer called with the path to write inside the folder (a
            file or a nested artifact folder), e.g. ``{"head": head.save}``.

    Returns:
        The folder.

    Raises:
        FileExistsError: ``directory`` holds files but no saved pictext artifact (replacing
            it would delete them).

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()) / "head"
        >>> _ = save_artifact(d, RANKING_HEAD, {"dim": 2}, {"w": np.eye(2, dtype=np.float32)})
        >>> config, arrays = load_artifact(d, RANKING_HEAD)
        >>> config, arrays["w"].shape
        ({'dim': 2}, (2, 2))
    """
    d = Path(directory)
    if d.is_dir() and kind_of(d) is None and any(d.iterdir()):
        raise FileExistsError(
            f"{d}: holds files but no saved pictext artifact; not replacing it with a "
            f"{kind.what}: choose a new or empty folder"
        )
    st, _ = _safetensors()
    header = _with_header(kind, config)
    tensors = {name: np.ascontiguousarray(a) for name, a in arrays.items()}
    with atomic_folder(d) as tmp:
        st.save_file(tensors, str(tmp / WEIGHTS_FILE))
        for name, write in (extra_files or {}).items():
            write(tmp / name)
        atomic_write_json(tmp / kind.config_file, header)
    return d


def load_artifact(
    directory: str | Path, kind: ArtifactKind
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a ``kind`` artifact: ``(config, arrays)``, after checking its format and version.

    No pickles are read: the header is JSON and the arrays are safetensors.

    Raises:
        ArtifactNotFoundError: no such folder, or its ``config.json`` or weights are missing.
        ArtifactFormatError: another kind, an unknown format or unreadable files.
        ArtifactVersionError: an old or unknown version of ``kind``.
    """
    d = Path(directory)
    config = read_config(d, kind)
    weights = artifact_file(d, kind, WEIGHTS_FILE)
    st, safetensor_error = _safetensors()
    try:
        arrays = st.load_file(str(weights))
    except safetensor_error as err:
        raise ArtifactFormatError(d, f"{WEIGHTS_FILE} is unreadable ({err})", kind) from None
    return config, arrays


def artifact_file(directory: str | Path, kind: ArtifactKind, name: str) -> Path:
    """The path of file ``name`` of an artifact; :class:`ArtifactNotFoundError` when absent."""
    path = Path(directory) / name
    if not path.exists():
        raise ArtifactNotFoundError(
            directory, f"no {name}: the saved {kind.what} is incomplete", kind
        )
    return path


def module_arrays(module: Any) -> dict[str, np.ndarray]:
    """A torch module's state as NumPy arrays, the form :func:`save_artifact` stores."""
    return {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}


def load_module_arrays(
    module: Any, arrays: Mapping[str, np.ndarray], directory: str | Path, kind: ArtifactKind
) -> None:
    """Load arrays from :func:`load_artifact` into a torch module built from its config.

    Raises:
        ArtifactFormatError: the arrays do not fit the module (names or shapes).
    """
    import torch

    try:
        module.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()})
    except RuntimeError as err:
        problem = f"{WEIGHTS_FILE} does not fit the model its config describes ({err})"
        raise ArtifactFormatError(directory, problem.replace("\n", " "), kind) from None


def _safetensors() -> tuple[Any, type[Exception]]:
    """``(safetensors.numpy, SafetensorError)``, imported on first use."""
    try:
        import safetensors
        import safetensors.numpy
    except ImportError as err:
        raise ImportError(
            "saving and loading models needs safetensors: pip install safetensors"
        ) from err
    return safetensors.numpy, safetensors.SafetensorError


# ---- encoders -----------------------------------------------------------------------------
class EncoderMismatchError(InputError, ValueError):
    """Embeddings, or an installed encoder, are not the encoder a saved thing was built with.

    Attributes:
        recorded: ``name@version`` the model, index or captioner recorded.
        found: ``name@version`` of the embeddings at hand, or of the installed encoder.
    """

    def __init__(self, message: str, recorded: str | None = None, found: str | None = None) -> None:
        super().__init__(message)
        self.recorded, self.found = recorded, found

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.recorded, self.found))


def same_encoder(recorded: str | None, found: str | None) -> bool:
    """Whether ``found`` is the encoder ``recorded`` (``name@version``; a recorded bare name
    accepts any version of that name)."""
    if recorded is not None and found is not None and "@" not in recorded:
        return found.partition("@")[0] == recorded
    return recorded == found


def check_encoder(
    recorded: str | None,
    found: str | None,
    *,
    found_as: str = "these features come from",
    role: str = "",
    subject: str = "",
    remedy: str = "",
) -> None:
    """Raise :class:`EncoderMismatchError` unless ``found`` is the encoder ``recorded``.

    The one encoder check: features against a fitted head (``store.inputs.check_encoders``)
    and the installed encoder against a saved model or index
    (``encoders.registry.create_recorded_encoder``) both call it.

    Args:
        recorded: ``name@version`` the saved thing was built with.
        found: ``name@version`` at hand.
        found_as: how the message introduces ``found``, e.g. ``"the installed one is"``.
        role: ``"image"`` or ``"text"`` (which tower), for the message.
        subject: what was built, e.g. ``"the model"``; empty: the message starts at "built".
        remedy: what to do, appended after a semicolon.

    Example:
        >>> check_encoder("use@3", "use@3")
        >>> check_encoder("use@3", "use@4", found_as="installed:")
        Traceback (most recent call last):
        ...
        pictext.core.artifacts.EncoderMismatchError: built with encoder use@3 but installed: use@4
    """
    if same_encoder(recorded, found):
        return
    tower = f"{role} encoder" if role else "encoder"
    built = f"{subject} was built" if subject else "built"
    message = f"{built} with {tower} {recorded} but {found_as} {found}"
    raise EncoderMismatchError(f"{message}; {remedy}" if remedy else message, recorded, found)

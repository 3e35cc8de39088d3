"""The classifier ``pictext train`` saves: a fusion head, an image-only head and a text-only
head, each row scored by the head made for the inputs it has.

A row with an image and text goes to the fusion head; a row without an image (with or
without text) to the text-only head, and a row with an image but no text at all to the
image-only head, but only where that
route beat the fusion head on the *validation* rows with the input removed (the choice and
its scores are saved with the model). Every head is trained on the same split,
early-stopped and calibrated on validation, and may be a seed ensemble (``members``
models whose calibrated probabilities are averaged).

Saved as one classifier artifact (:data:`~pictext.core.artifacts.CLASSIFIER`): the folder
is the fusion head's first member, so a pictext that predates routing loads it as the plain
fusion head; ``config.json`` adds ``routing`` (the heads, the routes and their validation
scores) and each other member is a nested classifier folder (``fusion-1``, ``image-0``,
``text-0``...). A folder without ``routing`` (a model saved before routing, or a
single-input head) loads as one head with no routes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pictext.classify.calibration import softmax
from pictext.classify.fusion import FusionClassifier, FusionConfig
from pictext.core.artifacts import CLASSIFIER, ArtifactError, ArtifactFormatError, read_config
from pictext.store.inputs import drop_inputs, uses_text

if TYPE_CHECKING:
    from pictext.core.train import History
    from pictext.store.features import Features

FUSION_HEAD, IMAGE_HEAD, TEXT_HEAD = "fusion", "image", "text"
# route -> (inputs removed on validation to decide it, the head that scores such rows)
ROUTES: dict[str, tuple[tuple[str, ...], str]] = {
    "no image": (("image",), TEXT_HEAD),
    "no text": (("all_text",), IMAGE_HEAD),
}


def member_seed(seed: int, j: int) -> int:
    """Seed of member ``j`` of a seed ensemble trained with ``seed`` (member 0: ``seed``
    itself when ``seed`` is 0, as a single head)."""
    return 1000 * seed + j


def fit_members(
    config: FusionConfig,
    members: int,
    train: Features,
    y_train: np.ndarray,
    val: Features,
    y_val: np.ndarray,
    *,
    classes: Sequence[str],
) -> list[FusionClassifier]:
    """``members`` heads of ``config`` (seeds by :func:`member_seed`), each early-stopped
    and calibrated on validation."""
    if members < 1:
        raise ValueError(f"members must be at least 1, not {members}")
    out = []
    for j in range(members):
        cfg = dataclasses.replace(config, seed=member_seed(config.seed, j))
        clf = FusionClassifier(cfg).fit(train, y_train, val, y_val, classes=classes)
        out.append(clf.calibrate(val, y_val))
    return out


class RoutedClassifier:
    """Heads by name (each a seed ensemble) and the routes that send rows to them.

    Args:
        heads: ``"fusion"`` (required: what rows with every input, or none, get) and
            optionally ``"image"`` and ``"text"``; each a list of fitted, calibrated members.
        routes: ``"no image"`` / ``"no text"`` -> the head for such rows (absent: fusion).
        validation: per route, the validation top-1 (%) of each head it compared.

    Example:
        >>> import numpy as np
        >>> from pictext.store.features import Features
        >>> rng = np.random.default_rng(0)
        >>> y = np.repeat([0, 1], 20)
        >>> f = Features(ids=[str(i) for i in range(40)],
        ...              image=(rng.normal(size=(40, 8)) + y[:, None]).astype(np.float32),
        ...              image_mask=np.ones(40, bool), image_encoder="toy@1")
        >>> head = FusionClassifier(inputs=("image",), epochs=5, hidden=8, image_tune_dim=4)
        >>> model = RoutedClassifier({"fusion": [head.fit(f, y, classes=["a", "b"])]})
        >>> model.predict_proba(f).shape, model.routes
        ((40, 2), {})
    """

    def __init__(
        self,
        heads: Mapping[str, Sequence[FusionClassifier]],
        routes: Mapping[str, str] | None = None,
        validation: Mapping[str, Any] | None = None,
    ) -> None:
        if not heads.get(FUSION_HEAD):
            raise ValueError("a RoutedClassifier needs a 'fusion' head")
        self.heads = {k: list(v) for k, v in heads.items() if v}
        self.routes = dict(routes or {})
        for route, head in self.routes.items():
            if route not in ROUTES or head not in self.heads:
                raise ValueError(f"route {route!r} -> {head!r}: no such route or head")
        self.validation = dict(validation or {})
        first = self.primary
        for name, members in self.heads.items():
            if any(m.classes_ != first.classes_ for m in members):
                raise ValueError(f"head {name!r} has other classes than the fusion head")

    # ---- what the tag / verify path and the service read -------------------------------
    @property
    def primary(self) -> FusionClassifier:
        """The fusion head's first member (its config, curves and representations)."""
        return self.heads[FUSION_HEAD][0]

    @property
    def classes_(self) -> list[str]:
        return self.primary.classes_

    @property
    def config(self) -> FusionConfig:
        """The fusion head's config: its ``inputs`` are what the model reads."""
        return self.primary.config

    @property
    def image_encoder_(self) -> str | None:
        return self.primary.image_encoder_

    @property
    def text_encoder_(self) -> str | None:
        return self.primary.text_encoder_

    @property
    def history_(self) -> History | None:
        return self.primary.history_

    @property
    def trained_inputs(self) -> tuple[str, ...]:
        """The inputs the model learnt from: those of :attr:`config` that some training row
        had (a collection without tags trains a model that never saw tags)."""
        return tuple(getattr(self.primary, "trained_inputs_", self.config.inputs))

    def _seen(self, feats: Features) -> Features:
        """``feats`` with the inputs the model never saw in training marked missing: an input
        it has no training for is not fed to it (see :func:`pictext.classify.tagging`)."""
        unseen = [n for n in self.config.inputs if n not in self.trained_inputs]
        return drop_inputs(feats, unseen) if unseen else feats

    @property
    def members(self) -> int:
        """Seed-ensemble size of the fusion head."""
        return len(self.heads[FUSION_HEAD])

    def embed(self, feats: Features, layer: str = "fusion") -> np.ndarray:
        """The fusion head's representations (see :meth:`FusionClassifier.embed`)."""
        return self.primary.embed(feats, layer)

    # ---- scoring ---------------------------------------------------------------------------
    def route_of(self, feats: Features) -> np.ndarray:
        """The head name that scores each row (object array ``[N]``)."""
        has_image, has_text = _present(feats, self.config.inputs)
        out = np.full(feats.n, FUSION_HEAD, dtype=object)
        if "image" not in self.config.inputs:
            return out
        # a row with neither input is a row without an image too: the text-only head was
        # trained on such rows (image-less, some text-less), the fusion head hardly ever
        out[~has_image] = self.routes.get("no image", FUSION_HEAD)
        out[has_image & ~has_text] = self.routes.get("no text", FUSION_HEAD)
        return out

    def predict_proba(self, feats: Features, *, calibrated: bool = True) -> np.ndarray:
        """Class probabilities ``[N, C]``, each row from its routed head (mean of its
        members' probabilities; ``calibrated=False``: at temperature 1)."""
        feats = self._seen(feats)
        route = self.route_of(feats)
        out = np.zeros((feats.n, len(self.classes_)))
        for name in np.unique(route) if feats.n else []:
            rows = np.flatnonzero(route == name)
            sub = feats if len(rows) == feats.n else feats.subset(rows)
            out[rows] = ensemble_proba(self.heads[str(name)], sub, calibrated)
        return out

    def predict(self, feats: Features) -> np.ndarray:
        """Most likely class index per row."""
        return self.predict_proba(feats).argmax(axis=1)

    def head_proba(self, name: str, feats: Features) -> np.ndarray:
        """Probabilities of one head for every row, whatever the routes."""
        return ensemble_proba(self.heads[name], self._seen(feats), True)

    # ---- choosing the routes on validation ---------------------------------------------------
    def choose_routes(self, val: Features, y_val: np.ndarray) -> RoutedClassifier:
        """Keep each route whose head beats the fusion head on ``val`` with the input removed.

        For ``"no image"`` the validation rows lose their image, and the model with that
        route is compared with the fusion head alone on them (top-1); likewise ``"no text"``.
        Ties keep the fusion head. The scores are kept in :attr:`validation`.

        Args:
            val: validation features (never the test side).
            y_val: their class indices.

        Returns:
            self, with :attr:`routes` and :attr:`validation` set.
        """
        y_val = np.asarray(y_val)
        self.routes, self.validation = {}, {}
        for route, (removed, head) in ROUTES.items():
            if head not in self.heads or not len(y_val):
                continue
            x = drop_inputs(val, removed)
            fused = _top1(self.head_proba(FUSION_HEAD, x), y_val)
            self.routes = {**self.routes, route: head}
            routed = _top1(self.predict_proba(x), y_val)
            if routed <= fused:
                del self.routes[route]
            self.validation[route] = {FUSION_HEAD: fused, head: routed, "rows": len(y_val)}
        return self

    # ---- persistence -------------------------------------------------------------------------
    def save(
        self,
        directory: str | Path,
        *,
        extra: Mapping[str, Any] | None = None,
        extra_files: Mapping[str, Any] | None = None,
    ) -> Path:
        """Write the model as one classifier folder (atomically; see the module docstring).

        Args:
            directory: the model's folder.
            extra: more ``config.json`` entries (e.g. an ensemble's members and weights).
            extra_files: more nested files or folders (name -> writer), in the same write.
        """
        names = {
            head: ["" if (head, j) == (FUSION_HEAD, 0) else f"{head}-{j}" for j in range(len(ms))]
            for head, ms in self.heads.items()
        }
        nested = {
            folder: self.heads[head][j].save
            for head, folders in names.items()
            for j, folder in enumerate(folders)
            if folder
        }
        routing = {"heads": names, "routes": self.routes, "validation": self.validation}
        return self.primary.save(
            directory,
            extra={"routing": routing, **(extra or {})},
            extra_files={**nested, **(extra_files or {})},
        )

    @classmethod
    def load(cls, directory: str | Path) -> RoutedClassifier:
        """Read a model written by :meth:`save`, or a plain saved :class:`FusionClassifier`
        (one head, no routes).

        Raises:
            ArtifactError: not a saved classifier of this version, or a part of it is
                missing or unreadable (one line naming the folder).
        """
        d = Path(directory)
        routing = read_config(d, CLASSIFIER).get("routing")
        if routing is None:
            return cls({FUSION_HEAD: [FusionClassifier.load(d)]})
        try:
            heads = {
                head: [FusionClassifier.load(d / f if f else d) for f in folders]
                for head, folders in routing["heads"].items()
            }
            return cls(heads, routing["routes"], routing.get("validation"))
        except (KeyError, TypeError, AttributeError, ValueError) as err:
            if isinstance(err, ArtifactError):
                raise
            problem = f"config.json's routing is unreadable ({err})"
            raise ArtifactFormatError(d, problem, CLASSIFIER) from None


def load_classifier(directory: str | Path) -> RoutedClassifier:
    """The routed heads saved at ``directory`` (an ensemble's routed heads alone; tag, verify
    and the service read :func:`pictext.classify.ensemble.load_classifier`)."""
    return RoutedClassifier.load(directory)


def train_routed(
    config: FusionConfig,
    train: Features,
    y_train: np.ndarray,
    val: Features,
    y_val: np.ndarray,
    *,
    classes: Sequence[str],
    members: int = 1,
    routes: bool = True,
) -> RoutedClassifier:
    """The fusion head of ``config`` and, when it reads an image and text and ``routes`` is
    True, an image-only and a text-only head of the same hyperparameters; routes chosen on
    validation (:meth:`RoutedClassifier.choose_routes`).

    Args:
        config: the fusion head's hyperparameters (its ``inputs`` and ``seed`` too).
        train: training features; ``y_train`` their class indices.
        val: validation features (early stopping, calibration, routes); ``y_val`` theirs.
        classes: class names.
        members: seed-ensemble size of every head.
        routes: also train the single-input heads and choose routes.
    """
    heads = {FUSION_HEAD: fit_members(config, members, train, y_train, val, y_val, classes=classes)}
    if routes:
        for name, inputs in single_inputs(config.inputs).items():
            cfg = dataclasses.replace(config, inputs=inputs)
            heads[name] = fit_members(cfg, members, train, y_train, val, y_val, classes=classes)
    return RoutedClassifier(heads).choose_routes(val, y_val)


def single_inputs(inputs: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The image-only and text-only heads' inputs for a fusion head reading ``inputs``
    (none unless it reads an image and some text)."""
    text = tuple(i for i in inputs if i != "image")
    if "image" not in inputs or not uses_text(inputs):
        return {}
    return {IMAGE_HEAD: ("image",), TEXT_HEAD: text}


def _present(feats: Features, inputs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per row: has an image the model reads; has any text input the model reads."""
    has_image = np.zeros(feats.n, bool)
    if "image" in inputs and feats.image is not None:
        m = feats.image_mask
        has_image = np.ones(feats.n, bool) if m is None else np.asarray(m, bool)
    has_text = np.zeros(feats.n, bool)
    for name in inputs:
        if name != "image" and name in feats.text:
            m = feats.text_mask.get(name)
            has_text |= np.ones(feats.n, bool) if m is None else np.asarray(m, bool)
    return has_image, has_text


def ensemble_proba(
    members: Sequence[FusionClassifier], feats: Features, calibrated: bool = True
) -> Any:
    """Mean of the members' probabilities (``calibrated=False``: each at temperature 1)."""
    return np.mean(
        [
            m.predict_proba(feats) if calibrated else softmax(m.decision_function(feats))
            for m in members
        ],
        axis=0,
    )


def _top1(proba: np.ndarray, y: np.ndarray) -> float:
    return 100 * float((proba.argmax(1) == y).mean())

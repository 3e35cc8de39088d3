"""The caption training job: a config in, a result out that can ``save()`` and
``describe()`` itself (``pictext caption-train`` and ``pictext demo`` call it).

Caption search is :meth:`pictext.bundle.model.Model.caption_search`; captioning new images
is :meth:`~pictext.bundle.model.Model.caption`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pictext.core import defaults

if TYPE_CHECKING:
    from pictext.caption.runs import CaptionRunConfig
    from pictext.data.dataset import Dataset
    from pictext.store.features import Features


@dataclass
class CaptionTrainResult:
    """Every captioner fitted, scored on validation and test; the best on validation kept.

    ``refit``: the chosen type was refitted on every captioned image (``holdout`` 0), so no
    held-out score describes the saved model.
    """

    dataset: Dataset
    features: Features
    config: CaptionRunConfig
    result: dict[str, Any]
    refit: bool = False
    refitted_on: int = 0  # images the saved refit saw (set by save)

    @property
    def chosen(self) -> str:
        """The captioner type kept (the best on validation)."""
        return str(self.result["default"])

    def save(self, out: str | Path) -> Path:
        """The chosen captioner; with a held-out split also ``split.json``, ``bleu.json`` and
        ``examples.png``."""
        from pictext.caption.report import caption_examples, caption_record
        from pictext.caption.runs import refit_on_all
        from pictext.core.atomic import atomic_write_json

        out = Path(out)
        if self.refit:
            model, self.refitted_on = refit_on_all(
                self.dataset, self.features, self.config, self.result
            )
            model.save(out)
            return out
        self.result["models"][self.chosen].save(out)
        self.result["split"].save(out / "split.json")
        atomic_write_json(out / "bleu.json", caption_record(self.result))
        caption_examples(self.dataset, self.result, out / "examples.png")
        return out

    def describe(self) -> str:
        """The caption table and which type is kept."""
        from pictext.caption.tables import format_caption_table

        kept = (
            f"refitted {self.chosen} on all {self.refitted_on} captioned images"
            if self.refit
            else f"kept {self.chosen}, the best on validation"
        )
        return f"{format_caption_table(self.result['rows'])}\n{kept}"


def train_captioner(
    dataset: str,
    config: CaptionRunConfig,
    *,
    image_encoder: str = defaults.IMAGE_ENCODER,
    cache_dir: Path | None = None,
    log: Callable[[str], None] = print,
) -> CaptionTrainResult:
    """Fit ``config.archs`` on ``dataset``'s train split, pick on validation, score on test.

    A ``config.holdout`` of 0 asks for the chosen type refitted on every item: the choice is
    still made on the default held-out split, then :meth:`CaptionTrainResult.save` refits.
    """
    from pictext.caption.runs import run_captions
    from pictext.data import load_dataset
    from pictext.store import embed_dataset

    ds = load_dataset(dataset)
    feats = embed_dataset(ds, image_encoder, None, cache_dir=cache_dir)
    refit = config.holdout == 0
    if refit:
        config = replace(config, holdout=defaults.CAPTION_HOLDOUT)
    result = run_captions(ds, feats, config, log=log)
    return CaptionTrainResult(ds, feats, config, result, refit)

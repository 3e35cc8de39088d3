"""Model-side speed of the encoders: ONNX Runtime ceiling, eager torch, preprocessing, text.

Run: ``.venv/bin/python bench/embed_models.py`` (prints a table; ``--help`` for sizes).
The functions are imported by ``bench/embed.py`` for the end-to-end comparison.
Figures are wall-clock on whatever machine runs it; repeat runs on a shared box vary.
"""

from __future__ import annotations

import argparse
import glob
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from pictext.encoders import create_encoder, list_encoders

TUXPAINT = "/usr/share/tuxpaint/stamps"


def _rate(count: int, fn: Callable[[], object]) -> float:
    """Items per second of ``fn`` processing ``count`` items (one warm-up call first)."""
    fn()
    start = time.perf_counter()
    fn()
    return count / (time.perf_counter() - start)


def ort_ceiling(encoder: object, n: int = 256, batch: int = 32) -> float:
    """Model-only images/s of ``encoder.encode_batch`` on ready float32 batches.

    Args:
        encoder: An image encoder (its default runtime: ONNX Runtime).
        n: Images per timed pass (rounded up to whole batches).
        batch: Images per call.
    """
    size = encoder.image_size
    x = np.random.default_rng(0).uniform(-1, 1, (batch, 3, size, size)).astype(np.float32)
    calls = max(1, -(-n // batch))

    def run() -> None:
        for _ in range(calls):
            encoder.encode_batch(x)

    return _rate(calls * batch, run)


def eager_torch_one_by_one(
    encoder: object, n: int = 32, images: Sequence[Image.Image] | None = None
) -> float:
    """Images/s of the eager torch module called on one image at a time.

    Args:
        encoder: An image encoder exposing ``torch_module()``.
        n: Images per timed pass (ignored when ``images`` is given).
        images: Decoded images; if given, their preprocessing is timed too (a naive pipeline).
    """
    import torch

    module = encoder.torch_module()
    size = encoder.image_size
    if images is None:
        ready = torch.from_numpy(
            np.random.default_rng(0).uniform(-1, 1, (n, 1, 3, size, size)).astype(np.float32)
        )

        def run() -> None:
            with torch.inference_mode():
                for x in ready:
                    module(x)

        return _rate(n, run)

    def run_with_preprocess() -> None:
        with torch.inference_mode():
            for im in images:
                module(torch.from_numpy(encoder.preprocess(im))[None])

    return _rate(len(images), run_with_preprocess)


def preprocess_times(
    encoder: object, paths: Sequence[Path], batch: int = 32
) -> tuple[float, float]:
    """Mean milliseconds per image to decode (``Image.open`` + ``load``) and to preprocess.

    Preprocessing is timed as ``encoder.preprocess_batch`` over batches of ``batch``.
    """
    start = time.perf_counter()
    images = []
    for p in paths:
        im = Image.open(p)
        im.load()
        images.append(im)
    decode = time.perf_counter() - start
    encoder.preprocess_batch(images[:batch])  # warm-up
    start = time.perf_counter()
    for i in range(0, len(images), batch):
        encoder.preprocess_batch(images[i : i + batch])
    prep = time.perf_counter() - start
    return 1e3 * decode / len(paths), 1e3 * prep / len(paths)


def text_rate(encoder: object, sentences: Sequence[str]) -> float:
    """Sentences/s of ``encoder.encode`` over all ``sentences`` in one call."""
    return _rate(len(sentences), lambda: encoder.encode(list(sentences)))


def tuxpaint_pngs(limit: int) -> list[Path]:
    """Real RGBA stamps (sorted, first ``limit``)."""
    paths = sorted(glob.glob(f"{TUXPAINT}/**/*.png", recursive=True))
    return [Path(p) for p in paths if "_mirror" not in p][:limit]


def tuxpaint_sentences(limit: int) -> list[str]:
    """English first lines of the stamps' .txt files: short real captions."""
    out = []
    for p in sorted(glob.glob(f"{TUXPAINT}/**/*.txt", recursive=True)):
        line = Path(p).read_text(encoding="utf-8", errors="replace").splitlines()
        if line and line[0].strip():
            out.append(line[0].strip())
    return out[:limit]


def main(argv: Sequence[str] | None = None) -> None:
    """Print the table of model-side rates."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256, help="images per ONNX timing pass")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--eager-n", type=int, default=32, help="images per eager pass")
    parser.add_argument("--images", type=int, default=200, help="tuxpaint PNGs to preprocess")
    parser.add_argument("--sentences", type=int, default=800)
    args = parser.parse_args(argv)

    paths = tuxpaint_pngs(args.images)
    rows = []
    for name in list_encoders("image"):
        enc = create_encoder(name)
        enc.prepare()
        dec_ms, prep_ms = preprocess_times(enc, paths)
        rows.append(
            (
                f"{name} ONNX Runtime, batch {args.batch}",
                ort_ceiling(enc, args.n, args.batch),
                "img/s",
            )
        )
        rows.append(
            (
                f"{name} eager torch, 1 image/call",
                eager_torch_one_by_one(enc, args.eager_n),
                "img/s",
            )
        )
        rows.append((f"{name} decode PNG ({len(paths)} tuxpaint)", dec_ms, "ms/img"))
        rows.append((f"{name} preprocess ({enc.image_size} px)", prep_ms, "ms/img"))
    sentences = tuxpaint_sentences(args.sentences)
    mean_words = np.mean([len(s.split()) for s in sentences])
    for name in list_encoders("text"):
        enc = create_encoder(name)
        enc.prepare()
        label = f"{name} ({len(sentences)} tuxpaint captions, {mean_words:.1f} words)"
        rows.append((label, text_rate(enc, sentences), "sent/s"))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>9}  unit")
    for label, value, unit in rows:
        print(f"{label:<{width}}  {value:>9.1f}  {unit}")


if __name__ == "__main__":
    main()

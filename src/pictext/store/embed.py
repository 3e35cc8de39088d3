"""Compute each embedding once per (content, encoder name + version) and read it back fast."""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pictext.core.paths import cache_dir as default_cache_dir
from pictext.data.errors import ItemError
from pictext.data.item import text_key
from pictext.store.cache import KEY_DTYPE, VectorCache
from pictext.store.features import TEXT_INPUTS, Features

if TYPE_CHECKING:
    from pictext.data.dataset import Dataset
    from pictext.data.item import Item
    from pictext.encoders.base import ImageEncoder, TextEncoder

CHUNK = 512  # images per cache shard: a kill loses at most this much work


@dataclass
class EmbedReport:
    """What one embedding run did."""

    items: int = 0  # items in the dataset
    images_cached: int = 0  # image embeddings found in the cache
    images_computed: int = 0  # image embeddings computed in this run
    texts_cached: int = 0  # distinct texts found in the cache
    texts_computed: int = 0  # distinct texts encoded in this run
    failures: list[tuple[str, str]] = field(default_factory=list)  # (item id, problem)
    seconds: float = 0.0  # wall time of the run
    image_seconds: float = 0.0  # wall time spent on images that were not cached

    @property
    def images_per_second(self) -> float:
        return self.images_computed / self.image_seconds if self.image_seconds else 0.0


def encoder_cache(root: Path, encoder: ImageEncoder | TextEncoder) -> VectorCache:
    """The vector cache of one encoder name + version under ``root``."""
    return VectorCache(root / "embeddings" / f"{encoder.name}@{encoder.version}", encoder.dim)


def _image_keys(items: Sequence[Item], report: EmbedReport) -> tuple[np.ndarray, np.ndarray]:
    from pictext.data.images import image_content_key

    keys = np.zeros(len(items), KEY_DTYPE)
    ok = np.zeros(len(items), bool)
    for i, item in enumerate(items):
        if not item.has_image():
            continue
        try:
            keys[i] = image_content_key(item)
            ok[i] = True
        except ItemError as err:
            report.failures.append((err.item_id, err.problem))
    return keys, ok


def _decode(item: Item, encoder: ImageEncoder) -> np.ndarray | ItemError:
    from pictext.data.images import load_image

    try:
        return encoder.pixels(load_image(item, size=encoder.image_size))
    except ItemError as err:
        return err


_Batch = tuple[list[int], np.ndarray, list[ItemError]]


def _batches(
    items: Sequence[Item], encoder: ImageEncoder, batch_size: int, workers: int
) -> Iterator[_Batch]:
    """Decoded batches, produced by a thread pool a few batches ahead of the encoder.

    The window is bounded so memory stays flat however many items there are.
    """
    window = max(2 * batch_size, 4 * workers)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future[np.ndarray | ItemError]] = deque()
        nxt = 0
        pos: list[int] = []
        arrays: list[np.ndarray] = []
        errors: list[ItemError] = []
        for i in range(len(items)):
            while nxt < len(items) and len(pending) < window:
                pending.append(pool.submit(_decode, items[nxt], encoder))
                nxt += 1
            res = pending.popleft().result()
            if isinstance(res, ItemError):
                errors.append(res)
            else:
                pos.append(i)
                arrays.append(res)
            if len(arrays) == batch_size or i == len(items) - 1:
                yield (
                    pos,
                    encoder.normalize_batch(np.stack(arrays)) if arrays else np.empty(0),
                    errors,
                )
                pos, arrays, errors = [], [], []


def _ahead(batches: Iterator[_Batch], depth: int = 2) -> Iterator[_Batch]:
    """Run the batch producer in its own thread, ``depth`` batches ahead of the consumer.

    The encoder then never waits for the last decode and the normalisation of a batch.
    """
    box: queue.Queue[_Batch | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        box.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            box.put(None)
        except BaseException as err:  # handed to the consumer, which re-raises it
            box.put(err)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        while (got := box.get()) is not None:
            if isinstance(got, BaseException):
                raise got
            yield got
    finally:
        stop.set()
        thread.join()


def embed_images(
    items: Sequence[Item],
    encoder: ImageEncoder,
    cache: VectorCache,
    report: EmbedReport,
    *,
    batch_size: int = 32,
    workers: int = 2,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Image embeddings of ``items`` (zeros + False mask where missing or failed)."""
    keys, ok = _image_keys(items, report)
    found = cache.contains(keys) & ok
    todo = np.flatnonzero(ok & ~found)
    # Identical images are embedded once.
    _, first = np.unique(keys[todo], return_index=True)
    todo = todo[np.sort(first)]
    report.images_cached = int(found.sum())
    start = time.perf_counter()
    if len(todo):
        bar = _progress(len(todo), f"images {encoder.name}", progress)
        for lo in range(0, len(todo), CHUNK):
            chunk = todo[lo : lo + CHUNK]
            got_keys, got_vecs = [], []
            chunk_items = [items[i] for i in chunk]
            batches = _batches(chunk_items, encoder, batch_size, workers)
            for pos, batch, errors in _ahead(batches):
                for err in errors:
                    report.failures.append((err.item_id, err.problem))
                if len(pos):
                    got_vecs.append(encoder.encode_batch(batch))
                    got_keys.append(keys[chunk[pos]])
                bar(len(pos) + len(errors))
            if got_keys:
                vecs = np.concatenate(got_vecs)
                cache.put(np.concatenate(got_keys), vecs)
                report.images_computed += len(vecs)
        bar(0, done=True)
    report.image_seconds = time.perf_counter() - start
    vecs, mask = cache.get(keys)
    return vecs, mask & ok


def embed_texts(
    texts: Sequence[str],
    encoder: TextEncoder,
    cache: VectorCache,
    report: EmbedReport,
    *,
    batch_size: int = 256,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Text embeddings (zeros + False mask for empty strings); each distinct text encoded once."""
    present = np.array([bool(t.strip()) for t in texts], bool)
    keys = np.array([text_key(t) for t in texts], KEY_DTYPE)
    found = cache.contains(keys)
    want = present & ~found
    missing = {texts[i]: keys[i] for i in np.flatnonzero(want)}
    report.texts_cached += len(np.unique(keys[present & found]))
    if missing:
        todo = list(missing)
        bar = _progress(len(todo), f"texts {encoder.name}", progress)
        for lo in range(0, len(todo), 4 * CHUNK):
            part = todo[lo : lo + 4 * CHUNK]
            vecs = np.concatenate(
                [encoder.encode(part[b : b + batch_size]) for b in range(0, len(part), batch_size)]
            )
            cache.put(np.array([missing[t] for t in part], KEY_DTYPE), vecs)
            report.texts_computed += len(part)
            bar(len(part))
        bar(0, done=True)
    vecs, mask = cache.get(keys)
    return vecs, mask & present


def _resolve(encoder: str | ImageEncoder | TextEncoder) -> ImageEncoder | TextEncoder:
    if not isinstance(encoder, str):
        return encoder
    from pictext.encoders import create_encoder

    return create_encoder(encoder)


def _progress(total: int, label: str, enabled: bool) -> Callable[..., None]:
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=label, unit="item", disable=not enabled, smoothing=0.1)

    def step(n: int, done: bool = False) -> None:
        bar.update(n)
        if done:
            bar.close()

    return step


def embed_dataset(
    dataset: Dataset,
    image_encoder: str | ImageEncoder | None = "efficientnet-lite0",
    text_encoder: str | TextEncoder | None = "use",
    *,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    batch_size: int = 32,
    workers: int = 2,
    report: EmbedReport | None = None,
) -> Features:
    """Embeddings of every item, computing only what the cache lacks.

    Items that fail (a corrupt image, an SVG that does not render) are reported in
    ``report.failures`` and get a False mask; nothing about them is cached.

    Args:
        dataset: the items to embed.
        image_encoder: registry name or encoder; None skips images.
        text_encoder: registry name or encoder; None skips text. Encodes the fields
            title, description, tags and their concatenation ``text``.
        cache_dir: cache root (default: :func:`pictext.core.paths.cache_dir`).
        progress: show progress bars with rate and ETA.
        batch_size: images per encoder call.
        workers: decoding threads running ahead of the encoder.
        report: filled in with counts, failures and timings when given.

    Example:
        >>> from pictext.data import load_dataset  # doctest: +SKIP
        >>> feats = embed_dataset(load_dataset("tuxpaint"))  # doctest: +SKIP
        >>> feats.image.shape, feats.text["title"].shape  # doctest: +SKIP
        ((950, 1280), (950, 512))
    """
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    report = report if report is not None else EmbedReport()
    report.items = len(dataset)
    start = time.perf_counter()
    feats = Features(ids=[it.id for it in dataset.items])
    if image_encoder is not None:
        enc = _resolve(image_encoder)
        feats.image, feats.image_mask = embed_images(
            dataset.items,
            enc,
            encoder_cache(root, enc),
            report,
            batch_size=batch_size,
            workers=workers,
            progress=progress,
        )
        feats.image_encoder = f"{enc.name}@{enc.version}"
    if text_encoder is not None:
        tenc = _resolve(text_encoder)
        cache = encoder_cache(root, tenc)
        for name in TEXT_INPUTS:
            texts = [it.field_text(name) for it in dataset.items]
            feats.text[name], feats.text_mask[name] = embed_texts(
                texts, tenc, cache, report, progress=progress
            )
        feats.text_encoder = f"{tenc.name}@{tenc.version}"
    report.seconds = time.perf_counter() - start
    return feats

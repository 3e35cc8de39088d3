"""Compute each embedding once per (content, encoder name + version) and read it back fast.

:func:`embed_items` is the one path for new inputs (the CLI, the service, workers): items in,
``(Features, failures)`` out, cached on disk or in memory. :func:`embed_dataset` runs it over
a dataset.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from pictext.core.defaults import IMAGE_ENCODER, SHARD_ROWS, STORE_DTYPE, TEXT_ENCODER
from pictext.core.paths import cache_dir as default_cache_dir
from pictext.data.budgets import cap_items_text
from pictext.data.errors import ItemError
from pictext.data.item import text_key
from pictext.store.cache import KEY_DTYPE, VectorCache, cache_state_error
from pictext.store.composite import CompositeEncoder, join, parts_of
from pictext.store.failures import Failure
from pictext.store.features import TEXT_INPUTS, Features
from pictext.store.pipeline import Batch, decoded_batches, run_ahead
from pictext.store.pool import EncoderSource, encoder_for

if TYPE_CHECKING:
    from pictext.data.dataset import Dataset
    from pictext.data.item import Item
    from pictext.encoders.base import ImageEncoder, TextEncoder
    from pictext.store.memory import MemoryCache

CHUNK = SHARD_ROWS  # images per cache shard: a kill loses at most this much work


class KeyedVectors(Protocol):
    """Where embeddings are kept by content key: :class:`VectorCache` or a memory cache."""

    def contains(self, keys: np.ndarray) -> np.ndarray: ...

    def get(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def put(self, keys: np.ndarray, vecs: np.ndarray) -> object: ...


@dataclass
class EmbedReport:
    """What one embedding run did."""

    items: int = 0  # items in the dataset
    images_cached: int = 0  # image embeddings found in the cache
    images_computed: int = 0  # image embeddings computed in this run
    texts_cached: int = 0  # distinct texts found in the cache
    texts_computed: int = 0  # distinct texts encoded in this run
    failures: list[Failure] = field(default_factory=list)  # (item id, problem) per failure
    embedded: int = 0  # items with a vector: their image (or, without images, some text)
    no_input: int = 0  # items with nothing to embed: no image (or, without images, no text)
    empty_text: int = 0  # items with no text at all (kept; also counted in one of the above)
    set_aside: list[str] = field(default_factory=list)  # damaged cache shards, one line each
    refused_text: list[str] = field(default_factory=list)  # texts that are not text (NUL...)
    seconds: float = 0.0  # wall time of the run
    image_seconds: float = 0.0  # wall time spent on images that were not cached

    @property
    def images_per_second(self) -> float:
        return self.images_computed / self.image_seconds if self.image_seconds else 0.0

    @property
    def failed(self) -> int:
        """Items that could not be read: ``embedded + failed + no_input == items``."""
        return len({f.item_id for f in self.failures})


def encoder_cache(
    root: Path, encoder: ImageEncoder | TextEncoder, dtype: str = STORE_DTYPE, *, read: bool = True
) -> VectorCache:
    """The vector cache of one encoder name + version under ``root`` (``read=False``: opened
    for writing only, no shard read)."""
    folder = root / "embeddings" / f"{encoder.name}@{encoder.version}"
    return VectorCache(folder, encoder.dim, dtype, read=read)


def image_keys(items: Sequence[Item], report: EmbedReport) -> tuple[np.ndarray, np.ndarray]:
    """Content keys of the items' images and the mask of those read (failures reported)."""
    from pictext.data.images import image_cache_key

    keys = np.zeros(len(items), KEY_DTYPE)
    ok = np.zeros(len(items), bool)
    for i, item in enumerate(items):
        if not item.has_image():
            continue
        try:
            keys[i] = image_cache_key(item)
            ok[i] = True
        except ItemError as err:
            report.failures.append(Failure(err.item_id, err.problem))
    return keys, ok


@dataclass
class ShardResult:
    """What :func:`embed_shard` made of one shard's items."""

    keys: np.ndarray  # |S20 [n]: content keys of the vectors made (and cached)
    vecs: np.ndarray  # float32 [n, D]: the vectors, as the encoder returned them
    failures: list[Failure]  # items that could not be decoded
    name: str | None = None  # the shard written (None: nothing, or a memory cache)


def embed_shard(
    encoder: ImageEncoder,
    keys: np.ndarray,
    batches: Iterable[Batch],
    cache: KeyedVectors,
    step: Callable[[int], None] | None = None,
) -> ShardResult:
    """Encode one shard's decoded batches and keep the vectors in ``cache`` as one shard.

    The one embedding step: the in-process run (:func:`embed_images`) and the Ray encoder
    actors (:mod:`pictext.store.ray_embed`) both call it on a shard's batches, so the same
    items give the same vectors either way.

    Args:
        encoder: the image encoder.
        keys: content keys of the shard's items, in the order ``batches`` refer to them.
        batches: ``(positions in keys, normalised pixels, errors)`` from
            :func:`~pictext.store.pipeline.decoded_batches`.
        cache: where the shard goes (one atomic write: a kill loses at most this shard).
        step: called with the number of items done after each batch (progress).
    """
    got_keys, got_vecs, failures = [], [], []
    for pos, batch, errors in batches:
        failures += [Failure(err.item_id, err.problem) for err in errors]
        if len(pos):
            got_vecs.append(encoder.encode_batch(batch))
            got_keys.append(keys[pos])
        if step is not None:
            step(len(pos) + len(errors))
    if not got_keys:
        return ShardResult(np.empty(0, KEY_DTYPE), np.empty((0, encoder.dim), np.float32), failures)
    result = ShardResult(np.concatenate(got_keys), np.concatenate(got_vecs), failures)
    written = cache.put(result.keys, result.vecs)
    result.name = written if isinstance(written, str) else None
    return result


def images_to_embed(keys: np.ndarray, ok: np.ndarray, cached: np.ndarray) -> np.ndarray:
    """Positions of the images to compute: readable, not cached, each content once."""
    todo = np.flatnonzero(ok & ~cached)
    _, first = np.unique(keys[todo], return_index=True)
    return todo[np.sort(first)]


def embed_images(
    items: Sequence[Item],
    encoder: ImageEncoder,
    cache: KeyedVectors,
    report: EmbedReport,
    *,
    batch_size: int = 32,
    workers: int = 2,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Image embeddings of ``items`` (zeros + False mask where missing or failed)."""
    keys, ok = image_keys(items, report)
    found = cache.contains(keys) & ok
    todo = images_to_embed(keys, ok, found)
    report.images_cached += int(found.sum())
    _reserve(cache, len(todo))
    start = time.perf_counter()
    computed: list[tuple[np.ndarray, np.ndarray]] = []  # (keys, vectors) made in this run
    if len(todo):
        bar = progress_bar(len(todo), f"images {encoder.name}", progress)
        for lo in range(0, len(todo), CHUNK):
            chunk = todo[lo : lo + CHUNK]
            batches = decoded_batches([items[i] for i in chunk], encoder, batch_size, workers)
            shard = embed_shard(encoder, keys[chunk], run_ahead(batches), cache, bar)
            report.failures.extend(shard.failures)
            if len(shard.keys):
                computed.append((shard.keys, shard.vecs))
                report.images_computed += len(shard.keys)
        bar(0, done=True)
    report.image_seconds += time.perf_counter() - start
    vecs, mask = _read_back(cache, keys, computed)
    return vecs, mask & ok


def _read_back(
    cache: KeyedVectors, keys: np.ndarray, computed: list[tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """Vectors of ``keys`` from the cache; what a bounded (memory) cache already dropped again
    is taken from the vectors computed in this run."""
    vecs, mask = cache.get(keys)
    if computed and not mask.all():
        made_keys = np.concatenate([k for k, _ in computed]).tolist()
        made = dict(zip(made_keys, np.concatenate([v for _, v in computed]), strict=True))
        for i in np.flatnonzero(~mask):
            hit = made.get(bytes(keys[i]))
            if hit is not None:
                vecs[i], mask[i] = hit, True
    return vecs, mask


def embed_texts(
    texts: Sequence[str],
    encoder: TextEncoder,
    cache: KeyedVectors,
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
    computed: list[tuple[np.ndarray, np.ndarray]] = []
    _reserve(cache, len(missing))
    if missing:
        todo = list(missing)
        bar = progress_bar(len(todo), f"texts {encoder.name}", progress)
        for lo in range(0, len(todo), 4 * CHUNK):
            part = todo[lo : lo + 4 * CHUNK]
            vecs = np.concatenate(
                [encoder.encode(part[b : b + batch_size]) for b in range(0, len(part), batch_size)]
            )
            part_keys = np.array([missing[t] for t in part], KEY_DTYPE)
            cache.put(part_keys, vecs)
            computed.append((part_keys, np.asarray(vecs, np.float32)))
            report.texts_computed += len(part)
            bar(len(part))
        bar(0, done=True)
    vecs, mask = _read_back(cache, keys, computed)
    return vecs, mask & present


def _reserve(cache: KeyedVectors, n: int) -> None:
    """Refuse before the work when a disk cache has no room for ``n`` vectors."""
    reserve = getattr(cache, "reserve", None)  # a memory cache has no disk to fill
    if reserve is not None and n:
        reserve(n)


def _resolve(
    encoder: str | ImageEncoder | TextEncoder, encoders: EncoderSource | None
) -> ImageEncoder | TextEncoder:
    """An encoder object from a registry name or ``name@version`` (see :func:`encoder_for`)."""
    return encoder_for(encoder, encoders) if isinstance(encoder, str) else encoder


def progress_bar(total: int, label: str, enabled: bool) -> Callable[..., None]:
    """Progress with rate and ETA: ``step(n)`` after ``n`` items, ``step(0, done=True)``.

    A tqdm bar on a terminal, a plain line every few seconds in a log (:mod:`pictext.core.console`).
    """
    from pictext.core.console import progress

    bar = progress(total=total, desc=label, unit="item", enabled=enabled)

    def step(n: int, done: bool = False) -> None:
        bar.update(n)
        if done:
            bar.close()

    return step


def embed_items(
    items: Sequence[Item],
    image_encoder: str | ImageEncoder | None,
    text_encoder: str | TextEncoder | None,
    *,
    encoders: EncoderSource | None = None,
    cache_dir: str | Path | None = None,
    memory: MemoryCache | None = None,
    text_inputs: Sequence[str] = TEXT_INPUTS,
    progress: bool = False,
    batch_size: int = 32,
    workers: int = 2,
    report: EmbedReport | None = None,
    store_dtype: str = STORE_DTYPE,
) -> tuple[Features, list[Failure]]:
    """Embeddings of new inputs, and the items that could not be read.

    The one path every front end takes: ``pictext tag``/``verify``/``similar``/``caption``,
    the service's uploads (in-memory pixels, text-only queries) and embedding workers. An
    item that fails (a missing file, a corrupt image, an SVG that does not render) gets a
    False mask and is returned in the failures: a caller must not answer for it as if it
    had been read (see :func:`require_read`). Text over its budget (``MAX_TEXT_CHARS``,
    ``MAX_TAGS``) is cut before it is encoded; the cuts are in ``features.truncated``.

    Args:
        items: the items; an image is a path or in-memory ``pixels``.
        image_encoder: encoder, registry name or recorded ``name@version``, or a composite
            (``a+b``, :mod:`pictext.store.composite`: each part read from its own cache);
            None skips images.
        text_encoder: the same for text; None skips text.
        encoders: builds a named encoder (e.g. an :class:`~pictext.store.pool.EncoderPool`);
            default: the registry, recorded versions checked.
        cache_dir: disk cache root (default: :func:`pictext.core.paths.cache_dir`).
        memory: keep the embeddings in this memory cache instead; nothing touches the disk.
        text_inputs: the text fields to embed (``title``, ``description``, ``tags``, ``text``).
        progress: show progress bars with rate and ETA.
        batch_size: images per encoder call.
        workers: decoding threads running ahead of the encoder.
        report: filled in with counts, failures and timings when given.
        store_dtype: how new vectors are stored on disk (``float32`` or ``float16``).

    Returns:
        ``(features, failures)``, features row-aligned with ``items``.

    Example:
        >>> from pictext.data.item import Item  # doctest: +SKIP
        >>> feats, failed = embed_items([Item("a", "a.png", title="a cat")], "efficientnet-lite0",
        ...                             "use")  # doctest: +SKIP
    """
    report = report if report is not None else EmbedReport()
    report.items = len(items)
    start = time.perf_counter()
    caches = _caches(cache_dir, memory, store_dtype)
    feats = Features(ids=[it.id for it in items])
    # Every cache is opened (a read-only one refused, damaged shards set aside) before work;
    # a composite encoder's parts each have their own (store.composite).
    enc = _resolve(image_encoder, encoders) if image_encoder is not None else None
    tenc = _resolve(text_encoder, encoders) if text_encoder is not None else None
    image_parts = [(p, caches(p)) for p in parts_of(enc)] if enc is not None else []
    text_parts = [(p, caches(p)) for p in parts_of(tenc)] if tenc is not None else []
    if enc is not None:
        feats.image, feats.image_mask = _joined(
            enc,
            [
                embed_images(
                    items,
                    part,
                    cache,
                    report,
                    batch_size=batch_size,
                    workers=workers,
                    progress=progress,
                )
                for part, cache in image_parts
            ],
        )
        feats.image_encoder = f"{enc.name}@{enc.version}"
    if tenc is not None:
        within, feats.truncated = cap_items_text(items)  # the one text budget
        within = _refuse_binary_text(within, text_inputs, report)  # the one text rule
        for name in text_inputs:
            texts = [it.field_text(name) for it in within]
            feats.text[name], feats.text_mask[name] = _joined(
                tenc,
                [
                    embed_texts(texts, part, cache, report, progress=progress)
                    for part, cache in text_parts
                ],
            )
        feats.text_encoder = f"{tenc.name}@{tenc.version}"
    for _, opened in image_parts + text_parts:  # set aside when opened or when first read
        report.set_aside.extend(getattr(opened, "set_aside", []))
    report.set_aside = list(dict.fromkeys(report.set_aside))
    if len(image_parts) > 1:  # each part met the same unreadable items
        report.failures = list(dict.fromkeys(report.failures))
    _count(feats, items, report)
    report.seconds = time.perf_counter() - start
    return feats, list(report.failures)


def _refuse_binary_text(
    items: Sequence[Item], fields: Sequence[str], report: EmbedReport
) -> list[Item]:
    """Items whose text is not text (a NUL, bytes never UTF-8: the rule of
    :func:`~pictext.store.failures.text_failures`, as answers apply it) lose their text,
    named in ``report.refused_text``; their image is still embedded."""
    from dataclasses import replace

    from pictext.store.failures import text_failures

    bad = {f.item_id: f.problem for f in text_failures(items, fields)}
    report.refused_text.extend(f"{i}: {p}; its text was not embedded" for i, p in bad.items())
    if not bad:
        return list(items)
    return [replace(it, title="", description="", tags=()) if it.id in bad else it for it in items]


def _joined(
    encoder: object, parts: list[tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """One encoder's ``(vectors, mask)``: its own, or a composite's parts joined."""
    return join(parts) if isinstance(encoder, CompositeEncoder) else parts[0]


def _count(feats: Features, items: Sequence[Item], report: EmbedReport) -> None:
    """The summary's item counts (``embedded + failed + no_input == items``), items with no
    text."""
    if feats.image_mask is not None:
        got = feats.image_mask
    elif feats.text_mask:
        got = np.logical_or.reduce(list(feats.text_mask.values()))
    else:
        got = np.zeros(len(items), bool)
    report.embedded = int(np.asarray(got, bool).sum())
    report.no_input = report.items - report.embedded - report.failed
    report.empty_text = sum(not it.text.strip() for it in items)


def store_root(cache_dir: str | Path | None) -> Path:
    """The cache root: ``cache_dir``, else the user's (:func:`pictext.core.paths.cache_dir`).

    Raises:
        StateError: the default cache folder cannot be made.
    """
    if cache_dir is not None:
        return Path(cache_dir)
    try:
        return default_cache_dir()
    except OSError as err:
        where = Path(err.filename) if err.filename else Path("PICTEXT_CACHE")
        raise cache_state_error(where, err, "nothing was embedded") from err


def _caches(
    cache_dir: str | Path | None, memory: MemoryCache | None, dtype: str = STORE_DTYPE
) -> Callable[[ImageEncoder | TextEncoder], KeyedVectors]:
    """Encoder -> where its vectors are kept: the memory cache, else the disk cache."""
    if memory is not None:
        return memory.vectors
    root = store_root(cache_dir)
    return lambda encoder: encoder_cache(root, encoder, dtype)


def embed_dataset(
    dataset: Dataset,
    image_encoder: str | ImageEncoder | None = IMAGE_ENCODER,
    text_encoder: str | TextEncoder | None = TEXT_ENCODER,
    *,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    batch_size: int = 32,
    workers: int = 2,
    report: EmbedReport | None = None,
    store_dtype: str = STORE_DTYPE,
) -> Features:
    """Embeddings of every item of a dataset, computing only what the cache lacks.

    :func:`embed_items` over ``dataset.items``. Items that fail (a corrupt image, an SVG
    that does not render) are reported in ``report.failures`` and get a False mask; nothing
    about them is cached.

    Args:
        dataset: the items to embed.
        image_encoder: registry name (or ``name@version``) or encoder; None skips images.
        text_encoder: registry name or encoder; None skips text. Encodes the fields
            title, description, tags and their concatenation ``text``.
        cache_dir: cache root (default: :func:`pictext.core.paths.cache_dir`).
        progress: show progress bars with rate and ETA.
        batch_size: images per encoder call.
        workers: decoding threads running ahead of the encoder.
        report: filled in with counts, failures and timings when given.
        store_dtype: how new vectors are stored on disk (``float32`` or ``float16``).

    Example:
        >>> from pictext.data import load_dataset  # doctest: +SKIP
        >>> feats = embed_dataset(load_dataset("tuxpaint"))  # doctest: +SKIP
        >>> feats.image.shape, feats.text["title"].shape  # doctest: +SKIP
        ((950, 1280), (950, 512))
    """
    feats, _ = embed_items(
        dataset.items,
        image_encoder,
        text_encoder,
        cache_dir=cache_dir,
        progress=progress,
        batch_size=batch_size,
        workers=workers,
        report=report,
        store_dtype=store_dtype,
    )
    return feats

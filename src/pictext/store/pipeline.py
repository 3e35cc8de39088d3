"""Decoding images ahead of the encoder: a bounded thread pool, then a producer thread.

Memory stays flat however many items there are, and the encoder never waits for the last
decode and normalisation of a batch.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from pictext.data.errors import ItemError

if TYPE_CHECKING:
    from pictext.data.item import Item
    from pictext.encoders.base import ImageEncoder


TRANSIENT = "transient, not cached: tried again on the next run"


def _decode(item: Item, encoder: ImageEncoder) -> np.ndarray | ItemError:
    """The item's pixels, or the error naming it.

    Running out of memory on one item (others decode in parallel) is a failure of that item
    this time, not a property of its content: it is reported like any failure and, as every
    failure, never cached, so the next run tries it again.
    """
    from pictext.data.images import load_image

    try:
        return encoder.pixels(load_image(item, size=encoder.image_size))
    except ItemError as err:
        return err
    except MemoryError:
        return ItemError(item.id, f"out of memory while decoding the image ({TRANSIENT})")


Batch = tuple[list[int], np.ndarray, list[ItemError]]


def decoded_batches(
    items: Sequence[Item],
    encoder: ImageEncoder,
    batch_size: int,
    workers: int,
    *,
    normalize: bool = True,
) -> Iterator[Batch]:
    """Decoded batches, produced by a thread pool a few batches ahead of the encoder.

    The window is bounded so memory stays flat however many items there are. Each batch is
    ``(positions in items, pixels, errors)``; with ``normalize=False`` the pixels stay the
    encoder's compact ``pixels`` (uint8, what a Ray decode task ships to an encoder actor,
    which calls :func:`normalized`).
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
                stacked = np.stack(arrays) if arrays else np.empty(0)
                yield (
                    pos,
                    encoder.normalize_batch(stacked) if normalize and arrays else stacked,
                    errors,
                )
                pos, arrays, errors = [], [], []


def normalized(batches: Iterable[Batch], encoder: ImageEncoder) -> Iterator[Batch]:
    """Batches of ``decoded_batches(..., normalize=False)`` normalised for the encoder."""
    for pos, pixels, errors in batches:
        yield pos, encoder.normalize_batch(pixels) if len(pos) else pixels, errors


def run_ahead(batches: Iterator[Batch], depth: int = 2) -> Iterator[Batch]:
    """Run the batch producer in its own thread, ``depth`` batches ahead of the consumer.

    The encoder then never waits for the last decode and the normalisation of a batch.
    """
    box: queue.Queue[Batch | BaseException | None] = queue.Queue(maxsize=depth)
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

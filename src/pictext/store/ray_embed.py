"""Embedding a collection on Ray Data: many cores, one machine or a cluster, one cache.

The plan, one row per shard of :data:`~pictext.core.defaults.SHARD_ROWS` items::

    driver: the readers list the items -> rows (shard number, its items)
    tasks:  read + decode (map_batches): content keys, what the cache snapshot lacks, pixels
    actors: one per core, each holding the ONNX encoders on one thread (map_batches with an
            actor pool): embed_shard writes the shard straight into the store
    driver: progress with rate and ETA; the manifest written atomically at the end

The actors call :func:`pictext.store.embed.embed_shard` and the decode tasks
:func:`pictext.store.pipeline.decoded_batches`, the same functions as the in-process run, so
the vectors are those :func:`~pictext.store.embed.embed_dataset` computes, keyed the same way.
A rerun skips what the cache holds; a killed worker is restarted by Ray and its shard done
again; a killed driver loses the shards in flight, which the rerun computes.

Ray is an optional extra (``pip install 'pictext[ray]'``), imported only here, inside the
functions that use it.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pictext.core.defaults import IMAGE_ENCODER, SHARD_ROWS, STORE_DTYPE, TEXT_ENCODER
from pictext.core.errors import PictextError, StateError, UsageError
from pictext.data.budgets import cap_items_text
from pictext.store.embed import (
    EmbedReport,
    embed_shard,
    embed_texts,
    encoder_cache,
    image_keys,
    images_to_embed,
    progress_bar,
    store_root,
)
from pictext.store.failures import Failure
from pictext.store.features import TEXT_INPUTS
from pictext.store.keyindex import in_sorted
from pictext.store.pipeline import decoded_batches, normalized, run_ahead

if TYPE_CHECKING:
    from pictext.data.dataset import Dataset
    from pictext.data.item import Item
    from pictext.store.cache import VectorCache

RAY_MISSING = "--ray needs Ray, which is not installed: pip install 'pictext[ray]'"
DECODE_CPUS = 0.25  # Ray CPUs a read + decode task asks for (decoding is ~1/4 of the work)
ENCODE_CPUS = 1.0 - DECODE_CPUS  # Ray CPUs an encoder actor asks for: one actor per core


def require_ray() -> Any:
    """The ``ray`` module, or the one-line error saying what to install.

    Raises:
        StateError: Ray (``ray[data]``) is not installed.
    """
    try:
        import ray
        import ray.data
    except ImportError as err:
        raise StateError(RAY_MISSING, item="ray", hint="pip install 'pictext[ray]'") from err
    return ray


@dataclass
class RayRun:
    """How a Ray run went, beside its :class:`~pictext.store.embed.EmbedReport`."""

    actors: int = 0  # encoder actors (one per core)
    shards: int = 0  # item shards planned (rows of the Ray dataset)
    written: list[str] = field(default_factory=list)  # image shards written in this run
    manifest: str = ""  # the image store's manifest, written at the end
    seconds: float = 0.0  # from the first shard handed to Ray to the last one back
    image_encoder: str = ""  # recorded "name@version" of the image encoder ("" when none)
    text_encoder: str = ""  # the same for text


@dataclass
class _Work:
    """What a decode task hands an encoder actor for one shard."""

    items: list[Item]
    keys: np.ndarray  # content keys of the images to compute, in batch order
    batches: list[tuple[list[int], np.ndarray, list[Failure]]]  # raw uint8 pixels
    failures: list[Failure]  # items whose image could not be read or keyed
    cached: int  # images of the shard the cache already held
    readable: int  # images that could be keyed


def decode_shard(
    batch: dict[str, np.ndarray], *, encoder: Any, cached: Any, batch_size: int
) -> dict[str, np.ndarray]:
    """Ray task: key the shard's images, keep those the snapshot lacks, decode them."""
    import ray

    snapshot = ray.get(cached) if encoder is not None else None
    out = []
    for blob in batch["items"]:
        items: list[Item] = pickle.loads(blob)
        report = EmbedReport()
        work = _Work(items, np.empty(0, "S20"), [], [], 0, 0)
        if encoder is not None:
            keys, ok = image_keys(items, report)
            found = in_sorted(snapshot, keys)[1] & ok
            todo = images_to_embed(keys, ok, found)
            raw = decoded_batches([items[i] for i in todo], encoder, batch_size, 1, normalize=False)
            work.keys = keys[todo]
            work.batches = [
                (p, px, [Failure(e.item_id, e.problem) for e in er]) for p, px, er in raw
            ]
            work.failures = report.failures
            work.cached, work.readable = int(found.sum()), int(ok.sum())
        out.append(pickle.dumps(work, protocol=5))
    return {"chunk": batch["chunk"], "work": np.array(out, dtype=object)}


class ShardEncoder:
    """Ray actor: holds the encoders (one thread each) and writes each shard into the store."""

    def __init__(
        self, image_encoder: Any, text_encoder: Any, root: str, dtype: str, text_inputs: list[str]
    ) -> None:
        self.enc, self.tenc, self.text_inputs = image_encoder, text_encoder, text_inputs
        root_path = Path(root)
        for enc in (self.enc, self.tenc):
            if enc is not None and callable(getattr(enc, "prepare", None)):
                enc.prepare()
        # Images are looked up by the decode tasks (the snapshot): the actor only writes.
        self.image_cache = (
            encoder_cache(root_path, self.enc, dtype, read=False) if self.enc else None
        )
        self.text_cache = encoder_cache(root_path, self.tenc, dtype) if self.tenc else None

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        got = []
        for blob in batch["work"]:
            try:
                got.append(pickle.dumps(self.embed(pickle.loads(blob))))
            except PictextError as err:  # a refusal (a full disk...) goes back as itself:
                got.append(pickle.dumps({"error": err}))  # Ray's wrapping would lose it
        return {"chunk": batch["chunk"], "result": np.array(got, dtype=object)}

    def embed(self, work: _Work) -> dict[str, Any]:
        """One shard: the images through embed_shard, the texts through embed_texts."""
        report = EmbedReport(items=len(work.items), failures=list(work.failures))
        report.images_cached, shard = work.cached, ""
        if self.enc is not None and self.image_cache is not None and len(work.keys):
            batches = run_ahead(normalized(iter(work.batches), self.enc))
            result = embed_shard(self.enc, work.keys, batches, self.image_cache)
            report.failures += result.failures
            report.images_computed, shard = len(result.keys), result.name or ""
        if self.tenc is not None and self.text_cache is not None:
            within, _ = cap_items_text(work.items)
            for name in self.text_inputs:
                texts = [it.field_text(name) for it in within]
                embed_texts(texts, self.tenc, self.text_cache, report, progress=False)
        failed = report.failed
        if self.enc is not None:
            decode_failed = {f.item_id for f in report.failures[len(work.failures) :]}
            report.embedded = work.readable - len(decode_failed)
        else:
            report.embedded = sum(bool(it.text.strip()) for it in work.items)
        report.no_input = report.items - report.embedded - failed
        report.empty_text = sum(not it.text.strip() for it in work.items)
        return {"report": report, "shard": shard}


def _merge(total: EmbedReport, part: EmbedReport) -> None:
    for name in (
        "images_cached",
        "images_computed",
        "texts_cached",
        "texts_computed",
        "embedded",
        "no_input",
        "empty_text",
    ):
        setattr(total, name, getattr(total, name) + getattr(part, name))
    total.failures.extend(part.failures)


def _start(ray: Any, address: str | None, num_cpus: int | None) -> bool:
    """Connect to ``address`` or start a local Ray; True when this call started it."""
    if ray.is_initialized():
        return False
    if address is not None and num_cpus is not None:
        raise UsageError("--num-cpus is for a local Ray; a cluster has its own", item="--num-cpus")
    # Local workers inherit this process's environment (PYTHONPATH included).
    ray.init(
        address=address,
        num_cpus=num_cpus if address is None else None,
        include_dashboard=False,
        log_to_driver=False,
    )
    return True


def embed_dataset_ray(
    dataset: Dataset,
    image_encoder: str | Any | None = IMAGE_ENCODER,
    text_encoder: str | Any | None = TEXT_ENCODER,
    *,
    cache_dir: str | Path | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
    shard_rows: int = SHARD_ROWS,
    batch_size: int = 32,
    dtype: str = STORE_DTYPE,
    text_inputs: Sequence[str] = TEXT_INPUTS,
    progress: bool = True,
    report: EmbedReport | None = None,
) -> RayRun:
    """Embed every item of ``dataset`` on Ray into the cache (see the module docstring).

    Args:
        dataset: the items (listed by the readers, on the driver).
        image_encoder: registry name or encoder object (picklable, not yet loaded); None skips.
        text_encoder: the same for text; None skips text.
        cache_dir: cache root, on a folder every worker sees (default: the user's cache).
        address: a Ray cluster's address; None starts a local Ray on this machine.
        num_cpus: cores of the local Ray (default: all); one encoder actor per core.
        shard_rows: items per shard: the unit of work, of writing and of loss on a kill.
        batch_size: images per encoder call.
        dtype: how new vectors are stored (``float32`` or ``float16``).
        text_inputs: the text fields to embed.
        progress: show a progress bar with rate and ETA.
        report: filled in with the counts of the whole run when given.

    Raises:
        StateError: Ray is not installed, or the cache cannot be written.
    """
    from pictext.store.compact import write_manifest

    ray = require_ray()
    report = report if report is not None else EmbedReport()
    report.items, start = len(dataset.items), time.perf_counter()
    enc, tenc = _encoder(image_encoder), _encoder(text_encoder)
    root = store_root(cache_dir)
    # Both caches are opened (a read-only one refused, damaged shards set aside) before work.
    image_cache = encoder_cache(root, enc, dtype) if enc is not None else None
    text_cache = encoder_cache(root, tenc, dtype) if tenc is not None else None
    for opened in (image_cache, text_cache):
        report.set_aside.extend(opened.set_aside if opened is not None else [])
    started = _start(ray, address, num_cpus)
    try:
        plan = _Plan(enc, tenc, root, shard_rows, batch_size, dtype, list(text_inputs))
        run = _run(ray, dataset.items, plan, image_cache, progress, report)
    finally:
        if started:
            ray.shutdown()
    if image_cache is not None:
        image_cache.reload()
        run.manifest = str(write_manifest(image_cache, written_by="pictext embed --ray"))
    run.image_encoder = f"{enc.name}@{enc.version}" if enc is not None else ""
    run.text_encoder = f"{tenc.name}@{tenc.version}" if tenc is not None else ""
    report.seconds = time.perf_counter() - start
    return run


def _encoder(spec: str | Any | None) -> Any:
    """An encoder object for the workers: built from a name with one thread, not loaded."""
    if spec is None or not isinstance(spec, str):
        return spec
    from pictext.encoders.registry import create_recorded_encoder
    from pictext.store.composite import is_composite

    if is_composite(spec):  # the Ray plan runs one encoder per kind
        raise UsageError(
            f"embed --ray takes one encoder per kind; embed each part of {spec!r} on its own",
            item=spec,
        )

    return create_recorded_encoder(spec, threads=1)


@dataclass
class _Plan:
    """What every worker of one run is given."""

    enc: Any  # image encoder object (not loaded) or None
    tenc: Any  # text encoder object or None
    root: Path  # the cache root
    shard_rows: int  # items per shard
    batch_size: int  # images per encoder call
    dtype: str  # how new vectors are stored
    text_inputs: list[str]  # text fields embedded


def _run(
    ray: Any,
    items: Sequence[Item],
    plan: _Plan,
    image_cache: VectorCache | None,
    progress: bool,
    report: EmbedReport,
) -> RayRun:
    """Build the Ray Data plan, stream the shards' results back, merge them."""
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # ours shows items, rate and ETA
    ctx.print_on_execution_start = False
    actors = max(1, int(ray.cluster_resources().get("CPU", 1)))
    if image_cache is not None:
        image_cache.reserve(max(0, len(items) - len(image_cache)))
    snapshot = ray.put(image_cache.sorted_keys if image_cache is not None else np.empty(0, "S20"))
    size = plan.shard_rows
    rows = [
        {"chunk": i, "items": pickle.dumps(list(items[lo : lo + size]), protocol=5)}
        for i, lo in enumerate(range(0, len(items), size))
    ]
    run = RayRun(actors=actors, shards=len(rows))
    if not rows:
        return run
    ds = ray.data.from_items(rows, override_num_blocks=len(rows))
    ds = ds.map_batches(
        decode_shard,
        batch_size=1,
        num_cpus=DECODE_CPUS,
        batch_format="numpy",
        fn_kwargs={"encoder": plan.enc, "cached": snapshot, "batch_size": plan.batch_size},
    )
    ds = ds.map_batches(
        ShardEncoder,
        batch_size=1,
        num_cpus=ENCODE_CPUS,
        compute=ray.data.ActorPoolStrategy(size=actors),
        batch_format="numpy",
        fn_constructor_kwargs={
            "image_encoder": plan.enc,
            "text_encoder": plan.tenc,
            "root": str(plan.root),
            "dtype": plan.dtype,
            "text_inputs": plan.text_inputs,
        },
    )
    bar = progress_bar(len(items), f"shards on Ray ({actors} actors)", progress)
    begin = time.perf_counter()
    for row in ds.iter_rows():
        got = pickle.loads(row["result"])
        if "error" in got:
            raise got["error"]
        part: EmbedReport = got["report"]
        _merge(report, part)
        if got["shard"]:
            run.written.append(got["shard"])
        bar(part.items)
    bar(0, done=True)
    run.seconds = report.image_seconds = time.perf_counter() - begin
    return run

"""Limits and knobs of the HTTP service."""

from __future__ import annotations

from dataclasses import dataclass

from pictext.core import defaults

MIB = 1 << 20


@dataclass
class ServiceConfig:
    """What ``pictext serve`` accepts and how hard it works.

    Example:
        >>> ServiceConfig(concurrency=1).max_upload_bytes
        10485760
    """

    max_upload_bytes: int = defaults.MAX_UPLOAD_BYTES  # largest accepted image file
    max_request_bytes: int = (
        defaults.MAX_REQUEST_BYTES
    )  # largest request body (files + form fields)
    max_svg_bytes: int = (
        defaults.MAX_SVG_UPLOAD_BYTES
    )  # SVG uploads are parsed and rendered: keep them small
    max_pixels: int = defaults.MAX_PIXELS  # width x height above this is refused (the decoder's)
    max_batch: int = defaults.MAX_BATCH  # images in one batch request
    max_text_chars: int = defaults.MAX_TEXT_CHARS  # characters per text field
    max_tags: int = defaults.MAX_TAGS  # tags per item
    max_k: int = defaults.MAX_K  # most results one query may ask for (k above: 422)
    concurrency: int = 2  # requests decoding or running models at the same time
    max_queue: int = 32  # requests waiting for a slot; more are refused with 503
    queue_timeout_s: float = 30.0  # longest wait for a slot before 503
    max_connections: int = 256  # open connections and tasks (uvicorn limit_concurrency): 503 above
    keep_alive_s: float = 5.0  # an idle keep-alive connection is closed after this (uvicorn)
    max_header_bytes: int = 16 << 10  # request line and headers (h11_max_incomplete_event_size)
    decode_concurrency: int = 2  # uploads decoded (SVGs rendered) at once, in their own slots
    # outside the model slots: a slow or hostile upload holds a decode slot, never a model one
    threads: int = 1  # CPU threads per model call (torch and the encoders)
    map_method: str = "tsne"  # 2-D map of the collection: "tsne" or "pca"
    thumbnail_sizes: tuple[int, ...] = (64, 128, 256)  # allowed thumbnail sides in pixels
    thumbnail_cache: int = 2048  # thumbnails kept in memory
    upload_cache: int = 32  # decoded uploads kept by content hash (the page sends one image
    # to several routes: each is decoded and embedded once)
    embedding_cache: int = 1024  # upload embeddings kept, by content hash and encoder
    caption_text_encoder: str = defaults.CAPTION_TEXT_ENCODER  # text encoder of caption search

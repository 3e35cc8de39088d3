"""Reading form input: text fields, uploaded files and the items of a batch, with limits."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pictext.core.lru import LruCache
from pictext.service.config import ServiceConfig
from pictext.service.errors import ServiceError, unprocessable
from pictext.service.uploads import DecodedImage, check_declared, decode_upload

if TYPE_CHECKING:
    from fastapi import UploadFile

    from pictext.data.item import Item
    from pictext.service.timing import Timing


@dataclass
class RawUpload:
    """An uploaded file read into memory, its type and size already checked."""

    data: bytes  # the file
    filename: str  # the name the client gave (messages only)
    content_type: str  # declared base type
    field: str  # form field it came in, e.g. "image" or "images[2]"

    @property
    def key(self) -> str:
        """Content hash: the same bytes are decoded and embedded once."""
        return hashlib.sha1(self.data).hexdigest()


@dataclass
class TextInput:
    """The text that came with one image."""

    title: str = ""  # cleaned title
    description: str = ""  # cleaned description
    tags: tuple[str, ...] = ()  # cleaned tags
    label: str = ""  # claimed label (verify only)


async def read_upload(
    file: UploadFile | None, field_name: str, config: ServiceConfig
) -> RawUpload | None:
    """Read one uploaded file (at most the size limit + 1 byte) and check type and size."""
    if file is None:
        return None
    name = file.filename or field_name
    data = await file.read(config.max_upload_bytes + 1)
    declared = check_declared(name, file.content_type, len(data), config, field_name)
    return RawUpload(data, name, declared, field_name)


def decode(
    raw: RawUpload | None,
    config: ServiceConfig,
    size: int,
    timing: Timing,
    cache: LruCache[DecodedImage] | None = None,
) -> DecodedImage | None:
    """Decode a checked upload (CPU work: call it inside the concurrency gate).

    Only accepted uploads are cached; a refused one is checked again each time.
    """
    if raw is None:
        return None
    digest = raw.key
    key = (digest, raw.content_type, size)
    hit = None if cache is None else cache.get(key)
    if hit is not None:
        return dataclasses.replace(hit, filename=raw.filename)
    with timing.measure("decode"):
        decoded = decode_upload(
            raw.data,
            filename=raw.filename,
            content_type=raw.content_type,
            config=config,
            size=size,
            field=raw.field,
        )
    decoded.key = digest
    if cache is not None:
        cache.put(key, decoded)
    return decoded


def _clean(value: object, name: str, config: ServiceConfig) -> str:
    from pictext.data.text import clean_text

    if not isinstance(value, str):
        raise unprocessable(f"{name} must be a string", field=name)
    if len(value) > config.max_text_chars:
        raise unprocessable(
            f"{name} is {len(value)} characters long; the limit is {config.max_text_chars}",
            field=name,
        )
    return clean_text(value)


def text_input(
    config: ServiceConfig,
    *,
    title: object = "",
    description: object = "",
    tags: object = "",
    label: object = "",
    prefix: str = "",
) -> TextInput:
    """Cleaned, length-checked text; ``tags`` as a comma/semicolon string or a list."""
    from pictext.data.text import split_tags

    if not isinstance(tags, (str, list)) or (
        isinstance(tags, list) and not all(isinstance(t, str) for t in tags)
    ):
        raise unprocessable(
            f"{prefix}tags must be a string or a list of strings", field=f"{prefix}tags"
        )
    tag_tuple = split_tags(tags)
    if len(tag_tuple) > config.max_tags:
        raise unprocessable(
            f"{prefix}tags: {len(tag_tuple)} tags; the limit is {config.max_tags}",
            field=f"{prefix}tags",
        )
    for t in tag_tuple:
        _clean(t, f"{prefix}tags", config)
    return TextInput(
        _clean(title, f"{prefix}title", config),
        _clean(description, f"{prefix}description", config),
        tag_tuple,
        _clean(label, f"{prefix}label", config),
    )


def batch_items(
    items_json: str, n_images: int, config: ServiceConfig, *, need_label: bool
) -> list[TextInput]:
    """The per-image text of a batch: a JSON list of objects, one per image (or empty)."""
    if n_images == 0:
        raise unprocessable("a batch needs at least one file in 'images'", field="images")
    if n_images > config.max_batch:
        raise ServiceError(
            413,
            "batch_too_large",
            f"batch of {n_images} images; the limit is {config.max_batch}",
            field="images",
        )
    try:
        rows = json.loads(items_json) if items_json.strip() else []
    except ValueError as err:
        raise unprocessable(f"items is not valid JSON: {err}", field="items") from None
    except RecursionError:  # the parser's own depth limit, well above a valid items list
        raise unprocessable(
            "items is nested too deeply: give a JSON list of flat objects", field="items"
        ) from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise unprocessable("items must be a JSON list of objects", field="items")
    if rows and len(rows) != n_images:
        raise unprocessable(
            f"items has {len(rows)} entries for {n_images} images; give one per image or none",
            field="items",
        )
    rows = rows or [{} for _ in range(n_images)]
    out = []
    for i, row in enumerate(rows):
        known = {k: row[k] for k in ("title", "description", "tags", "label") if k in row}
        text = text_input(config, prefix=f"items[{i}].", **known)
        if need_label and not text.label:
            raise unprocessable(
                f"items[{i}].label is missing: verify needs a claimed label",
                field=f"items[{i}].label",
            )
        out.append(text)
    return out


def make_query(decoded: DecodedImage | None, text: TextInput, name: str) -> Item:
    """The query item of an upload and its text: in-memory pixels, named by the file."""
    from pictext.data.images import image_pixels
    from pictext.data.item import Item

    return Item(
        id=decoded.filename if decoded is not None else name,
        pixels=None if decoded is None else image_pixels(decoded.image),
        title=text.title,
        description=text.description,
        tags=text.tags,
    )

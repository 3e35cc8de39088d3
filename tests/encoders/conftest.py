"""Shared fixtures: real encoders built once per test session, caching ONNX files in a tmp dir."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from pictext.encoders import create_encoder, get_entry
from pictext.encoders.registry import _load


def _takes_cache_dir(name: str) -> bool:
    config_cls = _load(get_entry(name).config_path)
    return "cache_dir" in {f.name for f in dataclasses.fields(config_cls)}


@pytest.fixture(scope="session")
def real_encoder(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Any]:
    """``real_encoder(name, **options)``: a prepared encoder, shared across the session."""
    cache = tmp_path_factory.mktemp("onnx")
    built: dict[tuple, Any] = {}

    def make(name: str, **options: Any) -> Any:
        key = (name, tuple(sorted(options.items())))
        if key not in built:
            if _takes_cache_dir(name):
                options = {"cache_dir": cache, **options}
            enc = create_encoder(name, **options)
            enc.prepare()
            built[key] = enc
        return built[key]

    return make

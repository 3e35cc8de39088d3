from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the service needs the 'serve' extra")

from service_toys import build_bundle, toy_config, toy_factory


@pytest.fixture(scope="session")
def toy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("service")
    build_bundle(root)
    return root


@pytest.fixture(scope="session")
def app(toy_root: Path):
    from pictext.service.app import create_app

    return create_app(
        toy_root / "bundle",
        toy_config(max_pixels=2_000_000, max_upload_bytes=200_000, max_request_bytes=1_000_000),
        encoder_factory=toy_factory,
        cache_dir=toy_root / "cache",
    )


@pytest.fixture(scope="session")
def client(app) -> Iterator:
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c

"""What every test shares: no test reads or writes the user's pictext cache.

``PICTEXT_CACHE`` points into this session's temporary folder from the session's start, so
session- and module-scoped fixtures see it too (one folder for the session: the slow tests
embed the real datasets once). A test that needs a cache of its own sets ``PICTEXT_CACHE``
again or passes ``cache_dir``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The pictext cache root of this test session (a temporary folder)."""
    root = tmp_path_factory.mktemp("pictext-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PICTEXT_CACHE", str(root))
        yield root

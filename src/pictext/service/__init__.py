"""service stage of the pictext pipeline (see docs/ARCHITECTURE.md): ``pictext serve MODEL_DIR``.

An HTTP API (tag, verify, similar, divergent, recommend, caption, items, thumbnails, map)
and a web page over a model bundle (:mod:`pictext.bundle.layout`). The app factory is
:func:`pictext.service.app.create_app`; it needs the ``serve`` extra (FastAPI, uvicorn),
which this package's ``__init__`` does not import.
"""

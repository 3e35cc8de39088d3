"""Every default and limit pictext uses, in one place: the CLI, the service and the library
read them from here, so a value is changed once (see docs/ARCHITECTURE.md).

Plain constants, no imports of the rest of pictext: any layer may read this module.
"""

from __future__ import annotations

# ---- encoders ---------------------------------------------------------------------------
IMAGE_ENCODER = "efficientnet-lite0-int8"  # default image tower (registry name): Lite0, int8
TEXT_ENCODER = "use"  # default text tower (registry name)
CAPTION_TEXT_ENCODER = "use"  # text tower of caption-similarity search
TABLE3_IMAGE_ENCODERS = ("efficientnet-lite0", "efficientnet-lite2")  # Table 3's image towers
TABLE3_TEXT_ENCODERS = ("use", "minilm")  # Table 3's text towers

# ---- splits (share of each class held out, halved into validation and test) --------------
STUDY_HOLDOUT = 0.04  # the classification study's share (WebVision: large classes)
CLASSIFY_HOLDOUT = 0.4  # pictext train and Table 3: small classes need a larger test side
RANK_HOLDOUT = 0.2  # pictext rank train
CAPTION_HOLDOUT = 0.3  # caption-train / caption-eval: validation picks the captioner, test scores
SPLIT_SEED = 0  # seed of the default split
TABLE3_SEEDS = (0, 1, 2)  # Table 3: one split and one training per seed

# ---- training -----------------------------------------------------------------------------
FUSION_EPOCHS = 200  # fusion head: most epochs (early stopping on validation top-1)
FUSION_PATIENCE = 20  # fusion head: epochs without a better validation top-1 before stopping
CLASSIFY_MEMBERS = 1  # pictext train and Table 3: seed-ensemble size of each head
RANK_EPOCHS = 10  # ranking head: epochs (all run; the best on validation triplets is kept)
# The joint image-text space (`rank train --joint`): (embed_dim, align_weight, modality_dropout)
# candidates; the one with the best validation score (image-only, text-only and full queries
# against full items, text queries against image-only items) is kept.
RANK_JOINT_GRID: tuple[tuple[int, float, float], ...] = (
    (256, 0.0, 0.5),
    (256, 1.0, 0.5),
    (1024, 0.0, 0.5),
    (1024, 1.0, 0.5),
)
RANK_VALIDATION_FRACTION = 0.1  # ranking head: rows held back when no validation set is given
CAPTION_EPOCHS = 40  # captioner in caption-train / caption-eval / demo: most epochs
CAPTION_PATIENCE = 8  # captioner: epochs without a better held-back score before stopping
CAPTION_VAL_FRACTION = 0.1  # captioner: training pairs held back to pick the best epoch

# ---- captions ---------------------------------------------------------------------------
CAPTION_SIMILAR = 0.90  # caption cosine at or above: similar (the report's value)
CAPTION_DIVERGENT_LOW = 0.50  # divergent band, lower end (inclusive; the report's value)
CAPTION_DIVERGENT_HIGH = 0.60  # divergent band, upper end (inclusive; the report's value)
CAPTION_BEAM = 3  # beam width of every generated caption (CLI, service, page, report)
CAPTION_LENGTH_PENALTY = 1.0  # beam hypotheses ranked by log-probability / words ** this
CAPTION_NO_REPEAT_NGRAM = 2  # no word n-gram of this size twice in a caption (0: allowed)
CAPTION_CONSENSUS_K = 10  # consensus captioner: nearest training images whose captions compete
CAPTION_CONSENSUS_TEMPERATURE = 0.05  # consensus captioner: weight exp((sim - best) / this)
CAPTION_CONSENSUS_KS = (1, 5, 10, 20, 40)  # consensus k tried on validation (1: nearest caption)
CAPTION_CONSENSUS_TEMPERATURES = (0.02, 0.05, 0.1)  # consensus temperatures tried on validation
CAPTION_EXTRA_FIELDS: tuple[str, ...] = ()  # extra training captions: none (hurt on validation)

# ---- queries (one default per question: the CLI, the service and the library read these) ----
TAG_K = 5  # labels shown by tag / verify (the top-k with probabilities)
SEARCH_K = 10  # results of similar, divergent, recommend and caption search
RECOMMEND_METHOD = "mmr"  # recommend: knn, mmr, kcenter or dpp
POOL = 200  # recommend / diversity sweep: candidates a selector compares
MMR_LAMBDA = 0.5  # recommend: 1 = pure relevance, 0 = most diverse

# ---- ranking head (rank/head.py RankingConfig; pictext rank train) ------------------------
RANK_EMBED_DIM = 4096  # width of the learned embedding (the report: 4096)
RANK_MARGIN = 1.0  # triplet margin g
RANK_OUT_OF_CLASS_FRAC = 0.2  # share of uniform out-of-class negatives (Wang et al.: 0.2)
RANK_LR = 1e-4  # Adam learning rate
RANK_BATCH_SIZE = 256  # triplets per step (also the pool hard negatives are mined from)

# ---- divergent lists (rank/divergent.py; chosen on validation queries: bench/divergent.py --tune)
DIVERGENT_MODE = "diverse"  # "diverse": far from the query and spread out; "farthest": exact
DIVERGENT_SPREAD = 0.5  # diverse: MMR weight of spread among the picks (0 = farthest list)
DIVERGENT_QUANTILE = 0.8  # diverse: only items beyond this quantile of distance to the query
DIVERGENT_POOL = 4096  # diverse: most far items the selector compares per query
DIVERGENT_FLOOR_SAMPLE = 4096  # rows whose distances set the floor when not all are scanned

# ---- index at scale (rank/ann.py, rank/build.py, rank/bound.py; bench/scale_index.py) --------
IVF_DIVERGENT = "rim"  # IVF farthest queries: the rim pool ("rim") or the branch and bound
# over cells ("bound", exact): at 1M x 256 the cell bounds prune almost nothing, see SCALING.md

# ---- limits on inputs (checked before any work) ------------------------------------------
MAX_PIXELS = 40_000_000  # width x height above this is refused (decompression bombs)
MAX_IMAGE_BYTES = 256 << 20  # largest image file read
MAX_SVG_BYTES = 16 << 20  # largest SVG document parsed (a .svgz: once decompressed)
MAX_K = 100  # most results one query may ask for
MAX_TEXT_CHARS = 4000  # characters per text field (title, description, one tag list)
MAX_TAGS = 64  # tags per item
# Bytes of a text file read, checked with stat before it is read (its text is cut to
# MAX_TEXT_CHARS per field afterwards, so a larger sidecar holds nothing more to read).
MAX_SIDECAR_BYTES = 1 << 20  # one item's sidecar (.json) or description (.txt)
MAX_META_BYTES = 64 << 20  # one metadata file shared by many items (a WebVision query's JSON)
MAX_MANIFEST_BYTES = 1 << 30  # a manifest or a list file of a whole collection
UNREADABLE_TEXT_SHARE = 0.10  # a text whose visible characters are more than this share control
# or undecodable characters is binary data, not text: a new input with it is refused
MAX_SVG_ELEMENTS = 50_000  # elements an SVG may draw, <use> expansions counted (openclipart: 18.6k)
MAX_SVG_RASTER_PIXELS = 16_000_000  # pixels of an SVG's embedded images, tiles and masks, together
SVG_RENDER_MEMORY = 512 << 20  # bytes one SVG rendering may allocate (in its own process)
SVG_RENDER_CPU_SECONDS = 10  # CPU seconds one SVG rendering may take (in its own process)

# ---- uploads to the service (service/config.py; pictext serve) ----------------------------
MAX_UPLOAD_BYTES = 10 << 20  # largest accepted image file
MAX_REQUEST_BYTES = 40 << 20  # largest request body (files + form fields)
MIN_REQUEST_BYTES = 8 << 20  # pictext serve --max-upload-mb: the body limit is 4x, at least this
MAX_SVG_UPLOAD_BYTES = 2 << 20  # SVG uploads are parsed and rendered: keep them small
MAX_BATCH = 16  # images in one batch request

# ---- the vector store (store/cache.py, store/ray_embed.py) --------------------------------
SHARD_ROWS = 512  # images per shard an embedding run writes: a kill loses at most this much
COMPACT_ROWS = 65_536  # compaction merges shards smaller than this into shards of about this
STORE_DTYPE = "float32"  # vectors on disk: "float32" (exact) or "float16" (half the bytes)

# ---- cache housekeeping --------------------------------------------------------------------
STALE_TMP_SECONDS = 3600  # a cache's temporary file older than this is a killed writer's leftover

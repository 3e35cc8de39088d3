"""The two caption decoders over a pooled image embedding (torch modules).

Both map ``(image [B, Di], tokens [B, T]) -> logits [B, T, V]``: position ``t`` predicts
token ``t + 1`` (teacher forcing in training, the last position when decoding).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

ARCHS: tuple[str, ...] = ("merge", "transformer", "retrieval")


@dataclass
class DecoderConfig:
    """Shape of a caption decoder."""

    arch: str  # "merge" (the report's CNN-LSTM), "transformer" or "retrieval" (variants)
    image_dim: int  # width of the image embedding fed in
    vocab_size: int  # words in the vocabulary, markers included
    hidden: int = 256  # width of the image projection, word embedding and LSTM / model
    dropout: float = 0.5  # dropout on the image embedding and the word embeddings
    layers: int = 2  # transformer layers (transformer only)
    heads: int = 4  # attention heads (transformer only)
    prefix: int = 4  # image memory tokens the embedding is projected to (transformer only)
    max_positions: int = 64  # longest token sequence (transformer only)
    retrieve: int = 4  # training captions retrieved per image (retrieval only)
    store_size: int = 0  # training captions kept in the model (retrieval only; set by fit)
    store_len: int = 0  # token width of the kept captions (retrieval only; set by fit)

    def to_dict(self) -> dict:
        return asdict(self)


class Standardize(nn.Module):
    """``(x - mean) / std`` per feature, with the training statistics saved as buffers."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class MergeDecoder(nn.Module):
    """The report's merge model.

    Image -> dropout -> dense 256 (ReLU); words -> embedding -> dropout -> LSTM 256;
    the two are added -> dense 256 (ReLU) -> dense over the vocabulary. Running the LSTM
    over the whole sequence gives the same per-prefix states as feeding each prefix
    separately, as the Keras original did, at a fraction of the cost.
    """

    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__()
        self.image_norm = Standardize(cfg.image_dim)
        self.image_drop = nn.Dropout(cfg.dropout)
        self.image_proj = nn.Linear(cfg.image_dim, cfg.hidden)
        self.embed = nn.Embedding(cfg.vocab_size, cfg.hidden, padding_idx=0)
        self.word_drop = nn.Dropout(cfg.dropout)
        self.lstm = nn.LSTM(cfg.hidden, cfg.hidden, batch_first=True)
        self.mix = nn.Linear(cfg.hidden, cfg.hidden)
        self.out = nn.Linear(cfg.hidden, cfg.vocab_size)

    def forward(self, image: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        img = torch.relu(self.image_proj(self.image_drop(self.image_norm(image))))  # [B, H]
        seq, _ = self.lstm(self.word_drop(self.embed(tokens)))  # [B, T, H]
        return self.out(torch.relu(self.mix(seq + img[:, None, :])))


class TransformerDecoder(nn.Module):
    """A small causal transformer decoder that cross-attends to image memory tokens.

    The pooled embedding is projected to ``prefix`` memory tokens, so attention can pick
    different parts of it for different words. Both decoders standardise the image features
    with their training statistics first (the Keras original fed raw features).
    """

    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__()
        h = cfg.hidden
        self.prefix = cfg.prefix
        self.image_norm = Standardize(cfg.image_dim)
        self.image_drop = nn.Dropout(cfg.dropout)
        self.image_proj = nn.Linear(cfg.image_dim, h * cfg.prefix)
        self.memory_pos = nn.Parameter(torch.zeros(cfg.prefix, h))
        self.embed = nn.Embedding(cfg.vocab_size, h, padding_idx=0)
        self.pos = nn.Embedding(cfg.max_positions, h)
        self.word_drop = nn.Dropout(cfg.dropout)
        layer = nn.TransformerDecoderLayer(
            h, cfg.heads, dim_feedforward=2 * h, dropout=0.1, batch_first=True, norm_first=True
        )
        self.decoder = nn.TransformerDecoder(layer, cfg.layers)
        self.norm = nn.LayerNorm(h)
        self.out = nn.Linear(h, cfg.vocab_size)

    def forward(self, image: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        b, t = tokens.shape
        img = self.image_drop(self.image_norm(image))
        memory = self.image_proj(img).view(b, self.prefix, -1) + self.memory_pos
        pos = torch.arange(t, device=tokens.device)
        x = self.word_drop(self.embed(tokens) + self.pos(pos))
        causal = nn.Transformer.generate_square_subsequent_mask(t, device=tokens.device)
        y = self.decoder(x, memory, tgt_mask=causal, tgt_is_causal=True)
        return self.out(self.norm(y))


class RetrievalDecoder(TransformerDecoder):
    """The transformer decoder with retrieved training captions in its memory (SmallCap-like).

    The model keeps the training image embeddings and captions as buffers. For each image
    it finds the ``retrieve`` most cosine-similar training images and adds their caption
    tokens to the cross-attention memory, after the image tokens, so the decoder can copy
    words that fit and let the image overrule the ones that do not. While fitting, an image
    never retrieves itself (nor an identical embedding); afterwards it may.
    """

    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__(cfg)
        self.retrieve = cfg.retrieve
        self.register_buffer("store_image", torch.zeros(cfg.store_size, cfg.image_dim))
        self.register_buffer("store_tokens", torch.zeros(cfg.store_size, cfg.store_len).long())
        self.segment = nn.Embedding(cfg.retrieve + 1, cfg.hidden)
        self.exclude_identical = False  # set while fitting: no image retrieves its own caption

    def set_store(self, image: torch.Tensor, tokens: torch.Tensor) -> None:
        """Keep training image embeddings ``[N, Di]`` and their token ids ``[N, T]``."""
        self.store_image.copy_(nn.functional.normalize(image.float(), dim=1))
        self.store_tokens.copy_(tokens)

    def neighbours(self, image: torch.Tensor) -> torch.Tensor:
        """Store rows ``[B, retrieve]`` of the most similar training images."""
        sims = nn.functional.normalize(image, dim=1) @ self.store_image.T
        if self.exclude_identical:
            sims = sims.masked_fill(sims > 1 - 1e-5, float("-inf"))
        return sims.topk(min(self.retrieve, sims.shape[1]), dim=1).indices

    def forward(self, image: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        b, t = tokens.shape
        img = self.image_drop(self.image_norm(image))
        memory = self.image_proj(img).view(b, self.prefix, -1) + self.memory_pos
        found = self.store_tokens[self.neighbours(image)]  # [B, R, T]
        r, width = found.shape[1], found.shape[2]
        seg = torch.arange(1, r + 1, device=tokens.device)[:, None].expand(r, width)
        pos = torch.arange(width, device=tokens.device)[None, :].expand(r, width)
        words = self.embed(found) + self.pos(pos) + self.segment(seg)  # [B, R, T, H]
        memory = torch.cat([memory, self.word_drop(words.reshape(b, r * width, -1))], dim=1)
        pad = torch.cat(
            [torch.zeros(b, self.prefix, dtype=torch.bool), found.reshape(b, -1) == 0], dim=1
        )
        x = self.word_drop(self.embed(tokens) + self.pos(torch.arange(t, device=tokens.device)))
        causal = nn.Transformer.generate_square_subsequent_mask(t, device=tokens.device)
        y = self.decoder(
            x, memory, tgt_mask=causal, tgt_is_causal=True, memory_key_padding_mask=pad
        )
        return self.out(self.norm(y))


def build_decoder(cfg: DecoderConfig) -> nn.Module:
    """The torch module for ``cfg.arch``."""
    if cfg.arch == "merge":
        return MergeDecoder(cfg)
    if cfg.arch == "transformer":
        return TransformerDecoder(cfg)
    if cfg.arch == "retrieval":
        return RetrievalDecoder(cfg)
    raise ValueError(f"unknown caption decoder {cfg.arch!r}; use one of {ARCHS}")

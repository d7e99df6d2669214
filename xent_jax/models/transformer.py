"""A small pre-LayerNorm Transformer encoder (Flax NNX) for protein masked-language modelling.

Each block is ``x + MHA(LN(x))`` then ``x + MLP(LN(x))`` (pre-LN, as in ESM-2), with attention
that ignores padding keys. Token and learned position embeddings go in; a final LayerNorm and an
output projection tied to the token embedding give per-position logits. :meth:`embed` returns
mean-pooled sequence embeddings over real positions.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import ArrayLike


class EncoderBlock(nnx.Module):
    """One pre-LN encoder block: padding-aware multi-head self-attention and a GELU MLP.

    Args:
      d_model: model width.
      num_heads: attention heads (must divide ``d_model``).
      mlp_dim: hidden width of the MLP.
      dropout_rate: dropout on attention output and MLP output (active in train mode).
      rngs: NNX RNG streams (``params``, and ``dropout`` if ``dropout_rate > 0``).
    """

    def __init__(
        self, d_model: int, num_heads: int, mlp_dim: int, *, dropout_rate: float, rngs: nnx.Rngs
    ):
        if d_model % num_heads:
            raise ValueError(
                f"num_heads must divide d_model, got d_model={d_model}, num_heads={num_heads}"
            )
        self.num_heads = num_heads
        init = nnx.initializers.normal(0.02)
        self.ln_attn = nnx.LayerNorm(d_model, rngs=rngs)
        self.qkv = nnx.Linear(d_model, 3 * d_model, kernel_init=init, rngs=rngs)
        self.proj = nnx.Linear(d_model, d_model, kernel_init=init, rngs=rngs)
        self.ln_mlp = nnx.LayerNorm(d_model, rngs=rngs)
        self.fc1 = nnx.Linear(d_model, mlp_dim, kernel_init=init, rngs=rngs)
        self.fc2 = nnx.Linear(mlp_dim, d_model, kernel_init=init, rngs=rngs)
        self.dropout = nnx.Dropout(dropout_rate, rngs=rngs if dropout_rate > 0 else None)

    def __call__(self, x: jax.Array, key_mask: jax.Array) -> jax.Array:
        """Applies the block.

        Args:
          x: ``[batch, length, d_model]``.
          key_mask: bool ``[batch, length]``, True for real (non-padding) positions.

        Returns:
          ``[batch, length, d_model]``.
        """
        b, n, d = x.shape
        h = self.num_heads
        qkv = self.qkv(self.ln_attn(x)).reshape(b, n, 3, h, d // h)
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
        scores = jnp.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(d // h)
        big_neg = jnp.finfo(scores.dtype).min
        scores = jnp.where(key_mask[:, None, None, :], scores, big_neg)
        weights = jax.nn.softmax(scores, axis=-1)
        attn = jnp.einsum("bhqk,bkhd->bqhd", weights, v).reshape(b, n, d)
        x = x + self.dropout(self.proj(attn))
        y = self.fc2(jax.nn.gelu(self.fc1(self.ln_mlp(x))))
        return x + self.dropout(y)


class ProteinTransformer(nnx.Module):
    """Pre-LN Transformer encoder with tied output projection.

    Args:
      vocab_size: number of token ids (``xent_jax.bio.VOCAB_SIZE`` for proteins).
      d_model: model width.
      num_layers: encoder blocks.
      num_heads: attention heads.
      mlp_dim: MLP hidden width (default ``4 * d_model``).
      max_len: longest input length (learned position embeddings).
      pad_id: the padding token id, ignored as an attention key and in pooling.
      dropout_rate: dropout rate in the blocks.
      rngs: NNX RNG streams.

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> model = ProteinTransformer(vocab_size=29, d_model=16, num_layers=1, num_heads=2,
      ...                            max_len=8, rngs=nnx.Rngs(0))
      >>> toks = jnp.array([[2, 4, 5, 3, 0, 0]])
      >>> model(toks).shape, model.embed(toks).shape
      ((1, 6, 29), (1, 16))
    """

    def __init__(
        self,
        *,
        vocab_size: int,
        d_model: int = 128,
        num_layers: int = 4,
        num_heads: int = 4,
        mlp_dim: int | None = None,
        max_len: int = 512,
        pad_id: int = 0,
        dropout_rate: float = 0.0,
        rngs: nnx.Rngs,
    ):
        for name, value in (
            ("vocab_size", vocab_size),
            ("d_model", d_model),
            ("num_layers", num_layers),
            ("max_len", max_len),
        ):
            if int(value) < 1:
                raise ValueError(f"{name} must be a positive integer, got {value}")
        if d_model % num_heads:
            raise ValueError(
                f"num_heads must divide d_model, got d_model={d_model}, num_heads={num_heads}"
            )
        self.pad_id = pad_id
        self.max_len = max_len
        self.token_embed = nnx.Embed(
            vocab_size, d_model, embedding_init=nnx.initializers.normal(0.02), rngs=rngs
        )
        self.pos_embed = nnx.Param(nnx.initializers.normal(0.02)(rngs.params(), (max_len, d_model)))
        self.blocks = nnx.List(
            [
                EncoderBlock(
                    d_model, num_heads, mlp_dim or 4 * d_model, dropout_rate=dropout_rate, rngs=rngs
                )
                for _ in range(num_layers)
            ]
        )
        self.ln_final = nnx.LayerNorm(d_model, rngs=rngs)
        self.out_bias = nnx.Param(jnp.zeros((vocab_size,)))

    def _check(self, tokens: jax.Array) -> None:
        if tokens.ndim != 2:
            raise ValueError(f"tokens must have shape [batch, length], got {tokens.shape}")
        if not jnp.issubdtype(tokens.dtype, jnp.integer):
            raise TypeError(f"tokens must be integer ids, got dtype {tokens.dtype}")
        if tokens.shape[1] > self.max_len:
            raise ValueError(
                f"tokens length must be <= max_len={self.max_len}, got {tokens.shape[1]}"
            )

    def encode(self, tokens: ArrayLike) -> jax.Array:
        """Contextual representations after the final LayerNorm.

        Args:
          tokens: int ``[batch, length]``, padded with ``pad_id``.

        Returns:
          ``[batch, length, d_model]``.
        """
        tokens = jnp.asarray(tokens)
        self._check(tokens)
        key_mask = tokens != self.pad_id
        n = tokens.shape[1]
        x = self.token_embed(tokens) + self.pos_embed[...][None, :n, :]
        for block in self.blocks:
            x = block(x, key_mask)
        return self.ln_final(x)

    def __call__(self, tokens: ArrayLike) -> jax.Array:
        """Per-position logits over the vocabulary, ``[batch, length, vocab_size]``."""
        h = self.encode(tokens)
        return self.token_embed.attend(h) + self.out_bias[...][None, None, :]

    def embed(self, tokens: ArrayLike, *, where: ArrayLike | None = None) -> jax.Array:
        """Mean-pooled sequence embeddings.

        Args:
          tokens: int ``[batch, length]``.
          where: optional bool ``[batch, length]`` of positions to average (for example residues
            only); defaults to every non-padding position.

        Returns:
          ``[batch, d_model]``; a row with no selected position is all zeros.
        """
        tokens = jnp.asarray(tokens)
        w = (tokens != self.pad_id) if where is None else jnp.asarray(where, dtype=bool)
        if w.shape != tokens.shape:
            raise ValueError(f"where must have shape {tokens.shape}, got {w.shape}")
        h = self.encode(tokens)
        wf = w.astype(h.dtype)
        total = jnp.einsum("bl,bld->bd", wf, h)
        count = jnp.maximum(wf.sum(axis=1, keepdims=True), 1.0)
        return total / count

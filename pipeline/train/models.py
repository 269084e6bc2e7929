"""The article's seq2point networks, built so their TFLite graphs are static and fully quantizable.

* ``cnn``: Conv1D 16/5, 32/3, 64/3, 128/3, 256/3 with max-pool 2 after the first four, Flatten,
  Dense 1024, Dense 512, Dense 1 -> 10,618,945 parameters at window 599.
* ``transformer``: Conv1D 256/5 expand, L2-norm pooling to 299 steps, learned position embedding
  + LayerNorm, 2 post-LN BERT blocks (2 heads, d_k 128 in total, GELU feed-forward 1024),
  symmetric relative position embedding + LayerNorm, mean pooling, Dense 256, Dense 1 ->
  1,576,961 parameters.

Two choices keep the converted transformer static and integer-friendly without changing its
function or parameter count: LayerNorm is written as sub/mul/mean/rsqrt (Keras' own lowers to a
NEG that stays float and breaks 16x8), and every reshape uses static sizes.
"""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

from pipeline.errors import ModelFileError
from pipeline.settings.constants import WINDOW
from store.vocab import Arch

PKG = "nilm_edge"


@keras.saving.register_keras_serializable(package=PKG)
class SimpleLayerNorm(layers.Layer):
    """LayerNorm over the last axis as (x - mean) * rsqrt(var + eps) * gamma + beta."""

    def __init__(self, epsilon: float = 1e-3, **kw):
        super().__init__(**kw)
        self.epsilon = epsilon

    def build(self, shape):
        self.gamma = self.add_weight(shape=(shape[-1],), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(shape[-1],), initializer="zeros", name="beta")

    def call(self, x):
        centred = x - ops.mean(x, axis=-1, keepdims=True)
        var = ops.mean(centred * centred, axis=-1, keepdims=True)
        return centred * ops.rsqrt(var + self.epsilon) * self.gamma + self.beta

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package=PKG)
class PositionEmbedding(layers.Layer):
    """Learned absolute positions: a (max_length, d) table of which the first L rows are added."""

    def __init__(self, max_length: int, **kw):
        super().__init__(**kw)
        self.max_length = max_length

    def build(self, shape):
        self.table = self.add_weight(
            shape=(self.max_length, shape[-1]), initializer="glorot_uniform", name="table"
        )

    def call(self, x):
        return x + self.table[: x.shape[1]]

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length}


@keras.saving.register_keras_serializable(package=PKG)
class RelativePositionEmbedding(layers.Layer):
    """Symmetric relative positions: position i gets row |i - centre| of a (ceil(L/2), d) table.

    The index vector is a constant, so the converter folds the lookup away: no control flow, no
    GATHER at run time (the article's version chose between two branches with a Python `if`).
    """

    def __init__(self, length: int, **kw):
        super().__init__(**kw)
        self.length = length
        half = math.ceil(length / 2)
        self.index = np.abs(np.arange(length) - (half - 1)).astype("int32")

    def build(self, shape):
        self.table = self.add_weight(
            shape=(math.ceil(self.length / 2), shape[-1]),
            initializer="glorot_uniform",
            name="table",
        )

    def call(self, x):
        return x + ops.take(self.table, self.index, axis=0)

    def get_config(self):
        return {**super().get_config(), "length": self.length}


@keras.saving.register_keras_serializable(package=PKG)
class StaticSelfAttention(layers.Layer):
    """Multi-head self-attention with d_k = d_v = ``key_dim`` in total (not per head), scores
    scaled by sqrt(key_dim), as in the article's model; reshapes use static sizes."""

    def __init__(self, heads: int, key_dim: int, **kw):
        super().__init__(**kw)
        self.heads, self.key_dim = heads, key_dim

    def build(self, shape):
        d = shape[-1]
        self.q = layers.Dense(self.key_dim, name="query")
        self.k = layers.Dense(self.key_dim, name="key")
        self.v = layers.Dense(self.key_dim, name="value")
        self.o = layers.Dense(d, name="output")
        for lyr in (self.q, self.k, self.v):
            lyr.build(shape)
        self.o.build((*shape[:-1], self.key_dim))

    def _split(self, t, length):
        t = ops.reshape(t, (-1, length, self.heads, self.key_dim // self.heads))
        return ops.transpose(t, (0, 2, 1, 3))

    def call(self, x):
        length = x.shape[1]
        # the 1/sqrt(d_k) scale on the query projection (299 x d_k values, folded into the
        # query weights by the converter) rather than on the 299 x 299 scores of every head
        q = self._split(self.q(x) * (1.0 / math.sqrt(self.key_dim)), length)
        k, v = (self._split(f(x), length) for f in (self.k, self.v))
        scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2)))
        ctx = ops.matmul(ops.softmax(scores, axis=-1), v)
        ctx = ops.reshape(ops.transpose(ctx, (0, 2, 1, 3)), (-1, length, self.key_dim))
        return self.o(ctx)

    def get_config(self):
        return {**super().get_config(), "heads": self.heads, "key_dim": self.key_dim}


@keras.saving.register_keras_serializable(package=PKG)
class L2Pool(layers.Layer):
    """Root-mean-square pooling over pairs of steps: t * rsqrt(t + eps), t = avgpool2(x^2).

    ``epsilon`` bounds the RSQRT's output at 1/sqrt(eps). With the original 1e-10, the
    calibration windows' near-zero channels gave that tensor a range of ~94,000 where the values
    that matter are near 1: its int8 step (~368) and even its int16 step (~1.4) rounded every
    typical value to zero and the quantized transformer predicted nothing (F1 0 on the kettle).
    New models use 1e-2 (inputs are standardised, so |x| ~ 0.1 is small): the pool's output is
    sqrt(t) within 0.5 % wherever t > 1 and the RSQRT's range stays under 10. A file saved
    without the setting loads with the old 1e-10, so an old model keeps its function.
    """

    def __init__(self, epsilon: float = 1e-10, **kw):
        super().__init__(**kw)
        self.epsilon = epsilon

    def call(self, x):
        # the pair mean as reshape + MEAN rather than AVERAGE_POOL_2D: XNNPACK runs int8 MEAN
        # but only float average pooling, so the pool no longer splits the int8 graph
        steps, d = x.shape[1] // 2, x.shape[-1]
        # a SLICE with static sizes (the batch is static when traced for export): XNNPACK
        # takes it, while a -1 size or a STRIDED_SLICE would count as shape arithmetic
        batch = x.shape[0] if x.shape[0] is not None else -1
        x = ops.slice(x, (0, 0, 0), (batch, 2 * steps, d))
        sq = x * x
        t = ops.mean(ops.reshape(sq, (-1, steps, 2, d)), axis=2)
        # sqrt(t) written as t * rsqrt(t + eps): RSQRT has int8 and int16 kernels, SQRT has no
        # 16x8 one; the epsilon inside the RSQRT keeps its range bounded
        return t * ops.rsqrt(t + self.epsilon)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


# the L2 pool's epsilon of new transformers (see L2Pool)
L2_POOL_EPSILON = 1e-2


@keras.saving.register_keras_serializable(package=PKG)
class GeluTanh(layers.Layer):
    """GELU with the tanh approximation (a single GELU op in TFLite)."""

    def call(self, x):
        return keras.activations.gelu(x, approximate=True)


def _scaled(n: int, scale: float) -> int:
    return max(2, int(round(n * scale)))


def build_cnn(scale: float = 1.0, window: int = WINDOW) -> keras.Model:
    inp = keras.Input((window,), name="aggregate")
    x = layers.Reshape((window, 1))(inp)
    for i, (filters, kernel) in enumerate(((16, 5), (32, 3), (64, 3), (128, 3), (256, 3))):
        x = layers.Conv1D(_scaled(filters, scale), kernel, padding="same", activation="relu")(x)
        if i < 4:
            x = layers.MaxPool1D(2, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(_scaled(1024, scale), activation="relu")(x)
    x = layers.Dense(_scaled(512, scale), activation="relu")(x)
    out = layers.Dense(1, name="power")(x)
    return keras.Model(inp, out, name="cnn")


def _add_norm(x, y, name):
    return SimpleLayerNorm(name=name)(layers.Add()([x, y]))


def build_transformer(
    scale: float = 1.0, window: int = WINDOW, dropout: float = 0.1
) -> keras.Model:
    d = _scaled(256, scale)
    heads, key_dim, ff = 2, max(2, d // 2), 4 * d
    latent = window // 2
    inp = keras.Input((window,), name="aggregate")
    x = layers.Reshape((window, 1))(inp)
    x = layers.Conv1D(d, 5, padding="same", name="expand")(x)
    # L2-norm pooling over pairs: ~sqrt(mean(x^2)), its RSQRT bounded by the epsilon
    x = L2Pool(epsilon=L2_POOL_EPSILON, name="l2_pool")(x)
    pos = PositionEmbedding(window, name="position")(x)
    x = SimpleLayerNorm(name="embed_norm")(pos)
    x = layers.Dropout(dropout)(x)
    for b in range(2):
        attn = StaticSelfAttention(heads, key_dim, name=f"block{b}_attention")(x)
        x = _add_norm(x, layers.Dropout(dropout)(attn), f"block{b}_attention_norm")
        h = layers.Dense(ff, name=f"block{b}_ff1")(x)
        h = GeluTanh(name=f"block{b}_gelu")(h)
        h = layers.Dense(d, name=f"block{b}_ff2")(h)
        x = _add_norm(x, layers.Dropout(dropout)(h), f"block{b}_ff_norm")
    x = SimpleLayerNorm(name="relative_norm")(
        RelativePositionEmbedding(latent, name="relative_position")(x)
    )
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dense(d, activation="relu")(x)
    out = layers.Dense(1, name="power")(x)
    return keras.Model(inp, out, name="transformer")


BUILDERS = {Arch.CNN: build_cnn, Arch.TRANSFORMER: build_transformer}


def build_model(arch: Arch, scale: float = 1.0) -> keras.Model:
    return BUILDERS[Arch(arch)](scale)


def load_keras_model(path: Path) -> keras.Model:
    """A trained model file, with this module's custom layers registered."""
    if not path.exists():
        raise ModelFileError(f"{path}: model file missing; run `pipeline train` first")
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # keras raises many types for a damaged file
        raise ModelFileError(
            f"{path}: cannot load the Keras model ({type(exc).__name__}: {exc})"
        ) from exc

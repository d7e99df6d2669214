"""Rotation prediction (RotNet) as a pretext task: pretraining, rotation accuracy, frozen features.

References:
  Gidaris, Singh, Komodakis, "Unsupervised Representation Learning by Predicting Image
  Rotations", ICLR 2018.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import nnx

from xent_jax.recipes.classifier import (
    ClassifierTraining,
    apply_batched,
    classifier_training,
    train_classifier,
)
from xent_jax.tasks.rotation import NUM_ROTATIONS, rotation_batch
from xent_jax.train import FitResult

__all__ = ["pretrain_rotation", "rotation_training", "rotation_accuracy", "extract_features"]


def _all_rotations(x, y, key):
    del y, key
    return rotation_batch(x)  # a module-level function: equal steps share compilations


def _unlabelled(images: Any, eval_images: Any | None):
    """``(images, dummy labels, eval_data)``: the rotation labels are made inside the step."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be [N, H, W, C], got shape {images.shape}")
    eval_data = None
    if eval_images is not None:
        eval_images = np.asarray(eval_images)
        if eval_images.ndim != 4:
            raise ValueError(f"eval_images must be [N, H, W, C], got shape {eval_images.shape}")
        eval_data = (eval_images, np.zeros(eval_images.shape[0], np.int32))
    return images, np.zeros(images.shape[0], np.int32), eval_data


def rotation_training(
    model: nnx.Module,
    images: Any,
    *,
    key: jax.Array | int,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    weight_decay: float = 0.0,
    eval_images: Any | None = None,
    eval_every: int = 0,
) -> ClassifierTraining:
    """Assembles a RotNet pretraining run for ``fit`` (see :func:`pretrain_rotation`).

    Each step takes ``batch_size`` unlabelled images and trains on all four rotations of each
    (``4 * batch_size`` examples), with mean softmax cross-entropy and AdamW. Pass the same
    ``key`` to ``fit``.

    Args:
      model: an NNX module ``[N, H, W, C] -> [N, 4]`` (its variables are copied).
      images: unlabelled ``[N, H, W, C]`` square images.
      key: PRNG key (or int seed) of the run (data order).
      batch_size: images per step (before the 4x rotation).
      learning_rate, weight_decay: AdamW settings.
      eval_images: optional held-out images; the eval hook reports the 4-way rotation
        accuracy and loss on all their rotations.
      eval_every: steps between evaluations (0: only at the end).

    Returns:
      a :class:`~xent_jax.recipes.ClassifierTraining`.

    Examples:
      >>> from xent_jax.models import CNN
      >>> from xent_jax.train import fit
      >>> x = np.random.default_rng(0).random((16, 8, 8, 1), np.float32)
      >>> job = rotation_training(CNN(4, widths=(4,), rngs=nnx.Rngs(0)), x, key=0,
      ...                         batch_size=8, eval_images=x[:4])
      >>> res = fit(job.step, job.state, job.batch_fn, steps=2, key=0, progress=False,
      ...           **job.fit_options)
      >>> sorted(res.eval)
      ['accuracy', 'loss']
    """
    images, dummy, eval_data = _unlabelled(images, eval_images)
    return classifier_training(
        model,
        images,
        dummy,
        key=key,
        batch_size=batch_size,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        transform=_all_rotations,
        eval_data=eval_data,
        eval_every=eval_every,
    )


def pretrain_rotation(
    model: nnx.Module,
    images: Any,
    *,
    steps: int,
    key: jax.Array | int,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    weight_decay: float = 0.0,
    eval_images: Any | None = None,
    eval_every: int = 0,
    workdir: str | Path | None = None,
    checkpoint_every: int = 0,
    progress: bool = True,
    **fit_options: Any,
) -> tuple[nnx.Module, FitResult]:
    """Trains ``model`` (4 outputs) to predict which of the four rotations was applied.

    Each step takes ``batch_size`` unlabelled images and trains on all four rotations of each
    (``4 * batch_size`` examples, as in RotNet), with mean softmax cross-entropy and AdamW.

    Args:
      model: an NNX module mapping ``[N, H, W, C]`` images to 4 logits (e.g.
        ``CNN(4, rngs=...)``); updated in place.
      images: unlabelled ``[N, H, W, C]`` square images.
      steps: optimiser steps.
      key: PRNG key (or int seed) for the data order and the step keys.
      batch_size: images per step (before the 4x rotation).
      learning_rate, weight_decay: AdamW settings.
      eval_images: optional held-out images; eval metrics are the 4-way rotation accuracy/loss.
      eval_every, workdir, checkpoint_every, progress, **fit_options: as in
        :func:`xent_jax.train.fit`.

    Returns:
      ``(model, result)``.

    Examples:
      >>> from xent_jax.models import CNN
      >>> from xent_jax.data import load_digits
      >>> x, _ = load_digits()
      >>> model, res = pretrain_rotation(CNN(4, widths=(8,), rngs=nnx.Rngs(0)), x[:64],
      ...                                steps=2, key=0, batch_size=32, progress=False)
      >>> sorted(res.train)
      ['accuracy', 'loss']
    """
    images, dummy, eval_data = _unlabelled(images, eval_images)
    return train_classifier(
        model,
        images,
        dummy,
        steps=steps,
        key=key,
        batch_size=batch_size,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        transform=_all_rotations,
        eval_data=eval_data,
        eval_every=eval_every,
        workdir=workdir,
        checkpoint_every=checkpoint_every,
        progress=progress,
        desc="rotation",
        **fit_options,
    )


def extract_features(
    model: nnx.Module, images: Any, *, method: str = "features", batch_size: int = 512, **kwargs
) -> np.ndarray:
    """Frozen features ``model.<method>(x, **kwargs)`` for every image, batched and jitted.

    Returns:
      numpy ``[N, d]``.

    Examples:
      >>> from xent_jax.models import CNN
      >>> extract_features(CNN(4, widths=(8,), rngs=nnx.Rngs(0)), np.zeros((3, 8, 8, 1))).shape
      (3, 32)
    """
    graphdef, state = nnx.split(model)
    return apply_batched(graphdef, (state,), images, method=method, batch_size=batch_size, **kwargs)


def rotation_accuracy(model: nnx.Module, images: Any, *, batch_size: int = 512) -> dict[str, Any]:
    """4-way rotation accuracy of ``model`` over all four rotations of ``images``.

    Returns:
      ``{"accuracy": overall, "per_rotation": [acc at 0, 90, 180, 270 degrees]}``.

    Examples:
      >>> from xent_jax.models import CNN
      >>> res = rotation_accuracy(CNN(4, widths=(8,), rngs=nnx.Rngs(0)), np.zeros((2, 8, 8, 1)))
      >>> len(res["per_rotation"])
      4
    """
    x, y = rotation_batch(np.asarray(images))
    graphdef, state = nnx.split(model)
    pred = apply_batched(graphdef, (state,), np.asarray(x), batch_size=batch_size).argmax(-1)
    y = np.asarray(y)
    per = [float(np.mean(pred[y == k] == k)) for k in range(NUM_ROTATIONS)]
    return {"accuracy": float(np.mean(pred == y)), "per_rotation": per}

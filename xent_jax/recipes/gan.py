"""Alternating GAN training with two optax optimizers, jitted, with checkpoint/resume.

One training step:

1. discriminator: ``d_steps`` updates of the mean of
   :func:`~xent_jax.losses.gan_discriminator_loss` on a fresh real batch and a fresh generated
   batch (optionally plus the R1 gradient penalty ``r1_gamma / 2 * E||grad_x D(x_real)||^2``,
   Mescheder et al. 2018);
2. generator: one update of the mean of :func:`~xent_jax.losses.gan_generator_loss`
   (``"non_saturating"`` or ``"minimax"``) on a fresh generated batch.

Both models are NNX modules; the step works on their pure parameter dicts (``nnx.split`` /
``nnx.merge``) under plain ``jax.jit``, and :func:`train_gan` runs chunks of steps with
``lax.scan``. The state is a dict of arrays, so :class:`~xent_jax.train.Checkpointer` saves it;
re-running :func:`train_gan` with the same ``checkpoint_dir`` resumes where it stopped and, since
the key of each chunk is ``fold_in(key, chunk_index)``, reaches the same result as an
uninterrupted run.

References:
  Goodfellow et al. 2014; Mescheder, Geiger, Nowozin, "Which training methods for GANs do
  actually converge?", ICML 2018 (R1 penalty).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from xent_jax.losses.gan import gan_discriminator_loss, gan_generator_loss
from xent_jax.train import Checkpointer
from xent_jax.train import MetricsLogger

__all__ = ["GANConfig", "GANTrainer", "train_gan"]

SampleFn = Callable[[jax.Array, int], jax.Array]


@dataclasses.dataclass(frozen=True)
class GANConfig:
    """Hyper-parameters of the alternating step.

    Attributes:
      batch_size: real and generated samples per update (a multiple of the discriminator's pack).
      generator_loss: ``"non_saturating"`` or ``"minimax"``.
      g_learning_rate, d_learning_rate: Adam learning rates.
      b1, b2: Adam moment decays (``b1=0.5`` is the usual GAN choice).
      d_steps: discriminator updates per generator update.
      r1_gamma: weight of the R1 gradient penalty on real data (0 = off).
      label_smoothing: one-sided smoothing of the real targets.
      decay_steps: when positive, both learning rates follow a cosine decay to 5% of their
        initial value over this many steps (late small steps sharpen the generator's samples).
      instance_noise: standard deviation of Gaussian noise added to every discriminator input,
        real and generated (Sønderby et al. 2017). It hides differences finer than the noise,
        e.g. the tiny non-zero fractions of a softmax generator against exact zeros in the data.
    """

    batch_size: int = 256
    generator_loss: str = "non_saturating"
    g_learning_rate: float = 1e-4
    d_learning_rate: float = 1e-4
    b1: float = 0.5
    b2: float = 0.999
    d_steps: int = 1
    r1_gamma: float = 0.0
    label_smoothing: float = 0.0
    instance_noise: float = 0.0
    decay_steps: int = 0

    def __post_init__(self):
        if self.generator_loss not in ("non_saturating", "minimax"):
            raise ValueError(
                f"generator_loss must be 'non_saturating' or 'minimax', got {self.generator_loss!r}"
            )
        for name in ("batch_size", "d_steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        for name in ("g_learning_rate", "d_learning_rate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.r1_gamma < 0:
            raise ValueError(f"r1_gamma must be >= 0, got {self.r1_gamma!r}")
        if not isinstance(self.decay_steps, int) or self.decay_steps < 0:
            raise ValueError(f"decay_steps must be a non-negative int, got {self.decay_steps!r}")
        if self.instance_noise < 0:
            raise ValueError(f"instance_noise must be >= 0, got {self.instance_noise!r}")


class GANTrainer:
    """Pure, jittable alternating GAN updates for a generator/discriminator pair.

    Args:
      generator: an NNX module mapping noise ``[batch, noise_dim]`` to samples; it must have an
        int attribute ``noise_dim`` (as :class:`xent_jax.models.Generator` does).
      discriminator: an NNX module mapping samples ``[batch, dim]`` to logits ``[batch // pack]``;
        its ``pack`` attribute (default 1) is read to check the batch size.
      sample_real: either a function ``(key, n) -> [n, dim]`` drawing fresh real samples, or an
        array ``[N, dim]`` of training data from which rows are drawn uniformly with replacement.
      config: a :class:`GANConfig`.

    Examples:
      >>> import jax
      >>> from flax import nnx
      >>> from xent_jax.models import Generator, Discriminator
      >>> from xent_jax.data.mixtures import sample_mixture, ring_centers
      >>> g = Generator(2, 2, hidden=(8,), rngs=nnx.Rngs(0))
      >>> d = Discriminator(2, hidden=(8,), rngs=nnx.Rngs(1))
      >>> trainer = GANTrainer(g, d, lambda k, n: sample_mixture(k, ring_centers(), 0.02, n),
      ...                      GANConfig(batch_size=16))
      >>> state = trainer.init_state()
      >>> state, metrics = trainer.run(state, jax.random.key(0), 3)
      >>> int(state["step"])
      3
    """

    def __init__(
        self,
        generator: nnx.Module,
        discriminator: nnx.Module,
        sample_real: SampleFn | jax.Array | np.ndarray,
        config: GANConfig = GANConfig(),
    ):
        if not isinstance(config, GANConfig):
            raise TypeError(f"config must be a GANConfig, got {type(config).__name__}")
        noise_dim = getattr(generator, "noise_dim", None)
        if not isinstance(noise_dim, int):
            raise TypeError("generator must have an int attribute noise_dim")
        pack = getattr(discriminator, "pack", 1)
        if config.batch_size % pack:
            raise ValueError(
                f"config.batch_size must be a multiple of the discriminator's pack={pack}, "
                f"got {config.batch_size}"
            )
        self.config, self.noise_dim = config, noise_dim
        self.g_def, g_state = nnx.split(generator)
        self.d_def, d_state = nnx.split(discriminator)
        self._g_init, self._d_init = nnx.to_pure_dict(g_state), nnx.to_pure_dict(d_state)
        if callable(sample_real):
            self._data = None
            self._sample_fn = sample_real
        else:
            data = jnp.asarray(sample_real, jnp.float32)
            if data.ndim != 2 or data.shape[0] < 1:
                raise ValueError(f"sample_real data must have shape [N, dim], got {data.shape}")
            self._data = data
            self._sample_fn = None
        self.g_tx = optax.adam(self._lr(config.g_learning_rate), b1=config.b1, b2=config.b2)
        self.d_tx = optax.adam(self._lr(config.d_learning_rate), b1=config.b1, b2=config.b2)
        self._run = jax.jit(self._run_impl, static_argnums=2)

    def _lr(self, value: float):
        if self.config.decay_steps > 0:
            return optax.cosine_decay_schedule(value, self.config.decay_steps, alpha=0.05)
        return value

    # -- state ---------------------------------------------------------------------------------
    def init_state(self) -> dict[str, Any]:
        """Returns the training state: parameters, optimizer states and the step counter."""
        return {
            "g": self._g_init,
            "d": self._d_init,
            "g_opt": self.g_tx.init(self._g_init),
            "d_opt": self.d_tx.init(self._d_init),
            "step": jnp.zeros((), jnp.int32),
        }

    def generator(self, state: dict[str, Any]) -> nnx.Module:
        """Returns a generator module holding the parameters of ``state``."""
        return nnx.merge(self.g_def, state["g"])

    def discriminator(self, state: dict[str, Any]) -> nnx.Module:
        """Returns a discriminator module holding the parameters of ``state``."""
        return nnx.merge(self.d_def, state["d"])

    def sample(self, state: dict[str, Any], key: jax.Array, n: int) -> jax.Array:
        """Draws ``n`` generated samples with the generator of ``state``."""
        z = jax.random.normal(key, (n, self.noise_dim), jnp.float32)
        return self.generator(state)(z)

    # -- the step ------------------------------------------------------------------------------
    def _real(self, data, key, n):
        if data is None:
            return jnp.asarray(self._sample_fn(key, n), jnp.float32)
        idx = jax.random.randint(key, (n,), 0, data.shape[0])
        return data[idx]

    def _noisy(self, x, key):
        if self.config.instance_noise == 0:
            return x
        return x + self.config.instance_noise * jax.random.normal(key, x.shape, x.dtype)

    def _d_loss(self, d_params, g_params, data, key):
        cfg = self.config
        k_real, k_z, k_n1, k_n2 = jax.random.split(key, 4)
        real = self._noisy(self._real(data, k_real, cfg.batch_size), k_n1)
        z = jax.random.normal(k_z, (cfg.batch_size, self.noise_dim), jnp.float32)
        fake = self._noisy(jax.lax.stop_gradient(nnx.merge(self.g_def, g_params)(z)), k_n2)

        def disc(x):
            return nnx.merge(self.d_def, d_params)(x)

        if cfg.r1_gamma > 0:
            real_logits, vjp = jax.vjp(disc, real)
            (grad_real,) = vjp(jnp.ones_like(real_logits))
            # Each pack's logit depends only on its own rows: squared norm per pack, averaged.
            r1 = jnp.sum(grad_real**2) / real_logits.shape[0]
        else:
            real_logits, r1 = disc(real), jnp.zeros((), jnp.float32)
        fake_logits = disc(fake)
        bce = jnp.mean(
            gan_discriminator_loss(real_logits, fake_logits, label_smoothing=cfg.label_smoothing)
        )
        aux = {
            "d_loss": bce,
            "r1": r1,
            "d_real": jnp.mean(jax.nn.sigmoid(real_logits)),
            "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits)),
        }
        return bce + 0.5 * cfg.r1_gamma * r1, aux

    def _g_loss(self, g_params, d_params, key):
        k_z, k_n = jax.random.split(key)
        z = jax.random.normal(k_z, (self.config.batch_size, self.noise_dim), jnp.float32)
        fake = self._noisy(nnx.merge(self.g_def, g_params)(z), k_n)
        fake_logits = nnx.merge(self.d_def, d_params)(fake)
        return jnp.mean(gan_generator_loss(fake_logits, kind=self.config.generator_loss))

    def step(self, state: dict[str, Any], key: jax.Array, data: jax.Array | None = None):
        """One alternating update (pure; jit it or use :meth:`run`).

        Args:
          state: from :meth:`init_state`.
          key: PRNG key for this step.
          data: the training array when ``sample_real`` was an array (filled in by :meth:`run`).

        Returns:
          ``(new_state, metrics)`` with scalar metrics ``d_loss`` (BCE part), ``g_loss``, ``r1``,
          ``d_real`` and ``d_fake`` (mean discriminator probabilities).
        """
        d_params, d_opt = state["d"], state["d_opt"]
        keys = jax.random.split(key, self.config.d_steps + 1)
        aux = None
        for k in keys[:-1]:
            grads, aux = jax.grad(self._d_loss, has_aux=True)(d_params, state["g"], data, k)
            updates, d_opt = self.d_tx.update(grads, d_opt, d_params)
            d_params = optax.apply_updates(d_params, updates)
        g_loss, g_grads = jax.value_and_grad(self._g_loss)(state["g"], d_params, keys[-1])
        updates, g_opt = self.g_tx.update(g_grads, state["g_opt"], state["g"])
        g_params = optax.apply_updates(state["g"], updates)
        new_state = {
            "g": g_params,
            "d": d_params,
            "g_opt": g_opt,
            "d_opt": d_opt,
            "step": state["step"] + 1,
        }
        return new_state, {**aux, "g_loss": g_loss}

    def _run_impl(self, state, key, n_steps, data):
        def body(carry, k):
            return self.step(carry, k, data)

        state, metrics = jax.lax.scan(body, state, jax.random.split(key, n_steps))
        return state, jax.tree.map(jnp.mean, metrics)

    def run(self, state: dict[str, Any], key: jax.Array, n_steps: int):
        """Runs ``n_steps`` steps under ``jit`` and ``lax.scan``; returns state and mean metrics."""
        if not isinstance(n_steps, int) or n_steps < 1:
            raise ValueError(f"n_steps must be a positive int, got {n_steps!r}")
        return self._run(state, key, n_steps, self._data)


def train_gan(
    trainer: GANTrainer,
    *,
    steps: int,
    key: jax.Array,
    chunk: int = 500,
    checkpoint_dir: str | Path | None = None,
    checkpoint_every: int = 1,
    metrics_path: str | Path | None = None,
    progress: bool = True,
    desc: str = "gan",
) -> tuple[dict[str, Any], list[dict[str, float]]]:
    """Trains for ``steps`` steps in chunks, logging and checkpointing between chunks.

    Args:
      trainer: the :class:`GANTrainer`.
      steps: total number of generator steps (a multiple of ``chunk`` is not required).
      key: PRNG key; chunk ``c`` uses ``fold_in(key, c)``.
      chunk: steps per jitted ``lax.scan`` call (one log line each).
      checkpoint_dir: when given, the state is saved every ``checkpoint_every`` chunks and at the
        end, and an existing checkpoint there is resumed.
      checkpoint_every: chunks between checkpoints.
      metrics_path: when given, one JSON line per chunk is appended there.
      progress: show a tqdm bar.
      desc: the bar's label.

    Returns:
      ``(state, history)``: the final state and one dict of mean metrics per chunk run now.

    Examples:
      >>> import jax
      >>> from flax import nnx
      >>> from xent_jax.models import Generator, Discriminator
      >>> from xent_jax.data.mixtures import sample_mixture, ring_centers
      >>> tr = GANTrainer(Generator(2, 2, hidden=(8,), rngs=nnx.Rngs(0)),
      ...                 Discriminator(2, hidden=(8,), rngs=nnx.Rngs(1)),
      ...                 lambda k, n: sample_mixture(k, ring_centers(), 0.02, n),
      ...                 GANConfig(batch_size=16))
      >>> state, hist = train_gan(tr, steps=4, key=jax.random.key(0), chunk=2, progress=False)
      >>> len(hist)
      2
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive int, got {chunk!r}")
    state = trainer.init_state()
    done = 0
    ckpt = Checkpointer(checkpoint_dir) if checkpoint_dir is not None else None
    if ckpt is not None and ckpt.latest_step() is not None:
        state, _ = ckpt.restore(state)
        done = int(state["step"])
    logger = MetricsLogger(metrics_path) if metrics_path is not None else None
    history: list[dict[str, float]] = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, initial=min(done, steps), desc=desc, leave=False)
    try:
        chunks_run = 0
        while done < steps:
            n = min(chunk, steps - done)
            state, metrics = trainer.run(state, jax.random.fold_in(key, done // chunk), n)
            done += n
            chunks_run += 1
            row = {"step": done, **{k: float(v) for k, v in metrics.items()}}
            history.append(row)
            if logger is not None:
                logger.log(row)
            if bar is not None:
                bar.update(n)
                bar.set_postfix(d=f"{row['d_loss']:.3f}", g=f"{row['g_loss']:.3f}")
            if ckpt is not None and (chunks_run % checkpoint_every == 0 or done >= steps):
                if ckpt.latest_step() != done:
                    ckpt.save(done, state, extra=row)
    finally:
        if bar is not None:
            bar.close()
        if ckpt is not None:
            ckpt.close()
    return state, history

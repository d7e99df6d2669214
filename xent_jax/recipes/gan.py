"""GAN training as a step function for the one engine: two optax optimisers, alternating updates.

One step (:class:`GANStep`, built by :func:`gan_step`):

1. discriminator: ``d_steps`` updates of the mean of
   :func:`~xent_jax.losses.gan_discriminator_loss` on a fresh real batch and a fresh generated
   batch (optionally plus the R1 gradient penalty ``r1_gamma / 2 * E||grad_x D(x_real)||^2``,
   Mescheder et al. 2018, and Gaussian instance noise on every discriminator input);
2. generator: one update of the mean of :func:`~xent_jax.losses.gan_generator_loss`
   (``"non_saturating"`` or ``"minimax"``) on a fresh generated batch.

Real samples are drawn inside the step from its key (a sampler ``(key, n) -> [n, dim]``:
:func:`data_sampler` for rows of a data array, :func:`mixture_sampler` for a Gaussian mixture),
so :func:`xent_jax.train.fit` runs it with ``batch_fn=None``. Both models are NNX modules; the
step works on their pure parameter dicts (``nnx.split`` / ``nnx.merge``), so the state is a
plain pytree that ``fit`` jits, checkpoints and resumes exactly, and that
:func:`xent_jax.train.stack_seeds` / :func:`~xent_jax.train.vmap_seeds` batch over seeds::

    gan, state = init_gan_state(generator, discriminator, GANConfig(batch_size=256))
    result = fit(gan_step(gan, data_sampler(x)), state, None, steps=10_000, key=0,
                 workdir="runs/gan", checkpoint_every=1000)
    x_new = sample(gan, result.state, jax.random.key(1), 2500)

Steps, models and samplers built from equal arguments compare (and hash) equal, so ``fit``
reuses its compiled chunks across runs.

References:
  Goodfellow et al. 2014; Mescheder, Geiger, Nowozin, "Which training methods for GANs do
  actually converge?", ICML 2018 (R1 penalty); Sønderby et al., "Amortised MAP inference for
  image super-resolution", ICLR 2017 (instance noise).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.typing import ArrayLike

from xent_jax._keys import as_key
from xent_jax.data.mixtures import sample_mixture
from xent_jax.losses import gan_discriminator_loss, gan_generator_loss

__all__ = [
    "GAN",
    "GANConfig",
    "GANStep",
    "DataSampler",
    "MixtureSampler",
    "data_sampler",
    "gan_step",
    "init_gan_state",
    "mixture_sampler",
    "sample",
]

Sampler = Callable[[jax.Array, int], jax.Array]
State = dict[str, Any]


def _positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


@dataclasses.dataclass(frozen=True)
class GANConfig:
    """Hyper-parameters of the alternating step.

    Attributes:
      batch_size: real and generated samples per update (a multiple of the discriminator's pack).
      generator_loss: ``"non_saturating"`` or ``"minimax"``.
      g_learning_rate, d_learning_rate: Adam learning rates.
      b1, b2: Adam moment decays (``b1=0.5`` is the usual GAN choice), in ``[0, 1)``.
      d_steps: discriminator updates per generator update.
      r1_gamma: weight of the R1 gradient penalty on real data (0 = off).
      label_smoothing: one-sided smoothing of the real targets, in ``[0, 1)``.
      instance_noise: standard deviation of Gaussian noise added to every discriminator input,
        real and generated (Sønderby et al. 2017). It hides differences finer than the noise,
        e.g. the tiny non-zero fractions of a softmax generator against exact zeros in the data.
      decay_steps: when positive, both learning rates follow a cosine decay to 5% of their
        initial value over this many optimiser updates (late small steps sharpen the samples);
        the discriminator's schedule counts its ``d_steps`` updates per step.

    Raises:
      ValueError: naming the field, for a value outside its range.

    Examples:
      >>> GANConfig(batch_size=64, generator_loss="minimax").d_steps
      1
      >>> GANConfig(generator_loss="wgan")
      Traceback (most recent call last):
      ...
      ValueError: generator_loss must be 'non_saturating' or 'minimax', got 'wgan'
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
        _positive_int("batch_size", self.batch_size)
        _positive_int("d_steps", self.d_steps)
        for name in ("g_learning_rate", "d_learning_rate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        for name in ("b1", "b2", "label_smoothing"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)!r}")
        if not self.r1_gamma >= 0:
            raise ValueError(f"r1_gamma must be >= 0, got {self.r1_gamma!r}")
        if (
            isinstance(self.decay_steps, bool)
            or not isinstance(self.decay_steps, int | np.integer)
            or self.decay_steps < 0
        ):
            raise ValueError(f"decay_steps must be a non-negative int, got {self.decay_steps!r}")
        if not self.instance_noise >= 0:
            raise ValueError(f"instance_noise must be >= 0, got {self.instance_noise!r}")


@functools.cache
def _optimizers(config: GANConfig) -> tuple[optax.GradientTransformation, ...]:
    # One pair per config, so steps of equal configs share compilations.
    def adam(lr: float) -> optax.GradientTransformation:
        if config.decay_steps > 0:
            lr = optax.cosine_decay_schedule(lr, config.decay_steps, alpha=0.05)
        return optax.adam(lr, b1=config.b1, b2=config.b2)

    return adam(config.g_learning_rate), adam(config.d_learning_rate)


@dataclasses.dataclass(frozen=True)
class GAN:
    """The static half of a GAN: both graphdefs, the noise size, the pack and the config.

    Made by :func:`init_gan_state`; the parameters live in the state pytree.

    Attributes:
      g_def, d_def: the generator's and discriminator's ``nnx.GraphDef``.
      noise_dim: the generator's noise size.
      pack: samples per discriminator logit.
      config: the :class:`GANConfig`.
    """

    g_def: nnx.GraphDef
    d_def: nnx.GraphDef
    noise_dim: int
    pack: int
    config: GANConfig

    def generator(self, state: State) -> nnx.Module:
        """The generator module holding the parameters of ``state``."""
        return nnx.merge(self.g_def, state["g"])

    def discriminator(self, state: State) -> nnx.Module:
        """The discriminator module holding the parameters of ``state``."""
        return nnx.merge(self.d_def, state["d"])

    @property
    def optimizers(self) -> tuple[optax.GradientTransformation, optax.GradientTransformation]:
        """``(generator_tx, discriminator_tx)``: Adam, with the cosine decay when configured."""
        return _optimizers(self.config)


def init_gan_state(
    generator: nnx.Module, discriminator: nnx.Module, config: GANConfig = GANConfig()
) -> tuple[GAN, State]:
    """Splits both modules into a :class:`GAN` and a state with fresh Adam states.

    Args:
      generator: an NNX module mapping noise ``[batch, noise_dim]`` to samples ``[batch, dim]``
        with an int attribute ``noise_dim`` (as :class:`xent_jax.models.Generator` has).
      discriminator: an NNX module mapping samples ``[batch, dim]`` to logits
        ``[batch // pack]``; its ``pack`` attribute (default 1) is checked against the batch size.
      config: a :class:`GANConfig`.

    Returns:
      ``(gan, state)`` with ``state = {"g", "d", "g_opt", "d_opt", "step"}`` (pure parameter
      dicts, optax states, an int32 step counter).

    Raises:
      TypeError: for a config that is not a GANConfig or a generator without ``noise_dim``.
      ValueError: when ``config.batch_size`` is not a multiple of the discriminator's pack.

    Examples:
      >>> from xent_jax.models import Discriminator, Generator
      >>> gan, state = init_gan_state(Generator(2, 2, hidden=(8,), rngs=nnx.Rngs(0)),
      ...                             Discriminator(2, hidden=(8,), pack=2, rngs=nnx.Rngs(1)),
      ...                             GANConfig(batch_size=16))
      >>> sorted(state), gan.pack
      (['d', 'd_opt', 'g', 'g_opt', 'step'], 2)
    """
    if not isinstance(config, GANConfig):
        raise TypeError(f"config must be a GANConfig, got {type(config).__name__}")
    noise_dim = getattr(generator, "noise_dim", None)
    if isinstance(noise_dim, bool) or not isinstance(noise_dim, int):
        raise TypeError(
            f"generator must have an int attribute noise_dim, got {type(generator).__name__} "
            f"with noise_dim={noise_dim!r}"
        )
    pack = getattr(discriminator, "pack", 1)
    if config.batch_size % pack:
        raise ValueError(
            f"config.batch_size must be a multiple of the discriminator's pack={pack}, "
            f"got {config.batch_size}"
        )
    g_def, g_state = nnx.split(generator)
    d_def, d_state = nnx.split(discriminator)
    g_params, d_params = nnx.to_pure_dict(g_state), nnx.to_pure_dict(d_state)
    gan = GAN(g_def, d_def, int(noise_dim), int(pack), config)
    g_tx, d_tx = gan.optimizers
    state = {
        "g": g_params,
        "d": d_params,
        "g_opt": g_tx.init(g_params),
        "d_opt": d_tx.init(d_params),
        "step": jnp.zeros((), jnp.int32),
    }
    return gan, state


# -- real-data samplers --------------------------------------------------------------------------


class DataSampler:
    """``(key, n) -> [n, dim]``: rows of a data array drawn uniformly with replacement.

    Hashable by the array's content (shape, dtype and a sha256 of its bytes), so steps built on
    equal data share compiled code. Inside ``jit`` the array is a constant of the program.
    Made by :func:`data_sampler`.
    """

    def __init__(self, data: np.ndarray):
        self.data = data
        digest = hashlib.sha256(np.ascontiguousarray(data).tobytes()).hexdigest()
        self._id = (data.shape, str(data.dtype), digest)

    def __call__(self, key: jax.Array, n: int) -> jax.Array:
        idx = jax.random.randint(key, (n,), 0, self.data.shape[0])
        return jnp.asarray(self.data)[idx]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DataSampler) and other._id == self._id

    def __hash__(self) -> int:
        return hash(self._id)

    def __repr__(self) -> str:
        return f"DataSampler(shape={self.data.shape}, sha256={self._id[2][:12]})"


def data_sampler(data: ArrayLike) -> DataSampler:
    """A real-data sampler drawing rows of ``data`` (uniformly, with replacement) in the step.

    Args:
      data: the training samples, ``[N, dim]`` (cast to float32; copied).

    Returns:
      a hashable ``(key, n) -> float32 [n, dim]``.

    Raises:
      ValueError: for a shape other than ``[N >= 1, dim >= 1]`` or non-finite values.

    Examples:
      >>> s = data_sampler(np.arange(6.0).reshape(3, 2))
      >>> s(jax.random.key(0), 4).shape, s == data_sampler(np.arange(6.0).reshape(3, 2))
      ((4, 2), True)
    """
    arr = np.array(data, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"data must have shape [N, dim] with N, dim >= 1, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("data must be finite, got NaN or inf entries")
    arr.flags.writeable = False
    return DataSampler(arr)


@dataclasses.dataclass(frozen=True)
class MixtureSampler:
    """``(key, n) -> [n, dim]``: :func:`xent_jax.data.mixtures.sample_mixture` of fixed modes.

    Made by :func:`mixture_sampler`; the centres are kept as a tuple, so it is hashable.
    """

    centers: tuple[tuple[float, ...], ...]
    std: float

    def __call__(self, key: jax.Array, n: int) -> jax.Array:
        return sample_mixture(key, np.asarray(self.centers, np.float32), self.std, n)


def mixture_sampler(centers: ArrayLike, std: float) -> MixtureSampler:
    """A real-data sampler for the equal-weight isotropic Gaussian mixture of ``centers``.

    Args:
      centers: mode centres ``[modes, dim]``.
      std: every mode's standard deviation (positive).

    Returns:
      a hashable ``(key, n) -> float32 [n, dim]``.

    Examples:
      >>> from xent_jax.data.mixtures import ring_centers
      >>> mixture_sampler(ring_centers(), 0.02)(jax.random.key(0), 5).shape
      (5, 2)
    """
    c = np.asarray(centers, np.float64)
    if c.ndim != 2 or c.shape[0] < 1 or c.shape[1] < 1:
        raise ValueError(f"centers must have shape [modes, dim], got {c.shape}")
    if not float(std) > 0:
        raise ValueError(f"std must be positive, got {std!r}")
    return MixtureSampler(tuple(tuple(float(v) for v in row) for row in c), float(std))


# -- the step ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GANStep:
    """``(state, batch, key) -> (state, metrics)``: one alternating update, for ``fit``.

    ``batch`` is ignored (run with ``batch_fn=None``): real samples come from ``real``. The
    step's randomness is drawn in few calls (XLA's compile time on CPU grows with the number of
    random draws): ``k_z, k_noise, k_real = split(key, 3)``; the noise of all ``d_steps + 1``
    generated batches is one ``normal(k_z, [d_steps + 1, batch, noise_dim])`` (the last for the
    generator update); the instance noise is one ``normal(k_noise, [2 d_steps + 1, batch, dim])``
    (real then generated input of each discriminator update, then the generator's); real batch
    ``i`` is ``real(split(k_real, d_steps)[i], batch)`` (``real(k_real, batch)`` when
    ``d_steps == 1``). Metrics (scalars): ``d_loss`` (the BCE part of the last discriminator
    update), ``r1``, ``d_real`` and ``d_fake`` (mean discriminator probabilities on real and
    generated inputs) and ``g_loss``. Made by :func:`gan_step`.
    """

    gan: GAN
    real: Sampler

    def _d_loss(self, d_params, real, fake):
        cfg, d_def = self.gan.config, self.gan.d_def

        def disc(x):
            return nnx.merge(d_def, d_params)(x)

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

    def _g_loss(self, g_params, d_params, z, noise):
        fake = nnx.merge(self.gan.g_def, g_params)(z) + noise
        fake_logits = nnx.merge(self.gan.d_def, d_params)(fake)
        return jnp.mean(gan_generator_loss(fake_logits, kind=self.gan.config.generator_loss))

    def __call__(self, state: State, batch: Any, key: jax.Array) -> tuple[State, dict]:
        del batch
        gan, cfg = self.gan, self.gan.config
        n, bs = cfg.d_steps, cfg.batch_size
        g_tx, d_tx = gan.optimizers
        k_z, k_noise, k_real = jax.random.split(key, 3)
        z = jax.random.normal(k_z, (n + 1, bs, gan.noise_dim), jnp.float32)
        real_keys = jax.random.split(k_real, n) if n > 1 else k_real[None]

        def generate(g_params, z):
            return nnx.merge(gan.g_def, g_params)(z)

        dim = jax.eval_shape(generate, state["g"], z[0]).shape[-1]
        if cfg.instance_noise > 0:
            noise = cfg.instance_noise * jax.random.normal(k_noise, (2 * n + 1, bs, dim))
        else:
            noise = jnp.zeros((2 * n + 1, 1, 1), jnp.float32)  # adds nothing
        d_params, d_opt = state["d"], state["d_opt"]
        aux = None
        for i in range(n):
            real = jnp.asarray(self.real(real_keys[i], bs), jnp.float32) + noise[2 * i]
            fake = jax.lax.stop_gradient(generate(state["g"], z[i])) + noise[2 * i + 1]
            grads, aux = jax.grad(self._d_loss, has_aux=True)(d_params, real, fake)
            updates, d_opt = d_tx.update(grads, d_opt, d_params)
            d_params = optax.apply_updates(d_params, updates)
        g_loss, g_grads = jax.value_and_grad(self._g_loss)(state["g"], d_params, z[n], noise[2 * n])
        updates, g_opt = g_tx.update(g_grads, state["g_opt"], state["g"])
        g_params = optax.apply_updates(state["g"], updates)
        new_state = {
            "g": g_params,
            "d": d_params,
            "g_opt": g_opt,
            "d_opt": d_opt,
            "step": state["step"] + 1,
        }
        return new_state, {**aux, "g_loss": g_loss}


def gan_step(gan: GAN, real: Sampler) -> GANStep:
    """The alternating GAN step for :func:`xent_jax.train.fit` (run with ``batch_fn=None``).

    Args:
      gan: from :func:`init_gan_state`.
      real: ``(key, n) -> [n, dim]`` real samples, drawn inside the step from its key (use
        :func:`data_sampler` or :func:`mixture_sampler`; any hashable jittable callable works).

    Returns:
      a hashable :class:`GANStep`; its metrics are ``d_loss``, ``r1``, ``d_real``, ``d_fake``,
      ``g_loss``.

    Examples:
      >>> from xent_jax.models import Discriminator, Generator
      >>> from xent_jax.train import fit
      >>> gan, state = init_gan_state(Generator(2, 2, hidden=(8,), rngs=nnx.Rngs(0)),
      ...                             Discriminator(2, hidden=(8,), rngs=nnx.Rngs(1)),
      ...                             GANConfig(batch_size=16))
      >>> real = data_sampler(np.random.default_rng(0).normal(size=(64, 2)))
      >>> res = fit(gan_step(gan, real), state, None, steps=3, key=0, progress=False)
      >>> int(res.state["step"]), sorted(res.train)
      (3, ['d_fake', 'd_loss', 'd_real', 'g_loss', 'r1'])
    """
    if not isinstance(gan, GAN):
        raise TypeError(f"gan must be a GAN from init_gan_state, got {type(gan).__name__}")
    if not callable(real):
        raise TypeError(f"real must be a callable (key, n) -> [n, dim], got {type(real).__name__}")
    return GANStep(gan, real)


@functools.partial(jax.jit, static_argnums=(0, 3))
def _sample(gan: GAN, g_params: Any, key: jax.Array, n: int) -> jax.Array:
    z = jax.random.normal(key, (n, gan.noise_dim), jnp.float32)
    return nnx.merge(gan.g_def, g_params)(z)


def sample(gan: GAN, state: State, key: jax.Array | int, n: int) -> np.ndarray:
    """``n`` generated samples from the generator of ``state`` (noise ``N(0, I)`` from ``key``).

    Args:
      gan: from :func:`init_gan_state`.
      state: a state (one seed; :func:`xent_jax.train.unstack_seeds` splits a stacked one).
      key: PRNG key or int seed.
      n: number of samples.

    Returns:
      numpy ``[n, dim]``.

    Examples:
      >>> from xent_jax.models import Discriminator, Generator
      >>> gan, state = init_gan_state(Generator(2, 3, hidden=(8,), rngs=nnx.Rngs(0)),
      ...                             Discriminator(3, hidden=(8,), rngs=nnx.Rngs(1)))
      >>> sample(gan, state, 0, 5).shape
      (5, 3)
    """
    if not isinstance(gan, GAN):
        raise TypeError(f"gan must be a GAN from init_gan_state, got {type(gan).__name__}")
    _positive_int("n", n)
    return np.asarray(_sample(gan, state["g"], as_key(key, "key"), int(n)))

"""Training engine: checkpoints, metrics, the fit loop, probes and sharding helpers."""

from xent_jax.train.checkpoint import Checkpointer
from xent_jax.train.metrics import MetricsLogger, read_metrics

__all__ = ["Checkpointer", "MetricsLogger", "read_metrics"]

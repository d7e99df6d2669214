"""Assertions shared by the attack tests."""

from __future__ import annotations

import numpy as np

EPSILONS = (0.0, 1e-3, 0.05, 0.3, 1.0, 100.0)


def assert_in_budget_and_box(x_adv, x, eps, norm, bounds=(0.0, 1.0)):
    """Every example lies in the eps-ball (float32 rounding allowed) and exactly in the box."""
    x_adv, x = np.asarray(x_adv, np.float64), np.asarray(x, np.float64)
    delta = (x_adv - x).reshape(len(x), -1)
    size = np.abs(delta).max(axis=1) if norm == "linf" else np.linalg.norm(delta, axis=1)
    assert np.all(size <= eps * (1 + 1e-6) + 1e-6), (norm, eps, size.max())
    assert np.all(x_adv >= bounds[0]) and np.all(x_adv <= bounds[1])

r"""Declared hyper-parameter search spaces, and quasi-random trials drawn from them.

Every optimizer and remedy declares the space its hyper-parameters are tuned over next to its
code, as registry metadata::

    @register("adam", family="first-order",
              search_space={"learning_rate": Log(1e-4, 3e-2), "b2": Linear(0.9, 0.9999)})

A dimension maps a coordinate :math:`u \in [0, 1)` of the unit cube to a value:

* ``Log(lo, hi)``: :math:`lo\,(hi/lo)^u` (scale-free quantities: learning rates, damping);
* ``Linear(lo, hi)``: :math:`lo + u\,(hi - lo)`;
* ``IntLog(lo, hi)`` / ``IntLinear(lo, hi)``: the same, rounded to an integer in [lo, hi];
* ``Choice(a, b, …)``: the :math:`\lfloor u\,k \rfloor`-th of k values.

``trials(space, n, seed)`` draws n points of a scrambled Sobol sequence (Owen scrambling,
``scipy.stats.qmc.Sobol``) in as many dimensions as the space has, in the space's sorted key
order, and maps them: the same (space, n, seed) always gives the same trials, and adding a
method never changes another's. This is the quasi-random search of the AlgoPerf external-tuning
ruleset (Dahl et al. 2023, "Benchmarking Neural Network Training Algorithms", arXiv 2306.07179,
Sec. 4.1), with a fixed number of trials per method.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np


@dataclass(frozen=True)
class Log:
    lo: float
    hi: float
    scale = "log"

    def __post_init__(self):
        if not 0 < self.lo < self.hi:
            raise ValueError(f"Log search dimension needs 0 < lo < hi, got ({self.lo}, {self.hi})")

    def value(self, u: float) -> float:
        return float(self.lo * (self.hi / self.lo) ** u)

    def describe(self) -> str:
        return f"{self.scale}[{self.lo:g}, {self.hi:g}]"


@dataclass(frozen=True)
class Linear:
    lo: float
    hi: float
    scale = "linear"

    def __post_init__(self):
        if not self.lo < self.hi:
            raise ValueError(f"Linear search dimension needs lo < hi, got ({self.lo}, {self.hi})")

    def value(self, u: float) -> float:
        return float(self.lo + u * (self.hi - self.lo))

    def describe(self) -> str:
        return f"{self.scale}[{self.lo:g}, {self.hi:g}]"


@dataclass(frozen=True)
class IntLog(Log):
    scale = "log-int"

    def value(self, u: float) -> int:
        return int(min(self.hi, max(self.lo, round(super().value(u)))))


@dataclass(frozen=True)
class IntLinear(Linear):
    scale = "linear-int"

    def value(self, u: float) -> int:
        return int(min(self.hi, max(self.lo, math.floor(self.lo + u * (self.hi - self.lo + 1)))))


class Choice:
    scale = "choice"

    def __init__(self, *values: Any):
        if not values:
            raise ValueError("Choice needs at least one value")
        self.values = tuple(values)

    def value(self, u: float) -> Any:
        return self.values[min(len(self.values) - 1, int(u * len(self.values)))]

    def describe(self) -> str:
        return "choice{" + ", ".join(map(str, self.values)) + "}"

    def __eq__(self, other):
        return isinstance(other, Choice) and self.values == other.values

    def __hash__(self):
        return hash(self.values)

    def __repr__(self):
        return f"Choice{self.values!r}"


Dimension = Log | Linear | IntLog | IntLinear | Choice


def check(space: Mapping[str, Any], accepted: Mapping[str, Any], owner: str) -> None:
    """Raise ValueError unless every dimension is a Dimension naming an accepted hyper-parameter."""
    for k, d in space.items():
        if k not in accepted:
            raise ValueError(f"{owner}: search space names {k!r}, which is not a hyper-parameter; "
                             f"accepted: {', '.join(sorted(accepted))}")
        if not isinstance(d, (Log, Linear, Choice)):
            raise ValueError(f"{owner}: search dimension {k!r} must be Log, Linear, IntLog, IntLinear or Choice, got {d!r}")


def describe(space: Mapping[str, Any]) -> dict[str, str]:
    return {k: space[k].describe() for k in sorted(space)}


def unit_points(dim: int, n: int, seed: int) -> np.ndarray:
    """n points of a scrambled Sobol sequence in [0, 1)^dim (deterministic in ``seed``)."""
    from scipy.stats import qmc

    if n < 1:
        raise ValueError(f"the number of trials must be >= 1, got {n}")
    if dim == 0:
        return np.zeros((n, 0))
    sampler = qmc.Sobol(d=dim, scramble=True, seed=np.random.default_rng(seed))
    # a Sobol sequence is balanced in blocks of 2^m points; other n give a valid, less balanced prefix
    m = max(0, math.ceil(math.log2(n)))
    return sampler.random_base2(m)[:n]


def trials(space: Mapping[str, Any], n: int, seed: int) -> list[dict[str, Any]]:
    """n hyper-parameter settings from the space (keys in sorted order), deterministic in seed."""
    keys = sorted(space)
    U = unit_points(len(keys), n, seed)
    return [{k: space[k].value(float(u[j])) for j, k in enumerate(keys)} for u in U]

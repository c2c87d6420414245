"""The problem registry: one module per family in this folder, each registering its slugs.

Add a problem by adding a module here that calls ``register(name, factory, ...)`` with a
factory returning a :class:`pinnarena.problem.Problem` (see README, "Adding a problem").
"""
from __future__ import annotations

import functools

from pinnarena.problem import Problem
from pinnarena.registry import Registry

REGISTRY: Registry[Problem] = Registry("problem", package=__name__)
register = REGISTRY.register


def names() -> list[str]:
    return REGISTRY.names()


@functools.lru_cache(maxsize=None)
def get(name: str) -> Problem:
    """The problem registered under ``name`` (one shared instance per process)."""
    problem = REGISTRY.factory(name)()
    if problem.name != name:
        raise ValueError(f"factory for {name!r} built a problem named {problem.name!r}")
    return problem

"""Reference solutions on disk: built once per (problem, tier), then loaded.

A problem's ``reference_fn`` may accept a ``tier`` keyword (``smoke`` | ``standard`` | ``paper``):
solvers use it to pick their resolution; analytic references ignore it. Each built reference is
stored as ``<dir>/<problem>--<tier>.npz`` holding ``points``, ``values`` and ``provenance`` (a
JSON string: solver, resolution, time step, measured self-convergence error, …). The directory
is ``$PINNARENA_REFERENCE_DIR`` or ``results/references`` under the working directory; the
workflow's ``reference`` rule fills it before the runs that need it.
"""
from __future__ import annotations

import inspect
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from pinnarena.problem import Reference

TIERS = ("smoke", "standard", "paper")


def reference_dir() -> Path:
    return Path(os.environ.get("PINNARENA_REFERENCE_DIR", "results/references"))


def path_for(name: str, tier: str, directory: Path | None = None) -> Path:
    return (directory or reference_dir()) / f"{name}--{tier}.npz"


def accepts_tier(fn) -> bool:
    try:
        return "tier" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def build(problem, tier: str) -> Reference:
    if tier not in TIERS:
        raise ValueError(f"reference tier {tier!r} is not one of {TIERS}")
    return problem.reference_fn(tier=tier) if accepts_tier(problem.reference_fn) else problem.reference_fn()


def save(ref: Reference, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".npz", dir=path.parent)
    os.close(fd)
    try:
        np.savez_compressed(tmp, points=ref.points, values=ref.values,
                            provenance=np.asarray(json.dumps(ref.provenance, default=str)))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path: Path) -> Reference:
    with np.load(path, allow_pickle=False) as z:
        return Reference(z["points"], z["values"], json.loads(str(z["provenance"])))


def load_or_build(problem, tier: str = "standard", directory: Path | None = None, write: bool = False) -> Reference:
    """The cached reference if its file exists; otherwise build it (and store it if ``write``).

    Only solver references are cached; analytic ones are cheap and always evaluated.
    """
    cached = problem.reference_kind not in ("analytic", "manufactured")
    path = path_for(problem.name, tier, directory)
    if cached and path.exists():
        return load(path)
    ref = build(problem, tier)
    if cached and write:
        save(ref, path)
    return ref

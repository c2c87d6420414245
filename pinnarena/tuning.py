r"""The tuning protocol: quasi-random trials, selection without the test set, held-out seeds.

Adapted from the external-tuning ruleset of AlgoPerf (Dahl et al. 2023, "Benchmarking Neural
Network Training Algorithms", arXiv 2306.07179, Sec. 4.1 and 7): every method of a comparison
gets the same number of trials drawn quasi-randomly from the search space it declares, the same
step and time budget, and is selected by a metric that does not use the test set.

For one (problem, optimizer, remedy) cell of a study with ``tune: {trials: N, seed: S, seeds:
[T…], select: M}``:

1. **Space.** The cell's space is the union of the optimizer's and the remedy's declared spaces
   (``search_space=`` in their ``register`` calls, keys prefixed ``opt.`` and ``remedy.``), or the
   subset named by ``tune.keys`` (``opt.*`` and ``remedy.*`` stand for a whole declared space).
   Settings from a base study's selection (``tune.base``, e.g. Adam's tuned settings for the
   remedies study) and the study's own ``set`` are fixed; sampled keys override them.
2. **Trials.** ``N`` points of a scrambled Sobol sequence with seed ``S``
   (:func:`pinnarena.search_space.trials`), trained on the tuning seeds ``T`` (rows with study
   ``tuning``, ``tuning_of`` = the study, ``trial`` = k, ``hparams`` = the sampled values). A space
   with no dimension has one trial: N copies would train the same configuration N times.
3. **Selection.** The trial with the lowest median over tuning seeds of ``M`` among trials whose
   every tuning seed finished with status ok; ``M`` is ``val_rel_l2`` (relative L2 on the
   validation points, disjoint from the test points: ``pinnarena.training.split_reference``) or
   ``loss_final`` (the training loss). Never ``rel_l2``, the test error: :data:`SELECT_METRICS`
   excludes it. When no trial finished, trial 0 is chosen and the selection says so.
4. **Held-out seeds.** The chosen setting is retrained on the study's ``seeds``, which must be
   disjoint from the tuning seeds; only those rows enter the ranking.
"""
from __future__ import annotations

import fnmatch
import json
import math
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from pinnarena import search_space as ss

SELECT_METRICS = ("val_rel_l2", "loss_final")  # never the test error rel_l2


def declared_space(kind: str, name: str) -> dict[str, Any]:
    """The search space declared by optimizer or remedy ``name`` (``kind``: opt | remedy).

    A composed remedy (``adapters+grad-norm``) has the union of its parts' spaces.
    """
    if kind == "opt":
        from pinnarena import optimizers as reg

        parts = [name]
        accepted = reg.hyperparameters(name)
    elif kind == "remedy":
        from pinnarena import remedies as reg

        mods, base = reg.parts(name)
        parts = [*mods, base]
        accepted = reg.hyperparameters(name)
    else:
        raise ValueError(f"search-space kind must be 'opt' or 'remedy', got {kind!r}")
    out: dict[str, Any] = {}
    for p in parts:
        meta = reg.REGISTRY.meta(p)
        if "search_space" not in meta:
            raise ValueError(f"{'optimizer' if kind == 'opt' else 'remedy'} {p!r} declares no search space: "
                             "add search_space={...} to its register(...) call (pinnarena/search_space.py)")
        ss.check(meta["search_space"], accepted, f"{kind} {p!r}")
        out.update(meta["search_space"])
    return out


def cell_space(optimizer: str, remedy: str, keys: Iterable[str] | None = None) -> dict[str, Any]:
    """The namespaced space ``{"opt.<hp>": dim, "remedy.<hp>": dim}`` of a cell, or its subset
    matching ``keys`` (glob patterns such as ``opt.learning_rate`` or ``remedy.*``)."""
    full = {f"opt.{k}": d for k, d in declared_space("opt", optimizer).items()}
    full.update({f"remedy.{k}": d for k, d in declared_space("remedy", remedy).items()})
    if keys is None:
        return full
    keys = list(keys)
    out = {k: d for k, d in full.items() if any(fnmatch.fnmatchcase(k, pat) for pat in keys)}
    for pat in keys:
        if not pat.endswith("*") and pat not in full:
            raise ValueError(f"tune.keys names {pat!r}, which is not in the declared space of "
                             f"{optimizer} + {remedy}: {sorted(full) or 'empty'}")
    return out


def trial_settings(optimizer: str, remedy: str, n: int, seed: int, keys=None) -> list[dict[str, Any]]:
    """The cell's trials: a list of ``{"opt.<hp>": value, …}`` (one element if the space is empty)."""
    space = cell_space(optimizer, remedy, keys)
    if not space:
        return [{}]
    return ss.trials(space, n, seed)


def check_seeds(tuning_seeds, held_out) -> None:
    """Held-out seeds must differ from the tuning seeds (and there must be some of each)."""
    tuning_seeds, held_out = list(tuning_seeds), list(held_out)
    if not tuning_seeds or not held_out:
        raise ValueError(f"tuning needs tuning seeds and held-out seeds, got {tuning_seeds} and {held_out}")
    both = sorted(set(tuning_seeds) & set(held_out))
    if both:
        raise ValueError(f"tune.seeds {tuning_seeds} and the held-out seeds {held_out} share {both}: "
                         "the reported seeds must not have been used for tuning")


def select(rows: list[dict], metric: str) -> dict[str, Any]:
    """The selection over trial rows (each with ``trial``, ``status`` and ``metric``).

    Score of a trial: the median of ``metric`` over its seeds when every seed is ok and finite,
    else +inf. Returns ``{"trial", "score", "scores", "metric", "note"}``; ties go to the lower
    trial index (deterministic).
    """
    if metric not in SELECT_METRICS:
        raise ValueError(f"selection metric {metric!r} is not one of {SELECT_METRICS} "
                         "(the test error rel_l2 is never used for selection)")
    by_trial: dict[int, list[float]] = {}
    for r in rows:
        v = r.get(metric)
        ok = r.get("status") == "ok" and v is not None and math.isfinite(float(v))
        by_trial.setdefault(int(r["trial"]), []).append(float(v) if ok else math.inf)
    if not by_trial:
        raise ValueError("selection: no trial rows")
    scores = {k: (float(np.median(v)) if all(math.isfinite(x) for x in v) else math.inf)
              for k, v in sorted(by_trial.items())}
    best = min(scores, key=lambda k: (scores[k], k))
    note = "" if math.isfinite(scores[best]) else "no trial finished with status ok and a finite metric; trial 0 chosen"
    if note:
        best = min(scores)
    return {"trial": best, "score": scores[best], "scores": {str(k): v for k, v in scores.items()},
            "metric": metric, "note": note}


def read_hparams(paths: Iterable[str | Path]) -> dict[str, Any]:
    """The ``hparams`` of selection files (``selected.json``), later files winning."""
    out: dict[str, Any] = {}
    for p in paths or []:
        with open(p) as f:
            out.update(json.load(f)["hparams"])
    return out


def write_selection(path: str | Path, selection: Mapping[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(selection, indent=1, sort_keys=True, default=float) + "\n")
    tmp.replace(path)

r"""Diagnostic-first remedy selection (Kim & N'guessan, arXiv 2605.10136).

Profile the first ``profile_steps`` steps of the unmodified run (remedy ``none``), measuring
every ``profile_every`` steps the intra-step gradient alignment score A(∇L_1..∇L_K) and the
norm ratio ρ = max‖∇L_i‖ / min‖∇L_i‖, then classify the regime and continue:

* **persistent directional conflict** — median A < ``conflict_threshold`` (0) and A < 0 at a
  share ≥ ``persistent_share`` (0.5) of the profile points → ``adapters+<reweighting>``;
* **magnitude imbalance** — otherwise, median ρ ≥ ``imbalance_ratio`` (10) → ``<reweighting>``;
* **low or transient conflict** — otherwise → ``none``.

``reweighting`` defaults to ``grad-norm``. The regime and the statistics behind it (median and
share-negative of A, median ρ) go into the summary. The continuation keeps the parameters
(trunk; new adapters start at B = 0, i.e. the same function), the collocation points and the
step count, and starts the optimizer afresh for the enlarged parameter set. The profile's
diagnostics cost one per-loss gradient per ``profile_every`` steps and are timed as evaluation.
"""
from __future__ import annotations

import numpy as np

from pinnarena.remedies import Remedy, register

REGIMES = ("persistent-conflict", "magnitude-imbalance", "low-conflict")


def classify_regime(align, ratio, conflict_threshold=0.0, persistent_share=0.5, imbalance_ratio=10.0):
    """(regime, stats) from profile series of alignment scores and norm ratios."""
    align = np.asarray(align, float)
    ratio = np.asarray(ratio, float)
    align, ratio = align[np.isfinite(align)], ratio[np.isfinite(ratio)]
    if align.size == 0:
        raise ValueError("auto: the profile produced no finite alignment score")
    stats = {
        "align_median": float(np.median(align)),
        "align_share_negative": float(np.mean(align < 0)),
        "norm_ratio_median": float(np.median(ratio)) if ratio.size else float("nan"),
        "profile_points": int(align.size),
    }
    if stats["align_median"] < conflict_threshold and stats["align_share_negative"] >= persistent_share:
        return "persistent-conflict", stats
    if stats["norm_ratio_median"] >= imbalance_ratio:
        return "magnitude-imbalance", stats
    return "low-conflict", stats


def choice(regime: str, reweighting: str) -> str:
    return {"persistent-conflict": f"adapters+{reweighting}", "magnitude-imbalance": reweighting,
            "low-conflict": "none"}[regime]


@register("auto", family="selection")
def auto(profile_steps: int = 1000, profile_every: int = 10, conflict_threshold: float = 0.0,
         persistent_share: float = 0.5, imbalance_ratio: float = 10.0, reweighting: str = "grad-norm",
         rank: int = 4) -> Remedy:
    if profile_steps < 1 or profile_every < 1:
        raise ValueError("auto needs profile_steps ≥ 1 and profile_every ≥ 1")
    r = Remedy()
    r.auto = {"profile_steps": int(profile_steps), "profile_every": int(profile_every),
              "conflict_threshold": float(conflict_threshold), "persistent_share": float(persistent_share),
              "imbalance_ratio": float(imbalance_ratio), "reweighting": reweighting, "rank": int(rank)}
    return r

r"""Diagnostic-first remedy selection (Kim & N'guessan, arXiv 2605.10136).

Profile the first ``profile_steps`` steps of the unmodified run (remedy ``none``), measuring
every ``profile_every`` steps the pairwise cosines c_ij of the K per-loss gradients and the norm
ratio ρ = max‖∇L_i‖ / min‖∇L_i‖, classify the regime with the K-invariant test of
``pinnarena.regime`` and continue:

* **persistent directional conflict** — the cancellation C = −(K−1)·mean_{i<j} c_ij exceeds
  ``conflict_eps`` (0.1) at a share ≥ ``persistent_share`` (0.5) of the profile points
  → ``adapters+<reweighting>``;
* **magnitude imbalance** — otherwise, median ρ ≥ ``imbalance_ratio`` (10) → ``<reweighting>``;
* **low or transient conflict** — otherwise → ``none``.

(The previous test, median alignment score A < 0, called K ≥ 3 orthogonal gradients a conflict:
A = 2/K − 1 for them. ``pinnarena.regime`` derives C and keeps the old rule as
``legacy_regime``.) ``reweighting`` defaults to ``grad-norm``. The regime and the statistics behind
it go into the summary (``regime_align_median``: median K-normalised alignment
Ã = mean_{i<j} c_ij; ``regime_align_share_negative``: share of conflict points;
``regime_norm_ratio_median``; ``regime_profile_points``). The continuation keeps the parameters
(trunk; new adapters start at B = 0, i.e. the same function), the collocation points and the
step count, and starts the optimizer afresh for the enlarged parameter set. The profile's
diagnostics cost one per-loss gradient per ``profile_every`` steps and are timed as evaluation.

Search space: only ``reweighting`` ∈ {grad-norm, ntk}, the two weightings the diagnostic
protocol pairs with (grad-norm of Wang, Teng & Perdikaris 2021; NTK of Wang, Yu & Perdikaris 2022).
The thresholds and the profile length are left out on purpose: they define the diagnostic, and
tuning them on the validation error would turn "diagnose, then pick" into a search over the three
remedies, which the study compares separately; ``rank`` belongs to ``adapters``, whose own space
tunes it.
"""
from __future__ import annotations

from pinnarena import regime as _regime
from pinnarena.remedies import Remedy, register
from pinnarena.search_space import Choice

REGIMES = _regime.REGIMES


def classify_regime(cosines, ratio, conflict_eps: float = _regime.CONFLICT_EPS,
                    persistent_share: float = _regime.PERSISTENT_SHARE,
                    imbalance_ratio: float = _regime.IMBALANCE_RATIO):
    """(regime, stats) of a profile: ``pinnarena.regime.classify`` (per point a K × K cosine matrix
    or its upper-triangle vector; the norm ratios at the same points). ``stats`` holds only the
    fields the summary has columns for (``pinnarena.regime.SUMMARY_STATS``)."""
    reg, stats = _regime.classify(cosines, ratio, conflict_eps=conflict_eps, persistent_share=persistent_share,
                                  imbalance_ratio=imbalance_ratio)
    return reg, {k: stats[k] for k in _regime.SUMMARY_STATS}


def choice(regime: str, reweighting: str) -> str:
    try:
        return {"persistent-conflict": f"adapters+{reweighting}", "magnitude-imbalance": reweighting,
                "low-conflict": "none"}[regime]
    except KeyError:
        raise ValueError(f"unknown regime {regime!r}; expected one of {REGIMES}") from None


@register("auto", family="selection", search_space={"reweighting": Choice("grad-norm", "ntk")})
def auto(profile_steps: int = 1000, profile_every: int = 10, conflict_eps: float = _regime.CONFLICT_EPS,
         persistent_share: float = _regime.PERSISTENT_SHARE, imbalance_ratio: float = _regime.IMBALANCE_RATIO,
         reweighting: str = "grad-norm", rank: int = 4) -> Remedy:
    if profile_steps < 1 or profile_every < 1:
        raise ValueError("auto needs profile_steps ≥ 1 and profile_every ≥ 1")
    _regime._check_thresholds(conflict_eps, persistent_share, imbalance_ratio)
    from pinnarena import remedies  # noqa: PLC0415 - the registry is complete only at call time

    weightings = [n for n in remedies.names() if remedies.REGISTRY.meta(n).get("family") == "weighting"]
    if reweighting not in weightings:
        raise ValueError(f"auto: reweighting must be a loss weighting, one of {weightings}; got {reweighting!r}")
    r = Remedy()
    r.auto = {"profile_steps": int(profile_steps), "profile_every": int(profile_every),
              "conflict_eps": float(conflict_eps), "persistent_share": float(persistent_share),
              "imbalance_ratio": float(imbalance_ratio), "reweighting": reweighting, "rank": int(rank)}
    return r

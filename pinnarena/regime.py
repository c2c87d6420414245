r"""Gradient-conflict regimes, classified by a test that does not depend on the number of losses K.

The diagnostic-first protocol of Kim & N'guessan (*Per-Loss Adapters for Gradient Conflict in
PINNs*, arXiv 2605.10136) profiles a run and sorts it into one of three regimes: **persistent
directional conflict**, **magnitude imbalance**, **low or transient conflict**. This module holds
the statistic, the classifier (used by the ``auto`` remedy, ``pinnarena/remedies/auto.py``) and
:func:`regime_table`, which classifies finished runs from their curves for the report.

Why not the alignment score
---------------------------
Let g_1..g_K be the per-loss gradients, u_i = g_i/‖g_i‖ and c_ij = u_i·u_j. The alignment score
of Wang et al. (arXiv 2502.00604, eq. 3.3) is A = 2‖(1/K) Σ_i u_i‖² − 1, and since
‖Σ_i u_i‖² = K + 2 Σ_{i<j} c_ij,

    A = 2/K − 1 + (4/K²) Σ_{i<j} c_ij.

K mutually orthogonal gradients — no conflict, and what unrelated directions in a
high-dimensional parameter space look like — score A₀ = 2/K − 1: 0 at K = 2, −1/3 at K = 3,
−2/3 at K = 6. The old rule "median A < 0 ⇒ persistent conflict" therefore calls every
orthogonal set with K ≥ 3 a conflict (:func:`legacy_regime` keeps it, for comparison).

The K-invariant statistic
-------------------------
Rescaling A so that the orthogonal baseline is 0 and full agreement is 1 gives the mean pairwise
cosine (with P = K(K−1)/2 pairs):

    Ã = (A − A₀)/(1 − A₀) = [(4/K²) Σ_{i<j} c_ij] / [2(K−1)/K] = (1/P) Σ_{i<j} c_ij = c̄.

c̄ is 0 for orthogonal gradients at every K, but its most negative value shrinks with K
(‖Σ u_i‖² ≥ 0 ⇒ c̄ ≥ −1/(K−1): −1 at K = 2, −0.2 at K = 6), so a fixed negative threshold on c̄
would be harder to reach the more losses there are. The classifier thresholds instead the
**cancellation**

    C = 1 − ‖Σ_i u_i‖²/K = −(K−1) c̄ = 1 − K(1 + A)/2  ∈ [1 − K, 1],

the share of the no-conflict (orthogonal) squared norm of Σ u_i that the directions cancel. It has
the same sign as −c̄ (so the same zero point), and a K-free scale at both ends: C = 0 for
orthogonal rows and C = 1 when the unit gradients cancel completely (Σ u_i = 0: an antiparallel
pair at K = 2, a regular simplex or ±pairs at any K); for K = 2, C = −cos(g_1, g_2) = −A. For
independent random directions in Rⁿ each c_ij has standard deviation 1/√n, so C has standard
deviation (K−1)/√(nP) = √(2(K−1)/K)/√n: between 1/√n and 1.3/√n for K = 2..6, i.e. the noise
floor is (nearly) the same for every K too, while that of A is not even centred.

Reported beside it (curves column ``conflict_pair_share``, not used by the rule): the share of
pairs with c_ij < −ε, whose expectation is K-free when the losses are exchangeable.

The regimes
-----------
Over the profile points t (each with cosines c_ij(t) and norm ratio ρ_t = max‖g_i‖/min‖g_i‖):

* a point is a **conflict point** when C_t > ε (default ε = ``conflict_eps`` = 0.1; for K = 2 this
  is cos < −0.1, the old sign test with a noise margin);
* **persistent-conflict** — conflict points make up a share ≥ ``persistent_share`` (0.5) of the
  profile points;
* **magnitude-imbalance** — otherwise, median ρ_t ≥ ``imbalance_ratio`` (10; ρ is 1 for equal
  norms at every K);
* **low-conflict** (low or transient conflict) — otherwise.

Thresholds: ε = 0.1 is 1.6 noise standard deviations of C for the smallest networks of the smoke
suite (n ≈ 350 parameters: 1/√n ≈ 0.053) and about 8 for n = 10⁴ parameters, so a
persistently conflicting majority of points cannot come from noise, while every set that cancels
a tenth of its orthogonal norm counts; 0.5 and 10 are the thresholds of the previous rule, which
were already K-free. With K ≤ 1 there is no pair: no conflict, and the rule reduces to ρ.

Summary fields (``regime_*`` of the summary schema, ``pinnarena/results.py``): ``align_median`` is
the median of Ã (= the median of A for K = 2), ``align_share_negative`` the share of conflict
points (Ã < −ε/(K−1), i.e. C > ε), ``norm_ratio_median`` and ``profile_points`` as before.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

REGIMES = ("persistent-conflict", "magnitude-imbalance", "low-conflict")
CONFLICT_EPS = 0.1
PERSISTENT_SHARE = 0.5
IMBALANCE_RATIO = 10.0
PROFILE_STEPS = 1000
# the statistics of ``classify`` that the summary schema has columns for (as ``regime_<key>``)
SUMMARY_STATS = ("align_median", "align_share_negative", "norm_ratio_median", "profile_points",
                 "cancellation_median", "conflict_pair_share_median")


def _check_thresholds(conflict_eps, persistent_share, imbalance_ratio) -> None:
    if not 0.0 <= conflict_eps < 1.0:
        raise ValueError(f"conflict_eps must be in [0, 1), got {conflict_eps}")
    if not 0.0 < persistent_share <= 1.0:
        raise ValueError(f"persistent_share must be in (0, 1], got {persistent_share}")
    if not imbalance_ratio >= 1.0:
        raise ValueError(f"imbalance_ratio must be ≥ 1 (a max/min norm ratio), got {imbalance_ratio}")


def n_losses_of_pairs(p: int) -> int:
    """K with K(K−1)/2 = p; ValueError when p is not a triangular number."""
    k = int(round((1 + math.sqrt(1 + 8 * p)) / 2))
    if k * (k - 1) // 2 != p:
        raise ValueError(f"{p} pairwise cosines is not K(K−1)/2 for any K")
    return k


def pair_cosines(c) -> tuple[np.ndarray, int]:
    """(the P = K(K−1)/2 cosines c_ij, i < j, and K) of one profile point.

    ``c`` is a K × K cosine matrix (``diagnostics.pairwise_cosines``; rows and columns with a zero
    diagonal, i.e. zero gradients, are left out) or the 1-D vector of its upper triangle.
    """
    a = np.asarray(c, float)
    if a.ndim == 2:
        if a.shape[0] != a.shape[1]:
            raise ValueError(f"a cosine matrix must be square, got shape {a.shape}")
        keep = ~(np.abs(np.diag(a)) < 0.5)  # zero rows have cos 0 with themselves; NaN rows stay (NaN)
        a = a[np.ix_(keep, keep)]
        k = a.shape[0]
        return a[np.triu_indices(k, 1)], k
    if a.ndim == 1:
        return a, n_losses_of_pairs(a.size)
    raise ValueError(f"cosines of one profile point must be a K × K matrix or a vector of pairs, got shape {a.shape}")


def row_cosines(row: Mapping) -> np.ndarray:
    """The pairwise cosines of one training curves row (a dict with exactly its problem's
    ``cos_<a>__<b>`` keys), NaN kept: a non-finite point is left out by :func:`classify`. (For
    tables that concatenate problems, :func:`run_regimes` picks each run's columns.)"""
    return np.asarray([row[k] for k in row if isinstance(k, str) and k.startswith("cos_")], float)


def point_statistics(c, eps: float = CONFLICT_EPS) -> dict[str, float]:
    """K, Ã (= c̄), C = −(K−1)c̄ and the conflicting-pair share at one profile point."""
    v, k = pair_cosines(c)
    if v.size == 0:
        return {"K": k, "align_normalized": math.nan, "cancellation": math.nan, "conflict_pair_share": math.nan}
    cbar = float(np.mean(v))
    return {"K": k, "align_normalized": cbar, "cancellation": -(k - 1) * cbar,
            "conflict_pair_share": float(np.mean(v < -eps))}


def cosine_mean_from_alignment(align, k: int):
    """c̄ = Ã from the alignment score A of K directions: (K(1 + A) − 2) / (2(K − 1))."""
    if k < 2:
        raise ValueError(f"the normalised alignment needs K ≥ 2, got {k}")
    return (k * (1.0 + np.asarray(align, float)) - 2.0) / (2.0 * (k - 1))


def _decide(cancel, ratio, eps, persistent_share, imbalance_ratio, k):
    ok = np.isfinite(cancel)
    if k >= 2 and not ok.any():
        raise ValueError("regime: the profile produced no finite pairwise cosine")
    share = float(np.mean(cancel[ok] > eps)) if ok.any() else 0.0
    r = ratio[~np.isnan(ratio)]  # +inf (a zero gradient) is the extreme of imbalance, kept
    rho = float(np.median(r)) if r.size else math.nan
    if share >= persistent_share:
        return "persistent-conflict", share, rho
    if rho >= imbalance_ratio:
        return "magnitude-imbalance", share, rho
    return "low-conflict", share, rho


def classify(cosines: Sequence, ratio: Sequence[float], *, conflict_eps: float = CONFLICT_EPS,
             persistent_share: float = PERSISTENT_SHARE,
             imbalance_ratio: float = IMBALANCE_RATIO) -> tuple[str, dict]:
    """(regime, stats) from a profile: per point the pairwise cosines and the norm ratio.

    Args:
      cosines: one item per profile point, a K × K cosine matrix or the vector of its K(K−1)/2
        upper-triangle entries (zero gradients, left out of a matrix, may change K between points).
      ratio: the norm ratio max‖g_i‖/min‖g_i‖ at the same points.
      conflict_eps, persistent_share, imbalance_ratio: the thresholds of the module docstring.

    Returns:
      the regime (one of :data:`REGIMES`) and ``stats``: ``align_median`` (median Ã),
      ``align_share_negative`` (share of conflict points, C > ε), ``norm_ratio_median``,
      ``profile_points``, ``cancellation_median``, ``conflict_pair_share_median``, ``n_losses``.
      Points with a non-finite cosine are left out; a profile without any finite point (K ≥ 2)
      is a ValueError.

    >>> import numpy as np
    >>> classify([np.eye(3)] * 4, [1.0] * 4)[0]  # orthogonal, K = 3: no conflict
    'low-conflict'
    """
    _check_thresholds(conflict_eps, persistent_share, imbalance_ratio)
    cosines = list(cosines)
    ratio = np.asarray(ratio, float).reshape(-1)
    if len(cosines) == 0:
        raise ValueError("regime: the profile is empty")
    if len(cosines) != ratio.size:
        raise ValueError(f"regime: {len(cosines)} cosine points but {ratio.size} norm ratios")
    pts = [point_statistics(c, conflict_eps) for c in cosines]
    k = max(p["K"] for p in pts)  # a point's K leaves out zero gradients; C is K-free, so they may differ
    cancel = np.asarray([p["cancellation"] for p in pts])
    ok = np.isfinite(cancel)
    regime, share, rho = _decide(cancel, ratio, conflict_eps, persistent_share, imbalance_ratio, k)

    def med(key):
        return float(np.median([p[key] for p, f in zip(pts, ok) if f])) if ok.any() else math.nan
    stats = {"align_median": med("align_normalized"), "align_share_negative": share,
             "norm_ratio_median": rho, "profile_points": int(ok.sum()) if k >= 2 else len(pts),
             "cancellation_median": med("cancellation"),
             "conflict_pair_share_median": med("conflict_pair_share"), "n_losses": int(k)}
    return regime, stats


def legacy_regime(align, ratio, conflict_threshold: float = 0.0, persistent_share: float = PERSISTENT_SHARE,
                  imbalance_ratio: float = IMBALANCE_RATIO) -> str:
    """The previous rule, for comparison only: persistent conflict when median A < 0 and A < 0 at a
    share ≥ 0.5 of the points; else magnitude imbalance when median ρ ≥ 10; else low conflict.
    Biased by K: orthogonal gradients score A = 2/K − 1 < 0 for K ≥ 3 (module docstring)."""
    a = np.asarray(align, float)
    r = np.asarray(ratio, float)
    a, r = a[np.isfinite(a)], r[np.isfinite(r)]
    if a.size == 0:
        raise ValueError("legacy regime: the profile produced no finite alignment score")
    if np.median(a) < conflict_threshold and np.mean(a < 0) >= persistent_share:
        return "persistent-conflict"
    if r.size and np.median(r) >= imbalance_ratio:
        return "magnitude-imbalance"
    return "low-conflict"


# ------------------------------------------------------------------------- finished runs (Parquet)
_SUMMARY_COLUMNS = ("run_id", "problem", "kind", "n_losses", "remedy")


def run_regimes(summaries: pd.DataFrame, curves: pd.DataFrame, *, profile_steps: int = PROFILE_STEPS,
                remedies: Iterable[str] | None = ("none", "auto"), studies: Iterable[str] | None = None,
                conflict_eps: float = CONFLICT_EPS, persistent_share: float = PERSISTENT_SHARE,
                imbalance_ratio: float = IMBALANCE_RATIO) -> pd.DataFrame:
    """One row per run: its regime from the curves of its first ``profile_steps`` steps.

    Runs are taken from ``summaries`` (columns ``run_id, problem, kind, n_losses, remedy`` and,
    when present, ``study``, ``optimizer``, ``seed``); by default those whose first steps are the
    unmodified problem, remedy ``none`` and ``auto`` (whose profile runs as ``none``), from every
    study except ``tuning`` (``studies`` picks studies by name). The profile points are the curves
    rows with 0 < step ≤ ``profile_steps`` (the step-0 row alone when there is no other), as in
    the ``auto`` remedy. Cosines come from the ``cos_<a>__<b>`` columns; a run whose curves have
    none (results written before they existed) is classified from ``align_intra`` through the
    exact identity c̄ = (K(1 + A) − 2)/(2(K − 1)) (``conflict_pair_share_median`` is then NaN).
    Runs without a finite profile point are left out.

    Columns: ``run_id, problem, kind, K, remedy, study, optimizer, seed, regime, regime_legacy``
    (the old, K-biased rule on ``align_intra``, NaN-free runs only), ``profile_points`` and the
    statistics of :func:`classify`.
    """
    _check_thresholds(conflict_eps, persistent_share, imbalance_ratio)
    if profile_steps < 1:
        raise ValueError(f"profile_steps must be ≥ 1, got {profile_steps}")
    missing = [c for c in _SUMMARY_COLUMNS if c not in summaries]
    if missing:
        raise ValueError(f"regime: summaries lack the columns {missing}")
    missing = [c for c in ("run_id", "step", "grad_norm_ratio") if c not in curves]
    if missing:
        raise ValueError(f"regime: curves lack the columns {missing}")
    s = summaries.drop_duplicates("run_id")
    if remedies is not None:
        s = s[s["remedy"].isin(list(remedies))]
    if "study" in s:
        s = s[s["study"].isin(list(studies))] if studies is not None else s[s["study"].astype(str) != "tuning"]
    cos_cols = [c for c in curves.columns if isinstance(c, str) and c.startswith("cos_")]
    c = curves[curves["run_id"].isin(s["run_id"]) & (curves["step"] <= profile_steps)]
    by_run = dict(tuple(c.groupby("run_id", sort=False)))
    rows = []
    for r in s.to_dict("records"):
        prof = by_run.get(r["run_id"])
        if prof is None or prof.empty:
            continue
        prof = prof.sort_values("step")
        later = prof[prof["step"] > 0]
        prof = later if len(later) else prof
        k = int(r["n_losses"])
        ratio = prof["grad_norm_ratio"].to_numpy(float)
        X = prof[cos_cols].to_numpy(float) if cos_cols else np.empty((len(prof), 0))
        n_pairs = np.isfinite(X).sum(axis=1)
        if k >= 2 and n_pairs.any():
            bad = set(n_pairs[n_pairs > 0]) - {k * (k - 1) // 2}
            if bad:
                raise ValueError(f"regime: run {r['run_id']} ({r['problem']}, K = {k}) has curves rows with "
                                 f"{sorted(bad)} pairwise cosines, not K(K−1)/2 = {k * (k - 1) // 2}")
            points = [x[np.isfinite(x)] if m else np.full(k * (k - 1) // 2, np.nan) for x, m in zip(X, n_pairs)]
        elif k >= 2 and "align_intra" in prof:
            cbar = cosine_mean_from_alignment(prof["align_intra"].to_numpy(float), k)
            # k(k−1)/2 equal cosines have the same mean (hence the same C); the pair share is unknown
            points = [np.full(k * (k - 1) // 2, x) for x in cbar]
        elif k < 2:
            points = [np.empty(0)] * len(prof)
        else:
            continue
        try:
            regime, stats = classify(points, ratio, conflict_eps=conflict_eps, persistent_share=persistent_share,
                                     imbalance_ratio=imbalance_ratio)
        except ValueError as e:
            if "no finite" in str(e):
                continue
            raise
        if not (k >= 2 and n_pairs.any()):
            stats["conflict_pair_share_median"] = math.nan
        try:
            legacy = legacy_regime(prof["align_intra"], ratio, 0.0, persistent_share, imbalance_ratio) \
                if "align_intra" in prof else None
        except ValueError:
            legacy = None
        rows.append({"run_id": r["run_id"], "problem": r["problem"], "kind": r["kind"], "K": k,
                     "remedy": r["remedy"], "study": r.get("study"), "optimizer": r.get("optimizer"),
                     "seed": r.get("seed"), "regime": regime, "regime_legacy": legacy,
                     **{key: v for key, v in stats.items() if key != "n_losses"}})
    cols = ["run_id", "problem", "kind", "K", "remedy", "study", "optimizer", "seed", "regime", "regime_legacy",
            "align_median", "align_share_negative", "norm_ratio_median", "profile_points", "cancellation_median",
            "conflict_pair_share_median"]
    return pd.DataFrame(rows, columns=cols)


def regime_table(summaries: pd.DataFrame, curves: pd.DataFrame, *, profile_steps: int = PROFILE_STEPS,
                 **kwargs) -> pd.DataFrame:
    """Counts of runs per regime, by problem kind and number of losses K, with the dominant regime.

    Each run's regime is computed from its curves over the profile window (first
    ``profile_steps`` steps, default 1000 as in arXiv 2605.10136) with the K-invariant test of
    this module; see :func:`run_regimes` for which runs count and for ``**kwargs`` (``remedies``,
    ``studies``, thresholds).

    Returns a DataFrame with one row per (kind, K), sorted, and the columns ``kind, K``, one integer
    count column per regime (``persistent-conflict, magnitude-imbalance, low-conflict``; only those
    are numeric besides K) and ``dominant`` (the regime with the most runs; ties go to the earlier
    one in that order). Empty, with these columns, when no run has a measurable profile.
    """
    runs = run_regimes(summaries, curves, profile_steps=profile_steps, **kwargs)
    cols = ["kind", "K", *REGIMES, "dominant"]
    if runs.empty:
        return pd.DataFrame(columns=cols)
    t = (runs.groupby(["kind", "K", "regime"]).size().unstack("regime", fill_value=0)
         .reindex(columns=list(REGIMES), fill_value=0).astype(int).reset_index())
    t.columns.name = None
    t["K"] = t["K"].astype(int)
    t["dominant"] = t[list(REGIMES)].idxmax(axis=1)
    return t.sort_values(["kind", "K"]).reset_index(drop=True)[cols]

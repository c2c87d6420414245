r"""Evaluation: the error against the reference, the conflict diagnostics, and the curve row.

The reference's points are split once per problem into test and validation points
(``split_reference``). At an evaluation the network û of the carry gives

* ``rel_l2`` = ‖û − u‖₂ / ‖u‖₂ over the test points (all outputs together), ``rel_l2_by_output``
  per output, and ``val_rel_l2`` the same over the validation points (NaN without them): model
  selection (pinnarena.tuning) reads only the latter;
* the plain losses L_k and the remedy's weights w_k;
* the conflict diagnostics of the per-loss gradients G (pinnarena.diagnostics,
  pinnarena.regime): pairwise cosines, Gram eigenvalues, the alignment score
  A = 2‖mean_k G_k/‖G_k‖‖² − 1 within a step (``align_intra``) and between the last two
  updates (``align_inter``), the gradient-norm ratio, the K-free mean pairwise cosine and the
  share of conflicting pairs; the smallest causal weight when causal weighting is on.

``curve_row`` flattens those metrics into one row of ``curves.parquet`` (pinnarena.results).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from pinnarena import diagnostics

VALIDATION_SEED = 20261203  # fixed: every run of a problem holds out the same validation points


def split_reference(n: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(test indices, validation indices) of a reference with ``n`` points.

    With ``fraction`` = 0 every point is a test point (no validation set). Otherwise a fixed
    permutation (``VALIDATION_SEED``, independent of the run seed) puts round(fraction · n) points
    in the validation set and the rest in the test set: the two are disjoint, and the same for
    every run of the problem, so model selection (``pinnarena.tuning``) never sees a test point.
    The reported ``rel_l2`` is then measured on the test points only.
    """
    if fraction <= 0:
        return np.arange(n), np.arange(0)
    perm = np.random.default_rng(VALIDATION_SEED).permutation(n)
    k = int(round(fraction * n))
    return np.sort(perm[k:]), np.sort(perm[:k])


def reference_data(problem, cfg, dtype) -> tuple:
    """(test x, test u, validation x, validation u) of the configured reference tier."""
    ref = problem.reference(cfg.reference_tier)
    test_idx, val_idx = split_reference(len(ref.points), cfg.validation_fraction)
    # cast on the host and device_put: the same values as jnp.asarray(·, dtype), without compiling
    # a conversion program for each array's shape (setup cost, pinnarena.build)
    return tuple(jax.device_put(np.asarray(np.asarray(a)[idx], np.dtype(dtype)))
                 for idx in (test_idx, val_idx) for a in (ref.points, ref.values))


def make_predict(losses):
    """``predict(carry, x (k × d)) -> (k × output_dim)``: the network as it is evaluated
    (with adapters: the configured evaluation adapter)."""
    def predict(c, x) -> jax.Array:
        return jax.lax.map(losses.field(c.params, c.buffers, losses.eval_k), x, batch_size=4096)

    return predict


def make_evaluate(losses, remedy, predict):
    """``evaluate(carry, reference_data) -> metrics`` (see the module docstring)."""
    K = losses.K

    def evaluate(c, ref_xy) -> dict:
        ref_x, ref_y, val_x, val_y = ref_xy
        pred = predict(c, ref_x)
        err = pred - ref_y
        by_out = jnp.linalg.norm(err, axis=0) / jnp.linalg.norm(ref_y, axis=0)
        _, G = losses.per_loss_grads(c.params, c.buffers, c.batch)
        L = losses.plain_loss_vector(c.params, c.buffers, c.batch)
        w = remedy.weights(c.rem_state)
        cw = losses.causal_weights(c.params, c.buffers, c.batch)
        return {
            "cosines": diagnostics.pairwise_cosines(G),
            "gram_eigs": diagnostics.gram_eigenvalues(G),
            "causal_weight_min": jnp.min(jnp.stack([jnp.min(x) for x in cw])) if cw else jnp.asarray(jnp.nan, L.dtype),
            "rel_l2": jnp.linalg.norm(err) / jnp.linalg.norm(ref_y),
            "val_rel_l2": (jnp.linalg.norm(predict(c, val_x) - val_y) / jnp.linalg.norm(val_y)) if val_x.shape[0]
            else jnp.asarray(jnp.nan, ref_y.dtype),
            "rel_l2_by_output": by_out,
            "losses": L,
            "weights": jnp.full((K,), jnp.nan, L.dtype) if w is None else w,
            "align_intra": diagnostics.alignment_score(G),
            "align_inter": diagnostics.alignment_score(jnp.stack([ravel_pytree(c.last_update)[0],
                                                                  ravel_pytree(c.prev_update)[0]])),
            "grad_norm_ratio": diagnostics.norm_ratio(G),
            "align_pairwise_mean": diagnostics.normalized_alignment(G),
            "conflict_pair_share": diagnostics.conflict_pair_share(G),
            "grad_norm": jnp.linalg.norm(jnp.sum(G, axis=0)),
            "pde": c.params["pde"],
        }

    return evaluate


def curve_row(c, m: dict, loss_names, train_seconds: float, train_cpu_seconds: float) -> dict:
    """One row of ``curves.parquet`` from a (host) carry ``c`` and its metrics ``m``; the raw
    metrics ride along under ``_metrics`` (dropped before writing)."""
    row = {
        "step": int(c.step),
        "train_seconds": train_seconds,
        "train_cpu_seconds": train_cpu_seconds,  # the time budget's cpu clock (scoring uses the budget's clock)
        "grad_evals": int(c.grad_evals),
        "loss_total": float(np.sum(m["losses"])),
        "rel_l2": float(m["rel_l2"]),
        "val_rel_l2": float(m["val_rel_l2"]),
        "align_intra": float(m["align_intra"]),
        "align_inter": float(m["align_inter"]) if int(c.step) >= 2 else float("nan"),
        "grad_norm_ratio": float(m["grad_norm_ratio"]),
        "align_pairwise_mean": float(m["align_pairwise_mean"]),  # K-free, pinnarena.regime
        "conflict_pair_share": float(m["conflict_pair_share"]),
    }
    for name, v, w in zip(loss_names, m["losses"], m["weights"]):
        row[f"loss_{name}"] = float(v)
        row[f"weight_{name}"] = float(w)
    for a in range(len(loss_names)):
        row[f"gram_eig_{a}"] = float(m["gram_eigs"][a])
        for b_ in range(a + 1, len(loss_names)):
            row[f"cos_{loss_names[a]}__{loss_names[b_]}"] = float(m["cosines"][a, b_])
    row["causal_weight_min"] = float(m["causal_weight_min"])
    row["_metrics"] = m
    return row

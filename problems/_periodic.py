r"""Shared pieces of the periodic problems (Allen–Cahn, KdV, KS, Gray–Scott, Ginzburg–Landau,
advection, reaction): a periodicity loss term and a spectral (ETDRK4) reference builder.

Periodicity is enforced by a loss term that pairs each sampled point on the face x_i = a_i with
its image on x_i = b_i and asks the field and its derivatives up to ``order`` along x_i to agree
(and, in 2-D, the first derivatives along the other spatial inputs). This works with every model;
no periodic input embedding is needed.

Not a registered problem module (the leading underscore keeps the registry from importing it).
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import jet

from pinnarena import derivatives as D
from pinnarena.problem import Reference, Term, _bounds
from pinnarena.problems.solvers.etdrk4 import periodic_grid, solve


def periodic_term(lo, hi, space_dims: Sequence[int], order: int = 1, n: int = 256, name: str = "periodic") -> Term:
    """Loss term u(p) − u(p + P e_i) and ∂ᵏ_i u likewise (k ≤ ``order``) for the periodic inputs.

    ``order = 0`` pairs values only (and no cross derivatives).

    Points are uniform in the box with input i set to lo_i; i is drawn uniformly from
    ``space_dims`` per point; the image is p + (hi_i − lo_i) e_i.
    """
    lo0, hi0 = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    d = lo0.shape[0]
    dims = np.asarray(tuple(space_dims))
    space_dims = tuple(space_dims)

    def sample(key, n):
        lo, hi = _bounds(lo0, hi0)  # the run's precision: the period is not rounded to float32
        k1, k2 = jax.random.split(key)
        x = lo + (hi - lo) * jax.random.uniform(k1, (n, d), dtype=lo.dtype)
        which = jnp.asarray(dims)[jax.random.randint(k2, (n,), 0, len(space_dims))]
        onehot = jax.nn.one_hot(which, d, dtype=lo.dtype)
        x = jnp.where(onehot > 0, lo[None, :], x)
        return {"x": x, "shift": onehot * (hi - lo)[None, :]}

    def residual(u, p, theta):
        a, shift = p["x"], p["shift"]
        b = a + shift
        direction = shift / jnp.maximum(jnp.max(jnp.abs(shift)), 1e-30)
        if order == 0:
            return u(a) - u(b)
        # derivatives up to `order` along the pairing direction (one Taylor pass per side) ...
        series = [direction] + [jnp.zeros_like(a)] * (order - 1)
        ua, us_a = jet.jet(u, (a,), (series,))
        ub, us_b = jet.jet(u, (b,), (series,))
        parts = [ua - ub] + [sa - sb for sa, sb in zip(us_a, us_b)]
        # ... and first derivatives along every other periodic input
        for i in space_dims:
            e = jnp.zeros_like(a).at[i].set(1.0)
            w = 1.0 - jnp.abs(jnp.dot(direction, e))  # skip the pairing direction itself
            parts.append(w * (jax.jvp(u, (a,), (e,))[1] - jax.jvp(u, (b,), (e,))[1]))
        return jnp.concatenate(parts)

    return Term(name, sample, residual, n=n)


def spectral_reference(
    *,
    tier: str,
    tiers: Mapping[str, Mapping[str, float]],
    setup: Callable[[int], tuple[np.ndarray, np.ndarray, Callable]],
    lo: Sequence[float],
    hi: Sequence[float],
    t_final: float,
    equation: str,
    real: bool = True,
    complex_output: bool = False,
) -> Reference:
    r"""Solve with ETDRK4 at the tier's (n, dt) and at (n/2, coarse_dt = 2 dt unless the tier says
    otherwise); return the fine solution.

    ``lo``/``hi`` are the spatial bounds (1 or 2 periodic inputs). ``setup(n)`` returns
    (u0 of shape (F, n[, n]), L, nonlinear, multiplier) as :func:`solve` takes them. The reference points are
    (t, x[, y]) on ``n_save`` equispaced times × every ``stride``-th grid point, values (N, F) (or
    (N, 2F) real/imaginary parts when ``complex_output``). The provenance records the solver,
    resolution, step, wall time and the measured relative L2 difference to the coarse run at the
    common grid points (a self-convergence error estimate; the coarse run's error dominates it).
    """
    if tier not in tiers:
        raise ValueError(f"no reference tier {tier!r}; known: {sorted(tiers)}")
    s = tiers[tier]
    n, dt, n_save, stride = int(s["n"]), float(s["dt"]), int(s["n_save"]), int(s["stride"])
    space_dims = len(lo)

    def run(n_, dt_):
        u0, L, nonlinear, multiplier = setup(n_)
        return solve(u0, L, nonlinear, multiplier, dt=dt_, t_final=t_final, n_save=n_save, space_dims=space_dims,
                     real=real, dealias=True)

    fine = run(n, dt)
    coarse_dt = float(s.get("coarse_dt", 2 * dt))
    coarse = run(n // 2, coarse_dt)
    sl = (slice(None), slice(None)) + (slice(None, None, 2),) * space_dims
    diff = np.linalg.norm(fine.u[sl] - coarse.u) / np.linalg.norm(fine.u[sl])

    u = fine.u[(slice(None), slice(None)) + (slice(None, None, stride),) * space_dims]  # (T, F, n..)
    axes = [fine.times] + [periodic_grid(a, b, n)[::stride] for a, b in zip(lo, hi)]
    mesh = np.meshgrid(*axes, indexing="ij")
    points = np.stack([m.ravel() for m in mesh], axis=-1)
    fields = np.moveaxis(u, 1, -1).reshape(len(points), -1)  # (N, F)
    if complex_output:
        fields = np.concatenate([fields.real, fields.imag], axis=1)
    provenance = {
        "solver": "ETDRK4 Fourier pseudo-spectral (Kassam & Trefethen 2005), 2/3 dealiasing, M = 64 contour points",
        "equation": equation,
        "tier": tier,
        "modes_per_dim": n,
        "dt": dt,
        "t_final": t_final,
        "snapshots": n_save,
        "stored_grid_stride": stride,
        "wall_seconds": round(fine.wall_seconds, 3),
        "self_convergence": {"against": f"n = {n // 2}, dt = {coarse_dt:g}", "rel_l2_difference": float(diff)},
    }
    return Reference(points, np.ascontiguousarray(fields, dtype=float), provenance)


def periodic_1d_problem(*, name: str, family: str, description: str, lo, hi, residual, initial, order: int,
                        reference_fn, params: Mapping, reference_kind: str):
    """A 1-D (t, x) problem, periodic in x, with the three terms every such family uses.

    Terms: ``residual`` (2048 points in the box), ``initial`` (256 at t = t0), and ``periodic``
    (256 pairs matching values and x-derivatives up to ``order`` across x = a and x = b).
    """
    from pinnarena.problem import Problem, slice_at, uniform_box

    return Problem(
        name=name, family=family, kind="forward", description=description,
        input_names=("t", "x"), output_names=("u",), domain=(lo, hi),
        terms=(
            Term("residual", uniform_box(lo, hi), residual, n=2048),
            Term("initial", slice_at(lo, hi, 0, lo[0]), initial, n=256),
            periodic_term(lo, hi, (1,), order=order, n=256),
        ),
        reference_fn=reference_fn, params=params, time_dependent=True, reference_kind=reference_kind,
    )

r"""Inverse Navier–Stokes: recover the viscosity (and the pressure) from sparse noisy velocities.

The reference flow is Kovasznay's exact steady solution at Re = 20 (Kovasznay 1948, Proc.
Cambridge Philos. Soc. 44, 58–62; see problems/ns_analytic.py) on [−0.5, 1] × [−0.5, 1.5]:

    (u·∇)u + ∇p − ν Δu = 0,   ∇·u = 0,   true ν = 1/20,

with u, v, p as in ``kovasznay-re20``. The viscosity ν is a trainable unknown (initial value
0.1, twice the truth); the pressure has no data at all and is recovered from the momentum
balance up to an additive constant, which is fixed by convention by a one-point gauge
p(x_g) = p_exact(x_g) at x_g = (1, 0.5) — without it the relative L2 error of p would measure
an arbitrary offset, not the recovery. The setting follows the hidden-fluid-mechanics style of
inverse PINN (Raissi, Perdikaris & Karniadakis 2019, J. Comput. Phys. 378, 686–707: velocities
observed, pressure and ν inferred). No boundary conditions are given.

Inputs (x, y), outputs (u, v, p). K = 4 loss terms:

* ``momentum`` — both momentum components (a 2-vector residual) with the trainable ν;
* ``continuity``;
* ``data`` — 256 velocity observations (u, v) at uniformly random points, each component with
  additive Gaussian noise of standard deviation σ = 0.01 (the free-stream velocity is 1); points
  and noise come from the key the training loop passes in, and ``resample=False`` keeps them;
* ``gauge`` — the one-point pressure gauge above (fixed point, ``resample=False``; role
  ``boundary``: a condition that closes the problem, not an observation).

The summary reports ν's relative error through ``true_unknowns``.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from pinnarena.problem import Problem, Term, uniform_box
from pinnarena.problems import register
from pinnarena.problems.ns_analytic import KOV_HI, KOV_LO, exact_reference, kovasznay_exact, ns_operator

GAUGE_POINT = (1.0, 0.5)


def velocity_data(exact, lo, hi, noise: float):
    """Sampler of noisy velocity observations: {"x": (n, 2), "obs": (n, 2)} from one key."""
    box = uniform_box(lo, hi)

    def sample(key, n):
        k_pts, k_noise = jax.random.split(key)
        x = box(k_pts, n)["x"]
        clean = exact(x, jnp)[:, :2]
        return {"x": x, "obs": clean + noise * jax.random.normal(k_noise, clean.shape, dtype=x.dtype)}

    return sample


def fixed_point(point):
    def sample(key, n):
        return {"x": jnp.tile(jnp.asarray(point, dtype=jnp.result_type(float))[None, :], (n, 1))}

    return sample


def ns_inverse(name: str = "ns-inv", re: float = 20.0, nu_init: float = 0.1, noise: float = 0.01,
               n_data: int = 256) -> Problem:
    exact = kovasznay_exact(re)
    box = uniform_box(KOV_LO, KOV_HI)

    def momentum(u, p, theta):
        return ns_operator(u, p["x"], theta["nu"], 2, False)[0]

    def continuity(u, p, theta):
        return ns_operator(u, p["x"], theta["nu"], 2, False)[1][None]

    def data(u, p, theta):
        return u(p["x"])[:2] - p["obs"]

    def gauge(u, p, theta):
        x = p["x"]
        return (u(x) - exact(x, jnp))[2:3]

    return Problem(
        name=name,
        family="ns-inv",
        kind="inverse",
        description=f"inverse Kovasznay flow (Re = {re:g}): viscosity and pressure from {n_data} noisy velocity samples",
        input_names=("x", "y"),
        output_names=("u", "v", "p"),
        domain=(KOV_LO, KOV_HI),
        terms=(
            Term("momentum", box, momentum, n=2048),
            Term("continuity", box, continuity, n=2048),
            Term("data", velocity_data(exact, KOV_LO, KOV_HI, noise), data, n=n_data, resample=False),
            Term("gauge", fixed_point(GAUGE_POINT), gauge, n=1, resample=False, role="boundary"),
        ),
        reference_fn=exact_reference(exact, KOV_LO, KOV_HI, (151, 201),
                                     {"source": "exact solution, Kovasznay (1948)", "grid": [151, 201]}),
        params={"re": float(re), "nu_true": 1.0 / re, "nu_init": float(nu_init), "noise_std": float(noise),
                "n_data": int(n_data), "gauge_point": list(GAUGE_POINT)},
        unknowns={"nu": float(nu_init)},
        true_unknowns={"nu": 1.0 / re},
        reference_kind="analytic",
    )


register("ns-inv", functools.partial(ns_inverse, "ns-inv"))

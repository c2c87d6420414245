r"""High-dimensional problems with analytic solutions (PINNacle's PNd and HNd, Hao et al.,
arXiv 2306.08827, NeurIPS 2024), for d ∈ {5, 10, 20, 50, 100}. Laplacians use
:func:`pinnarena.derivatives.laplacian` (one Taylor pass per coordinate, no d × d Hessian).

``poisson-nd-d{d}``:  −Δu = (π²/4) Σᵢ sin(πxᵢ/2) on [0, 1]^d,  u = Σᵢ sin(πxᵢ/2) on ∂Ω;
    exact u = Σᵢ sin(πxᵢ/2).  K = 2: residual, boundary.
``heat-nd-d{d}``:  u_t = (1/d) Δu + f on the unit ball B^d, t ∈ [0, 1],
    f = −(|x|²/d) exp(|x|²/2 + t),  exact u = exp(|x|²/2 + t) (boundary and initial data from it).
    K = 3: residual, boundary (sphere), initial.

Collocation points are sampled (uniform in the box / ball, uniform on the faces / sphere); the
reference is the exact solution at 8192 points drawn once with a fixed seed (NumPy PCG64, seed 0).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from pinnarena import derivatives as D
from pinnarena.problem import Problem, Reference, Term, box_faces, uniform_box
from pinnarena.problems import register

DIMS = (5, 10, 20, 50, 100)
N_REF = 8192


def ball_sampler(d: int, t_range=None, surface: bool = False, t_value=None):
    """Uniform points in (or on) the unit ball of R^d, with a leading time column if ``t_range``."""

    def sample(key, n):
        k1, k2, k3 = jax.random.split(key, 3)
        g = jax.random.normal(k1, (n, d))
        direction = g / jnp.linalg.norm(g, axis=1, keepdims=True)
        r = 1.0 if surface else jax.random.uniform(k2, (n, 1)) ** (1.0 / d)
        x = r * direction
        if t_range is None:
            return {"x": x}
        t = (jnp.full((n, 1), t_value) if t_value is not None
             else t_range[0] + (t_range[1] - t_range[0]) * jax.random.uniform(k3, (n, 1)))
        return {"x": jnp.concatenate([t, x], axis=1)}

    return sample


def poisson_exact(x, lib=np):
    return lib.sum(lib.sin(np.pi * x / 2.0), axis=-1)


def poisson_nd(name: str, d: int) -> Problem:
    lo, hi = (0.0,) * d, (1.0,) * d

    def residual(u, p, theta):
        x = p["x"]
        f = (np.pi**2 / 4.0) * jnp.sum(jnp.sin(np.pi * x / 2.0))
        return D.laplacian(u, x) + f

    def boundary(u, p, theta):
        x = p["x"]
        return u(x) - poisson_exact(x, jnp)

    def reference():
        pts = np.random.default_rng(0).uniform(0.0, 1.0, (N_REF, d))
        return Reference(pts, poisson_exact(pts)[:, None], provenance={"solution": "exact", "points": "uniform, PCG64 seed 0"})

    return Problem(
        name=name,
        family="poisson-nd",
        kind="highdim",
        description=f"{d}-D Poisson on the unit cube, u = sum sin(pi x_i / 2) (PINNacle PNd)",
        input_names=tuple(f"x{i + 1}" for i in range(d)),
        output_names=("u",),
        domain=(lo, hi),
        terms=(
            Term("residual", uniform_box(lo, hi), residual, n=2048),
            Term("boundary", box_faces(lo, hi), boundary, n=1024),
        ),
        reference_fn=reference,
        params={"d": d},
        reference_kind="analytic",
    )


def heat_exact(t, x, lib=np):
    return lib.exp(0.5 * lib.sum(x**2, axis=-1) + t)


def heat_nd(name: str, d: int) -> Problem:
    lo, hi = (0.0,) + (-1.0,) * d, (1.0,) + (1.0,) * d
    k = 1.0 / d

    def residual(u, p, theta):
        x = p["x"]
        t, y = x[0], x[1:]
        f = -(jnp.sum(y**2) / d) * heat_exact(t, y, jnp)
        return D.d(u, x, 0) - k * D.laplacian(u, x, dims=range(1, d + 1)) - f

    def data(u, p, theta):
        x = p["x"]
        return u(x) - heat_exact(x[0], x[1:], jnp)

    def reference():
        rng = np.random.default_rng(0)
        g = rng.normal(size=(N_REF, d))
        y = g / np.linalg.norm(g, axis=1, keepdims=True) * rng.uniform(size=(N_REF, 1)) ** (1.0 / d)
        t = rng.uniform(size=(N_REF, 1))
        return Reference(np.concatenate([t, y], axis=1), heat_exact(t[:, 0], y)[:, None],
                         provenance={"solution": "exact", "points": "uniform in [0,1] x ball, PCG64 seed 0"})

    return Problem(
        name=name,
        family="heat-nd",
        kind="highdim",
        description=f"{d}-D heat equation on the unit ball, u = exp(|x|^2/2 + t) (PINNacle HNd)",
        input_names=("t",) + tuple(f"x{i + 1}" for i in range(d)),
        output_names=("u",),
        domain=(lo, hi),
        terms=(
            Term("residual", ball_sampler(d, (0.0, 1.0)), residual, n=2048),
            Term("boundary", ball_sampler(d, (0.0, 1.0), surface=True), data, n=1024),
            Term("initial", ball_sampler(d, (0.0, 1.0), t_value=0.0), data, n=1024),
        ),
        reference_fn=reference,
        params={"d": d, "k": k},
        time_dependent=True,
        reference_kind="analytic",
    )


for _d in DIMS:
    register(f"poisson-nd-d{_d}", functools.partial(poisson_nd, f"poisson-nd-d{_d}", _d))
    register(f"heat-nd-d{_d}", functools.partial(heat_nd, f"heat-nd-d{_d}", _d))

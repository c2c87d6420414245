r"""1-D wave equation with an exact solution (arXiv 2502.00604 benchmark; Wang, Yu, Perdikaris 2022).

    u_tt − c² u_xx = 0,  x ∈ [0, 1], t ∈ [0, 1],  c = 2,
    u(0, t) = u(1, t) = 0,  u(x, 0) = sin(πx) + 0.5 sin(4πx),  u_t(x, 0) = 0,
    exact u = sin(πx) cos(2πt) + 0.5 sin(4πx) cos(8πt)   (for c = 2).

Inputs (t, x); K = 3 loss terms: residual, boundary, initial (value and velocity).
The exact solution for general c is sin(πx) cos(cπt) + 0.5 sin(4πx) cos(4cπt). Variants: ``wave-c4``
(c = 4, twice the frequencies in time).
"""
from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from pinnarena import derivatives as D
from pinnarena.problem import Problem, Reference, Term, box_faces, grid, slice_at, uniform_box
from pinnarena.problems import register

LO, HI = (0.0, 0.0), (1.0, 1.0)


def exact(t, x, c):
    return np.sin(np.pi * x) * np.cos(c * np.pi * t) + 0.5 * np.sin(4 * np.pi * x) * np.cos(4 * c * np.pi * t)


def wave(name: str = "wave", c: float = 2.0) -> Problem:
    def residual(u, p, theta):
        x = p["x"]
        u_tt = D.taylor(u, x, 0, 2)[2]
        u_xx = D.taylor(u, x, 1, 2)[2]
        return u_tt - c**2 * u_xx

    def boundary(u, p, theta):
        return u(p["x"])

    def initial(u, p, theta):
        x = p["x"]
        v, v_t = D.value_and_d(u, x, 0)
        u0 = jnp.sin(jnp.pi * x[1]) + 0.5 * jnp.sin(4 * jnp.pi * x[1])
        return jnp.concatenate([v - u0, v_t])

    def reference():
        pts = grid(LO, HI, (101, 101))
        return Reference(pts, exact(pts[:, 0], pts[:, 1], c)[:, None], provenance="exact solution")

    return Problem(
        name=name,
        family="wave",
        kind="forward",
        description=f"1-D wave equation, c = {c:g}, two standing modes (exact solution)",
        input_names=("t", "x"),
        output_names=("u",),
        domain=(LO, HI),
        terms=(
            Term("residual", uniform_box(LO, HI), residual, n=2048),
            Term("boundary", box_faces(LO, HI, dims=(1,)), boundary, n=256),
            Term("initial", slice_at(LO, HI, 0, 0.0), initial, n=256),
        ),
        reference_fn=reference,
        params={"c": float(c)},
        time_dependent=True,
        reference_kind="analytic",
    )


register("wave", functools.partial(wave, "wave", 2.0))
register("wave-c4", functools.partial(wave, "wave-c4", 4.0))

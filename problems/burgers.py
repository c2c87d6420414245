r"""Viscous Burgers' equation (Raissi et al. 2019; arXiv 2502.00604 benchmark).

    u_t + u u_x − ν u_xx = 0,  x ∈ [−1, 1], t ∈ [0, 1],
    u(x, 0) = −sin(πx),  u(±1, t) = 0,  ν = 0.01/π (canonical), ``burgers-nu0.001`` (ν = 0.001/π, a ten times thinner front) or
    ``burgers-nu0.01`` (ν = 0.01, the DSGNAR case, arXiv 2607.02194).

Inputs (t, x); K = 3 loss terms: residual, boundary, initial. The reference is the Cole–Hopf
solution evaluated by quadrature (problems/solvers/cole_hopf.py) on a 101 × 256 (t, x) grid; its
accuracy is checked in tests/test_references.py against the maximal slope published by
Basdevant et al. (1986) and against finite differences of the PDE.
"""
from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from pinnarena import derivatives as D
from pinnarena.problem import Problem, Reference, Term, box_faces, grid, slice_at, uniform_box
from pinnarena.problems import register
from pinnarena.problems.solvers.cole_hopf import burgers_sine

LO, HI = (0.0, -1.0), (1.0, 1.0)


def burgers(name: str = "burgers", nu: float = 0.01 / np.pi, grid_shape=(101, 256)) -> Problem:
    def residual(u, p, theta):
        x = p["x"]
        _, u_t = D.value_and_d(u, x, 0)
        v, v_x, v_xx = D.taylor(u, x, 1, 2)
        return u_t + v * v_x - nu * v_xx

    def boundary(u, p, theta):
        return u(p["x"])

    def initial(u, p, theta):
        x = p["x"]
        return u(x) + jnp.sin(jnp.pi * x[1:2])

    def reference():
        pts = grid(LO, HI, grid_shape)
        vals = burgers_sine(pts[:, 1], pts[:, 0], nu)
        return Reference(pts, vals[:, None], provenance={"solver": "cole-hopf trapezoid quadrature", "grid": list(grid_shape), "nodes": 1201})

    return Problem(
        name=name,
        family="burgers",
        kind="forward",
        description=f"1-D viscous Burgers, u0 = -sin(pi x), nu = {nu:.6g}: a steep front forms at x = 0",
        input_names=("t", "x"),
        output_names=("u",),
        domain=(LO, HI),
        terms=(
            Term("residual", uniform_box(LO, HI), residual, n=2048),
            Term("boundary", box_faces(LO, HI, dims=(1,)), boundary, n=256),
            Term("initial", slice_at(LO, HI, 0, 0.0), initial, n=256),
        ),
        reference_fn=reference,
        params={"nu": float(nu)},
        time_dependent=True,
        reference_kind="cole-hopf quadrature",
    )


register("burgers", functools.partial(burgers, "burgers"))
register("burgers-nu0.001", functools.partial(burgers, "burgers-nu0.001", 0.001 / np.pi))
# ν = 0.01 (without the 1/π): the case of the DSGNAR paper (arXiv 2607.02194), whose 4 × 20 network
# reaches 3.9e-7; the front is about three times wider than the canonical problem's
register("burgers-nu0.01", functools.partial(burgers, "burgers-nu0.01", 0.01))

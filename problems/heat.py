r"""2-D heat equation with an exact decaying-mode solution.

    u_t = α Δu on [0, 1]², t ∈ [0, 1],  u = 0 on the boundary,  α = 0.01,
    u(x, y, 0) = sin(kπx) sin(kπy),  exact u = exp(−2k²π²αt) sin(kπx) sin(kπy).

Variants ``heat-2d-k{1,4}`` (k = 4 decays by e^{−3.2} over the interval and oscillates 4× faster).
Inputs (t, x, y); K = 3 loss terms: residual, boundary, initial.
"""
from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from pinnarena import derivatives as D
from pinnarena.problem import Problem, Reference, Term, box_faces, grid, slice_at, uniform_box
from pinnarena.problems import register

LO, HI = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
ALPHA = 0.01


def exact(t, x, y, k, alpha=ALPHA, lib=np):
    return lib.exp(-2.0 * (k * np.pi) ** 2 * alpha * t) * lib.sin(k * np.pi * x) * lib.sin(k * np.pi * y)


def heat_2d(name: str, k: int, alpha: float = ALPHA) -> Problem:
    def residual(u, p, theta):
        x = p["x"]
        return D.d(u, x, 0) - alpha * D.laplacian(u, x, dims=(1, 2))

    def boundary(u, p, theta):
        return u(p["x"])

    def initial(u, p, theta):
        x = p["x"]
        return u(x) - exact(0.0, x[1], x[2], k, alpha, jnp)

    def reference():
        pts = grid(LO, HI, (21, 51, 51))
        return Reference(pts, exact(pts[:, 0], pts[:, 1], pts[:, 2], k, alpha)[:, None], provenance="exact solution")

    return Problem(
        name=name,
        family="heat",
        kind="forward",
        description=f"2-D heat equation, alpha = {alpha:g}, decaying mode sin({k} pi x) sin({k} pi y)",
        input_names=("t", "x", "y"),
        output_names=("u",),
        domain=(LO, HI),
        terms=(
            Term("residual", uniform_box(LO, HI), residual, n=2048),
            Term("boundary", box_faces(LO, HI, dims=(1, 2)), boundary, n=512),
            Term("initial", slice_at(LO, HI, 0, 0.0), initial, n=512),
        ),
        reference_fn=reference,
        params={"k": int(k), "alpha": float(alpha)},
        time_dependent=True,
        reference_kind="analytic",
    )


for _k in (1, 4):
    register(f"heat-2d-k{_k}", functools.partial(heat_2d, f"heat-2d-k{_k}", _k))

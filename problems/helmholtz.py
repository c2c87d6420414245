r"""2-D Helmholtz equation with a manufactured solution (Wang, Teng, Perdikaris, SIAM J. Sci.
Comput. 43, 2021, "Understanding and mitigating gradient flow pathologies in PINNs", sec. 2.2).

    Δu + κ²u = q on [−1, 1]²,  u = 0 on the boundary,  κ = 1,
    u = sin(πx) sin(kπy),  q = (κ² − π² − k²π²) u.

``helmholtz-2d-k4`` is the paper's case (a₁ = 1, a₂ = 4); k ∈ {1, 4, 8} varies the frequency in y.
K = 2 loss terms: residual, boundary.
"""
from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from pinnarena import derivatives as D
from pinnarena.problem import Problem, Reference, Term, box_faces, grid, uniform_box
from pinnarena.problems import register

LO, HI = (-1.0, -1.0), (1.0, 1.0)
KAPPA = 1.0


def exact(x, y, k, lib=np):
    return lib.sin(np.pi * x) * lib.sin(k * np.pi * y)


def helmholtz_2d(name: str, k: int) -> Problem:
    coef = KAPPA**2 - np.pi**2 - (k * np.pi) ** 2

    def residual(u, p, theta):
        x = p["x"]
        q = coef * exact(x[0], x[1], k, jnp)
        return D.laplacian(u, x) + KAPPA**2 * u(x) - q

    def boundary(u, p, theta):
        return u(p["x"])

    def reference():
        pts = grid(LO, HI, (101, 101))
        return Reference(pts, exact(pts[:, 0], pts[:, 1], k)[:, None], provenance="manufactured solution")

    return Problem(
        name=name,
        family="helmholtz",
        kind="forward",
        description=f"2-D Helmholtz (kappa = 1), manufactured u = sin(pi x) sin({k} pi y), Dirichlet",
        input_names=("x", "y"),
        output_names=("u",),
        domain=(LO, HI),
        terms=(
            Term("residual", uniform_box(LO, HI), residual, n=2048),
            Term("boundary", box_faces(LO, HI), boundary, n=512),
        ),
        reference_fn=reference,
        params={"k": int(k), "kappa": KAPPA},
        reference_kind="manufactured",
    )


for _k in (1, 4, 8):
    register(f"helmholtz-2d-k{_k}", functools.partial(helmholtz_2d, f"helmholtz-2d-k{_k}", _k))

r"""Coupled multi-physics systems with manufactured solutions (kind ``multiphysics``).

Each system is written as an operator R(field, point) → residual parts; the manufactured fields
are JAX functions, and the forcing of every equation is R(exact, point), computed inside the
residual by automatic differentiation of the exact fields. A term's residual is therefore
R_k(network) − R_k(exact), and the exact fields solve the forced system by construction; the
tests check, independently, that R is the operator written here (on polynomial fields whose
derivatives are computed by hand). Every system comes at two coupling strengths c ∈ {0.1, 1}:
slugs ``<family>-c0.1`` and ``<family>-c1``. Nondimensional coefficients: Lamé λ = μ = 1,
diffusivities 1 unless stated.

``thermoelastic-c{c}`` — 2-D (plane strain) quasi-static linear thermoelasticity with the coupled
heat equation of Biot (1956), *Thermoelasticity and irreversible thermodynamics*, J. Appl. Phys.
27, 240–253 (also Carlson 1972, *Linear thermoelasticity*, Handbuch der Physik VIa/2; Boley &
Weiner 1960, *Theory of Thermal Stresses*). With σ = λ(∇·u)I + 2με − β θ I:

    −μ Δu − (λ + μ) ∇(∇·u) + β ∇θ = f                       (two momentum balances)
    ∂_t θ − κ Δθ + γ ∂_t(∇·u) = q                            (heat, thermoelastic coupling)

β (thermal stress modulus) = γ (nondimensional T₀β/(ρc)) = c, κ = 1. Inputs (t, x, y) ∈
[0, 1]³, outputs (u_x, u_y, θ). K = 4: momentum-x, momentum-y, heat, boundary (Dirichlet data of
u_x, u_y, θ on the space-time boundary: the four sides for t ∈ [0, 1] and the initial slice
t = 0, points split 4 : 1).
Manufactured: u_x = e^{−t} sin πx cos πy, u_y = e^{−t/2} cos πx sin 2πy,
θ = e^{−t} sin πx sin πy + x y.

``poroelastic-c{c}`` — 2-D quasi-static linear Biot poroelasticity: Biot (1941), *General theory
of three-dimensional consolidation*, J. Appl. Phys. 12, 155–164; Wang (2000), *Theory of Linear
Poroelasticity*, Princeton, ch. 4 and 6; Coussy (2004), *Poromechanics*. With the Biot–Willis
coefficient α, storage 1/M and mobility k = κ/μ_f:

    −μ Δu − (λ + μ) ∇(∇·u) + α ∇p = f                       (two momentum balances)
    ∂_t (p/M + α ∇·u) − ∇·(k ∇p) = g                         (fluid mass balance with Darcy flux)

α = c, 1/M = 1, k = 1 (uniform). (Poroelasticity and thermoelasticity share this structure;
Norris 1992, J. Appl. Phys. 71, 1138.) Inputs (t, x, y) ∈ [0, 1]³, outputs (u_x, u_y, p). K = 5:
momentum-x, momentum-y, mass, boundary (u_x, u_y, p on the four sides), initial (u_x, u_y, p at
t = 0). Manufactured: u_x = cos t sin πx cos πy, u_y = cos t cos πx sin πy + x²/2,
p = e^{−t} cos πx cos πy.

``mhd-c{c}`` — steady 2-D incompressible resistive (visco-resistive) magnetohydrodynamics in the
velocity–magnetic-field formulation: Gerbeau, Le Bris & Lelièvre (2006), *Mathematical Methods for
the Magnetohydrodynamics of Liquid Metals*, OUP, ch. 2; Davidson (2001), *An Introduction to
Magnetohydrodynamics*, CUP, ch. 2–4. With j = ∂_x B_y − ∂_y B_x (the current, ∇×B = j e_z) and
(∇×B)×B = j (−B_y, B_x):

    (u·∇)u + ∇p − ν Δu − S j (−B_y, B_x) = f                 (momentum x, y; S the coupling number)
    ∇·u = 0                                                  (continuity)
    (u·∇)B − (B·∇)u − η ΔB = g                               (induction x, y)

The induction equation is written in the form that holds when ∇·u = ∇·B = 0 (from
∂_t B = ∇×(u×B) − ∇×(η∇×B)); the manufactured u and B are curls of stream functions, so both
are divergence-free. ν = η = 0.1, S = c. Inputs (x, y) ∈ [0, 1]², outputs (u, v, p, B_x, B_y).
K = 6: momentum-x, momentum-y, continuity, induction-x, induction-y, boundary (u, v, B_x, B_y on the
four sides, p on x = 1 as the pressure gauge). Manufactured: u = sin πx cos πy,
v = −cos πx sin πy (ψ = sin πx sin πy / π), B_x = 1 − cos πx sin 2πy, B_y = ½ sin πx cos 2πy
(A = y + cos πx cos 2πy / (2π)), p = cos πx sin πy.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from pinnarena.problem import Problem, Reference, Term, box_faces, grid, slice_at, uniform_box
from pinnarena.problems import register

PI = np.pi
COUPLINGS = {"c0.1": 0.1, "c1": 1.0}


def jet2(u, x):
    """(value (m,), Jacobian (m, d), Hessian (m, d, d)) of u at x, forward over forward mode."""
    jac = jax.jacfwd(u)

    def both(y):
        j = jac(y)
        return j, j

    hess, j = jax.jacfwd(both, has_aux=True)(x)
    return u(x), j, hess


def forced(operator, exact, part):
    """Residual R_part(u) − R_part(exact): the forcing is the operator applied to the exact field."""

    def residual(u, p, theta):
        x = p["x"]
        exact_j = lambda y: exact(y, jnp)
        return operator(u, x)[part] - operator(exact_j, x)[part]

    return residual


def dirichlet(exact, outputs=None):
    def residual(u, p, theta):
        x = p["x"]
        err = u(x) - exact(x, jnp)
        return err if outputs is None else err[jnp.asarray(outputs)]

    return residual


def reference_of(exact, lo, hi, shape, what):
    def reference():
        pts = grid(lo, hi, shape)
        return Reference(pts, np.asarray(exact(pts, np), dtype=float),
                         provenance={"source": f"manufactured solution ({what})", "grid": list(shape)})

    return reference


# ---------------------------------------------------------------------- elasticity core
def elastic_operator(lam, mu, coupling, diffusivity, storage):
    r"""Operator of the thermo-/poro-elastic system on fields (t, x, y) → (u_x, u_y, s):

    momentum_i = −μ Δu_i − (λ + μ) ∂_i(∇·u) + coupling ∂_i s,
    scalar     = ∂_t(storage · s + coupling ∇·u) − diffusivity Δs.
    """

    def op(u, x):
        _, J, H = jet2(u, x)  # inputs 0 = t, 1 = x, 2 = y
        lap = H[:, 1, 1] + H[:, 2, 2]
        grad_div = jnp.stack([H[0, 1, 1] + H[1, 2, 1], H[0, 1, 2] + H[1, 2, 2]])
        mom = -mu * lap[:2] - (lam + mu) * grad_div + coupling * J[2, 1:3]
        dt_div = H[0, 1, 0] + H[1, 2, 0]
        scalar = storage * J[2, 0] + coupling * dt_div - diffusivity * lap[2]
        return {"momentum-x": mom[0:1], "momentum-y": mom[1:2], "scalar": scalar[None]}

    return op


LO3, HI3 = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)


def thermoelastic_exact(X, xp):
    t, x, y = X[..., 0], X[..., 1], X[..., 2]
    ux = xp.exp(-t) * xp.sin(PI * x) * xp.cos(PI * y)
    uy = xp.exp(-0.5 * t) * xp.cos(PI * x) * xp.sin(2 * PI * y)
    th = xp.exp(-t) * xp.sin(PI * x) * xp.sin(PI * y) + x * y
    return xp.stack([ux, uy, th], axis=-1)


def spacetime_boundary(lo, hi, initial_share: float = 0.2):
    """Side faces (inputs 1, 2) for all t, plus the initial slice t = lo_0; a fixed share of the
    points (``initial_share``) goes to t = 0."""
    sides = box_faces(lo, hi, dims=(1, 2))
    start = slice_at(lo, hi, 0, lo[0])

    def sample(key, n):
        n0 = int(round(n * initial_share))
        k1, k2 = jax.random.split(key)
        return {"x": jnp.concatenate([sides(k1, n - n0)["x"], start(k2, n0)["x"]], axis=0)}

    return sample


def thermoelastic(name: str, c: float) -> Problem:
    op = elastic_operator(lam=1.0, mu=1.0, coupling=c, diffusivity=1.0, storage=1.0)
    box = uniform_box(LO3, HI3)
    ex = thermoelastic_exact
    return Problem(
        name=name,
        family="thermoelastic",
        kind="multiphysics",
        description=f"2-D coupled quasi-static thermoelasticity (Biot 1956), coupling c = {c:g}, manufactured solution",
        input_names=("t", "x", "y"),
        output_names=("ux", "uy", "theta"),
        domain=(LO3, HI3),
        terms=(
            Term("momentum-x", box, forced(op, ex, "momentum-x"), n=2048),
            Term("momentum-y", box, forced(op, ex, "momentum-y"), n=2048),
            Term("heat", box, forced(op, ex, "scalar"), n=2048),
            Term("boundary", spacetime_boundary(LO3, HI3), dirichlet(ex), n=1024),
        ),
        reference_fn=reference_of(ex, LO3, HI3, (11, 51, 51), "thermoelasticity"),
        params={"coupling": float(c), "lame_lambda": 1.0, "lame_mu": 1.0, "kappa": 1.0},
        time_dependent=True,
        reference_kind="manufactured",
    )


def poroelastic_exact(X, xp):
    t, x, y = X[..., 0], X[..., 1], X[..., 2]
    ux = xp.cos(t) * xp.sin(PI * x) * xp.cos(PI * y)
    uy = xp.cos(t) * xp.cos(PI * x) * xp.sin(PI * y) + 0.5 * x**2
    p = xp.exp(-t) * xp.cos(PI * x) * xp.cos(PI * y)
    return xp.stack([ux, uy, p], axis=-1)


def poroelastic(name: str, c: float) -> Problem:
    op = elastic_operator(lam=1.0, mu=1.0, coupling=c, diffusivity=1.0, storage=1.0)
    box = uniform_box(LO3, HI3)
    ex = poroelastic_exact
    return Problem(
        name=name,
        family="poroelastic",
        kind="multiphysics",
        description=f"2-D quasi-static Biot poroelasticity, Biot-Willis coupling alpha = {c:g}, manufactured solution",
        input_names=("t", "x", "y"),
        output_names=("ux", "uy", "p"),
        domain=(LO3, HI3),
        terms=(
            Term("momentum-x", box, forced(op, ex, "momentum-x"), n=2048),
            Term("momentum-y", box, forced(op, ex, "momentum-y"), n=2048),
            Term("mass", box, forced(op, ex, "scalar"), n=2048),
            Term("boundary", box_faces(LO3, HI3, dims=(1, 2)), dirichlet(ex), n=768),
            Term("initial", slice_at(LO3, HI3, 0, 0.0), dirichlet(ex), n=512),
        ),
        reference_fn=reference_of(ex, LO3, HI3, (11, 51, 51), "Biot poroelasticity"),
        params={"coupling": float(c), "biot_alpha": float(c), "lame_lambda": 1.0, "lame_mu": 1.0,
                "storage": 1.0, "mobility": 1.0},
        time_dependent=True,
        reference_kind="manufactured",
    )


# ---------------------------------------------------------------------- MHD
def mhd_operator(nu, eta, S):
    """Steady 2-D visco-resistive MHD on fields (x, y) → (u, v, p, B_x, B_y)."""

    def op(f, x):
        val, J, H = jet2(f, x)
        vel, B = val[0:2], val[3:5]
        gv, gB = J[0:2], J[3:5]  # (2, 2): [component, direction]
        lap = H[:, 0, 0] + H[:, 1, 1]
        j = J[4, 0] - J[3, 1]
        lorentz = j * jnp.stack([-B[1], B[0]])
        mom = gv @ vel + J[2] - nu * lap[0:2] - S * lorentz
        ind = gB @ vel - gv @ B - eta * lap[3:5]
        return {"momentum-x": mom[0:1], "momentum-y": mom[1:2], "continuity": (gv[0, 0] + gv[1, 1])[None],
                "induction-x": ind[0:1], "induction-y": ind[1:2]}

    return op


def mhd_exact(X, xp):
    x, y = X[..., 0], X[..., 1]
    u = xp.sin(PI * x) * xp.cos(PI * y)
    v = -xp.cos(PI * x) * xp.sin(PI * y)
    p = xp.cos(PI * x) * xp.sin(PI * y)
    bx = 1.0 - xp.cos(PI * x) * xp.sin(2 * PI * y)
    by = 0.5 * xp.sin(PI * x) * xp.cos(2 * PI * y)
    return xp.stack([u, v, p, bx, by], axis=-1)


LO2, HI2 = (0.0, 0.0), (1.0, 1.0)


def mhd_boundary(exact):
    """u, v, B_x, B_y on the four sides; p where ``mask`` = 1 (the side x = 1)."""

    def residual(u, p, theta):
        x = p["x"]
        err = u(x) - exact(x, jnp)
        return jnp.stack([err[0], err[1], p["mask"] * err[2], err[3], err[4]])

    return residual


def mhd(name: str, c: float, nu: float = 0.1, eta: float = 0.1) -> Problem:
    from pinnarena.problems.ns_analytic import faces_with_mask

    op = mhd_operator(nu, eta, c)
    box = uniform_box(LO2, HI2)
    ex = mhd_exact
    return Problem(
        name=name,
        family="mhd",
        kind="multiphysics",
        description=f"steady 2-D visco-resistive incompressible MHD, coupling S = {c:g}, manufactured solution",
        input_names=("x", "y"),
        output_names=("u", "v", "p", "bx", "by"),
        domain=(LO2, HI2),
        terms=(
            Term("momentum-x", box, forced(op, ex, "momentum-x"), n=2048),
            Term("momentum-y", box, forced(op, ex, "momentum-y"), n=2048),
            Term("continuity", box, forced(op, ex, "continuity"), n=2048),
            Term("induction-x", box, forced(op, ex, "induction-x"), n=2048),
            Term("induction-y", box, forced(op, ex, "induction-y"), n=2048),
            Term("boundary", faces_with_mask(LO2, HI2, (0, 1), 0, True), mhd_boundary(ex), n=1024),
        ),
        reference_fn=reference_of(ex, LO2, HI2, (101, 101), "visco-resistive MHD"),
        params={"coupling": float(c), "nu": float(nu), "eta": float(eta)},
        reference_kind="manufactured",
    )


for _label, _c in COUPLINGS.items():
    register(f"thermoelastic-{_label}", functools.partial(thermoelastic, f"thermoelastic-{_label}", _c))
    register(f"poroelastic-{_label}", functools.partial(poroelastic, f"poroelastic-{_label}", _c))
    register(f"mhd-{_label}", functools.partial(mhd, f"mhd-{_label}", _c))

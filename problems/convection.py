r"""2-D Boussinesq convection: Rayleigh–Taylor instability and Rayleigh–Bénard convection.

    u_t + (u·∇)u + ∇p − α1 ∇²u = α2 θ e_y,   ∇·u = 0,   θ_t + u·∇θ = α4 ∇²θ,

on x ∈ [0, Lx) (periodic) × y ∈ [0, 1] with no-slip walls u = v = 0 at y = 0 and y = 1.

Non-dimensionalisation (free-fall units): length by the layer depth H, velocity by the free-fall
velocity U = √(gβΔT H), time by H/U, θ = (T − T_mean)/ΔT (for Rayleigh–Taylor θ is minus the
scaled density anomaly, so light fluid has θ > 0), p by ρU². Then

    α1 = √(Pr/Ra),   α2 = 1,   α4 = 1/√(Pr·Ra),   Ra = gβΔT H³/(νκ),  Pr = ν/κ.

Slugs (kind ``multiphysics``: flow and heat transport coupled both ways, through advection and
buoyancy):

* ``rayleigh-taylor`` — Ra = 10⁵, Pr = 1, Lx = 1, insulated walls (θ_y = 0). Heavy fluid (θ = −½)
  over light (θ = +½) at rest, with a smooth perturbed interface
  θ0 = −½ tanh((y − ½ − A cos(2πx/Lx))/δ), A = δ = 0.05. Window t ∈ [0, 3]: exponential growth of
  the mode, then the rising bubble (at x = 0) and the falling spike (at x = Lx/2) with rolled-up
  (mushroom) flanks; at t = 3 their tips are about 0.12 from the walls.
* ``rayleigh-benard-ra1e4`` / ``rayleigh-benard-ra1e6`` — Pr = 0.71 (air), Lx = 2 (about the
  critical wavelength 2.016 of the rigid–rigid layer), hot bottom θ = +½, cold top θ = −½. The
  initial state is the conductive state at rest with a seeded perturbation,
  θ0 = ½ − y + ε sin(πy) Σ_{m=1}^{4} a_m cos(mπx + φ_m), ε = 0.1, a_m ~ N(0, 1), φ_m ~ U(0, 2π)
  from ``numpy.random.default_rng(0)`` (the numbers are in ``params``). No spin-up: the window
  covers the onset of convection from this state — growth, overshoot and saturation into rolls
  for Ra = 10⁴ (t ∈ [0, 20]; Nu rises from 1, overshoots to ≈ 2.85 and settles at ≈ 2.7 with one
  pair of rolls); the first burst of plumes for Ra = 10⁶ (t ∈ [0, 5]; Nu ≈ 13 at t = 5). The
  window starts from rest, so the ``initial`` term fixes u = v = 0 and the perturbed θ.

Inputs (t, x, y); outputs (u, v, p, θ). K = 5 loss terms:

* ``continuity``: u_x + v_y;
* ``momentum``: both components of the momentum residual as one 2-vector term;
* ``energy``: the temperature (transport–diffusion) residual;
* ``boundary``: wall and periodicity conditions in one term. Half of the points lie on the walls
  (residual u, v and θ − θ_wall, or θ_y for insulated walls), half on x = 0 paired with their
  image at x = Lx (residual: the differences of u, v, p, θ and of their x-derivatives); every
  point also carries the pressure gauge p(t, 0, 0) = 0 (the reference's gauge: p enters only
  through ∇p). Periodicity is a loss, not an input embedding, so every model works unchanged;
* ``initial``: (u, v, θ) − (0, 0, θ0) at t = 0.

Reference: problems/solvers/boussinesq.py (Fourier × second-order finite differences,
streamfunction–vorticity, CN/AB2, pressure recovered from a Neumann Poisson problem per mode) on
Nx × (Ny+1) nodes with a fixed step; values on a sub-grid (smoke ≈ 32², otherwise ≈ 64² nodes, the
walls included) at 6 (smoke) or 11 equispaced times. Every tier also runs the solver at
(Nx/2, Ny/2, 2 dt) and stores the self-convergence difference at the common nodes; the provenance
further records the largest discrete divergence, the largest CFL number, the kinetic energy and
(Bénard) the Nusselt numbers at both walls at each stored time.
"""
from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np

from pinnarena import derivatives as D
from pinnarena.problem import Problem, Reference, Term, _bounds, slice_at, uniform_box
from pinnarena.problems import register

SEED = 0
EPS = 0.1
N_MODES = 4

CONFIGS = {
    "rayleigh-taylor": {
        "Ra": 1e5, "Pr": 1.0, "Lx": 1.0, "T": 3.0, "thermal": "neumann", "A": 0.05, "delta": 0.05,
        "grid": {"smoke": (64, 64, 0.005), "standard": (128, 128, 0.0025), "paper": (256, 256, 0.00125)},
    },
    "rayleigh-benard-ra1e4": {
        "Ra": 1e4, "Pr": 0.71, "Lx": 2.0, "T": 20.0, "thermal": "dirichlet",
        "grid": {"smoke": (32, 32, 0.02), "standard": (128, 128, 0.005), "paper": (256, 256, 0.0025)},
    },
    "rayleigh-benard-ra1e6": {
        "Ra": 1e6, "Pr": 0.71, "Lx": 2.0, "T": 5.0, "thermal": "dirichlet",
        "grid": {"smoke": (64, 64, 0.005), "standard": (256, 256, 0.00125), "paper": (512, 512, 0.000625)},
    },
}


def coefficients(Ra: float, Pr: float) -> tuple[float, float, float]:
    """(α1, α2, α4) in free-fall units."""
    return float(np.sqrt(Pr / Ra)), 1.0, float(1.0 / np.sqrt(Pr * Ra))


@functools.lru_cache(maxsize=None)
def perturbation_modes(seed: int = SEED) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The seeded amplitudes a_m and phases φ_m (m = 1..4) of the Bénard initial perturbation."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(N_MODES)
    phi = rng.uniform(0.0, 2 * np.pi, N_MODES)
    return tuple(map(float, a)), tuple(map(float, phi))


def initial_theta(name: str, x, y, xp=np):
    """θ0(x, y) of problem ``name`` (``xp`` = numpy or jax.numpy)."""
    c = CONFIGS[name]
    if c["thermal"] == "neumann":
        return -0.5 * xp.tanh((y - 0.5 - c["A"] * xp.cos(2 * np.pi * x / c["Lx"])) / c["delta"])
    a, phi = perturbation_modes()
    pert = sum(a[m] * xp.cos((m + 1) * 2 * np.pi / c["Lx"] * x + phi[m]) for m in range(N_MODES))
    return 0.5 - y + EPS * xp.sin(np.pi * y) * pert


def make_solver(name: str, Nx: int, Ny: int, dt: float, Ra: float | None = None) -> "B.Boussinesq":
    from pinnarena.problems.solvers import boussinesq as B  # scipy's solvers load only when a reference is built
    c = CONFIGS[name]
    a1, a2, a4 = coefficients(c["Ra"] if Ra is None else Ra, c["Pr"])
    return B.Boussinesq(Nx, Ny, c["Lx"], a1, a2, a4, dt, thermal=c["thermal"])


def simulate(name: str, Nx: int, Ny: int, dt: float, times, t_end: float | None = None):
    """Run the window at one resolution: (solver, {t: state}, diagnostics per stored time)."""
    c = CONFIGS[name]
    s = make_solver(name, Nx, Ny, dt)
    X, Y = np.meshgrid(s.x, s.y, indexing="ij")
    st = s.initial_state(np.zeros_like(X), np.zeros_like(X), initial_theta(name, X, Y))
    _, saved = s.integrate(st, c["T"] if t_end is None else t_end, save_times=times)
    diag = {"dt": dt, "grid": [Nx, Ny + 1], "max_cfl": s.max_cfl, "seconds": round(s.seconds, 2),
            "divergence_max": max(s.divergence_max(saved[t]) for t in times),
            "kinetic_energy": [s.kinetic_energy(saved[t]) for t in times]}
    if c["thermal"] == "dirichlet":
        diag["nusselt_bottom_top"] = [list(s.nusselt(saved[t])) for t in times]
    return s, saved, diag


def snapshot(s: "B.Boussinesq", state) -> np.ndarray:
    """(u, v, p, θ) on the solver grid, shape (Nx, Ny+1, 4), pressure gauge p(0, 0) = 0."""
    u, v, _, th = s.fields(state)
    p = s.pressure(state)
    return np.stack([u, v, p - p[0, 0], th], axis=-1)


def _sample(s, saved, times, stride):
    pts, vals = [], []
    X, Y = np.meshgrid(s.x[::stride], s.y[::stride], indexing="ij")
    for t in times:
        f = snapshot(s, saved[t])[::stride, ::stride]
        pts.append(np.c_[np.full(X.size, t), X.ravel(), Y.ravel()])
        vals.append(f.reshape(-1, 4))
    return np.concatenate(pts), np.concatenate(vals)


def build_reference(name: str, tier: str) -> Reference:
    c = CONFIGS[name]
    Nx, Ny, dt = c["grid"][tier]
    n_out = 32 if tier == "smoke" else 64
    times = [float(t) for t in np.round(np.linspace(0.0, c["T"], 6 if tier == "smoke" else 11), 10)]
    t0 = time.perf_counter()
    s, saved, diag = simulate(name, Nx, Ny, dt, times)
    stride = max(1, Ny // n_out)
    pts, vals = _sample(s, saved, times, stride)
    sc, savedc, diagc = simulate(name, Nx // 2, Ny // 2, 2 * dt, times)
    fine = np.stack([snapshot(s, saved[t])[::2, ::2] for t in times])
    coarse = np.stack([snapshot(sc, savedc[t]) for t in times])
    names = ("u", "v", "p", "theta")
    axes = (0, 1, 2)
    rel_l2 = np.sqrt(((coarse - fine) ** 2).sum(axis=axes) / (fine**2).sum(axis=axes))
    rel_max = np.abs(coarse - fine).max(axis=axes) / np.abs(fine).max(axis=axes)
    a1, a2, a4 = coefficients(c["Ra"], c["Pr"])
    prov = {
        "solver": ("Boussinesq streamfunction-vorticity: Fourier (2/3 rule) in x, 2nd-order central "
                   "differences in y with Jensen wall vorticity, CN/AB2, pressure from a Neumann "
                   "Poisson problem per mode"),
        "tier": tier, "Ra": c["Ra"], "Pr": c["Pr"], "alpha1": a1, "alpha2": a2, "alpha4": a4,
        "Lx": c["Lx"], "window": [0.0, c["T"]], "times": times, "stride": stride,
        "pressure_gauge": "p(t, 0, 0) = 0", "seconds": round(time.perf_counter() - t0, 2),
        **diag,
        "self_convergence": {
            "against": f"Nx = {Nx // 2}, Ny = {Ny // 2}, dt = {2 * dt:g}",
            "rel_l2": dict(zip(names, map(float, rel_l2))),
            "rel_max": dict(zip(names, map(float, rel_max))),
            "rel_l2_all": float(np.linalg.norm(coarse - fine) / np.linalg.norm(fine)),
        },
    }
    if "nusselt_bottom_top" in diagc:
        prov["self_convergence"]["nusselt_bottom_top_coarse"] = diagc["nusselt_bottom_top"]
    return Reference(pts, vals, provenance=prov)


def convection(name: str) -> Problem:
    c = CONFIGS[name]
    Lx, T = c["Lx"], c["T"]
    a1, a2, a4 = coefficients(c["Ra"], c["Pr"])
    lo, hi = (0.0, 0.0, 0.0), (T, Lx, 1.0)
    insulated = c["thermal"] == "neumann"

    def continuity(u, p, theta):
        x = p["x"]
        return D.d(u, x, 1)[0:1] + D.d(u, x, 2)[1:2]

    def _derivs(u, x):
        wt = D.d(u, x, 0)
        w, wx, wxx = D.taylor(u, x, 1, 2)
        _, wy, wyy = D.taylor(u, x, 2, 2)
        return w, wt, wx, wy, wxx + wyy

    def momentum(u, p, theta):
        w, wt, wx, wy, lap = _derivs(u, p["x"])
        res = wt[:2] + w[0] * wx[:2] + w[1] * wy[:2] + jnp.stack([wx[2], wy[2]]) - a1 * lap[:2]
        return res - jnp.stack([0.0, a2 * w[3]])

    def energy(u, p, theta):
        w, wt, wx, wy, lap = _derivs(u, p["x"])
        return (wt[3] + w[0] * wx[3] + w[1] * wy[3] - a4 * lap[3])[None]

    def boundary_sample(key, n):
        lo_a, hi_a = _bounds(lo, hi)
        k1, k2, k3 = jax.random.split(key, 3)
        x = lo_a + (hi_a - lo_a) * jax.random.uniform(k1, (n, 3), dtype=lo_a.dtype)
        wall = jnp.arange(n) % 2 == 0  # half wall points, half periodic pairs
        top = jax.random.bernoulli(k2, 0.5, (n,))
        x = x.at[:, 2].set(jnp.where(wall, jnp.where(top, 1.0, 0.0), x[:, 2]))
        x = x.at[:, 1].set(jnp.where(wall, x[:, 1], 0.0))
        return {"x": x, "wall": wall.astype(lo_a.dtype)}

    def boundary(u, p, theta):
        x, is_wall = p["x"], p["wall"]
        w, wy = D.value_and_d(u, x, 2)
        t_wall = jnp.where(x[2] > 0.5, -0.5, 0.5)
        thermal = wy[3] if insulated else w[3] - t_wall
        wall_res = jnp.stack([w[0], w[1], thermal])
        b = x.at[1].set(Lx)
        va, da = D.value_and_d(u, x, 1)
        vb, db = D.value_and_d(u, b, 1)
        per_res = jnp.concatenate([va - vb, da - db])
        gauge = u(x.at[1].set(0.0).at[2].set(0.0))[2]
        return jnp.concatenate([is_wall * wall_res, (1.0 - is_wall) * per_res, gauge[None]])

    def initial(u, p, theta):
        x = p["x"]
        w = u(x)
        return jnp.stack([w[0], w[1], w[3] - initial_theta(name, x[1], x[2], xp=jnp)])

    def reference(tier: str = "standard"):
        return build_reference(name, tier)

    params = {"Ra": c["Ra"], "Pr": c["Pr"], "alpha1": a1, "alpha2": a2, "alpha4": a4, "Lx": Lx, "T": T,
              "walls": "insulated (theta_y = 0)" if insulated else "theta = +1/2 (y = 0), -1/2 (y = 1)",
              "units": "free-fall"}
    if insulated:
        params.update({"interface_amplitude": c["A"], "interface_width": c["delta"]})
        what = (f"Rayleigh-Taylor instability (Boussinesq), Ra = {c['Ra']:g}, Pr = {c['Pr']:g}, heavy over "
                f"light with a perturbed tanh interface, insulated no-slip walls")
    else:
        a, phi = perturbation_modes()
        params.update({"perturbation_eps": EPS, "perturbation_a": list(a), "perturbation_phi": list(phi),
                       "seed": SEED})
        what = (f"Rayleigh-Benard convection onset, Ra = {c['Ra']:g}, Pr = {c['Pr']:g}, from a seeded "
                f"perturbation of the conductive state, hot bottom / cold top no-slip walls")
    return Problem(
        name=name,
        family="rayleigh-taylor" if insulated else "rayleigh-benard",
        kind="multiphysics",
        description=f"{what}, periodic in x on [0, {Lx:g}], window t in [0, {T:g}] (free-fall units)",
        input_names=("t", "x", "y"),
        output_names=("u", "v", "p", "theta"),
        domain=(lo, hi),
        terms=(
            Term("continuity", uniform_box(lo, hi), continuity, n=2048),
            Term("momentum", uniform_box(lo, hi), momentum, n=4096),
            Term("energy", uniform_box(lo, hi), energy, n=4096),
            Term("boundary", boundary_sample, boundary, n=1024),
            Term("initial", slice_at(lo, hi, 0, 0.0), initial, n=1024),
        ),
        reference_fn=reference,
        params=params,
        time_dependent=True,
        reference_kind="boussinesq-fourier-fd-cnab2",
    )


for _name in CONFIGS:
    register(_name, functools.partial(convection, _name))

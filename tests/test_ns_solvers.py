"""Navier–Stokes reference solvers: cavity vs Ghia et al. (1982), Kolmogorov flow budgets and
convergence, and the smoke-tier references of every new problem.

Tolerances (measured values in comments):
* cavity, classic lid, 129² nodes, vs Ghia Tables I/II at Re = 100/400/1000: max |error| < 2e-2
  (measured 8.4e-3 / 3.2e-3 / 1.1e-2; Re = 400 without the misprinted v(0.9063) entry);
* Kolmogorov: divergence < 1e-12; energy budget mismatch < 1e-3 of the largest budget term
  (measured 3e-5 at 64²); Re = 1000 over t ∈ [0, 0.25], 128² vs 256²: velocity < 1e-2 and
  vorticity < 5e-2 of their maxima (measured 1.8e-3 and 2.4e-2).
"""
from __future__ import annotations

import numpy as np
import pytest

from pinnarena import problems
from pinnarena.problems import kolmogorov as kolmo
from pinnarena.problems import ldc
from pinnarena.problems.solvers import cavity
from pinnarena.problems.solvers import kolmogorov as K

LDC_NAMES = [f"ldc-re{r}" for r in ldc.REYNOLDS]
KOLMO_NAMES = ["kolmogorov-re100", "kolmogorov-re1000", "kolmogorov-re10000"]


# ----------------------------------------------------------------------------- cavity
def test_ghia_table_is_complete_and_cross_checked():
    for re in ldc.REYNOLDS:
        g = ldc.ghia_centreline(re, errata=False)
        assert len(g["values"]) == 30  # 15 interior points on each centreline
        assert np.all(np.abs(g["values"]) < 1.0)
    # spot values, checked against the paper's tables (independent transcriptions agree)
    g = ldc.ghia_centreline(100)
    at = {(tuple(p), o): v for p, o, v in zip(g["points"], g["output"], g["values"])}
    assert at[((0.5, 0.1719), 0)] == -0.10150
    assert at[((0.5, 0.5), 0)] == -0.20581
    assert ldc.ghia_centreline(1000)["values"].min() == -0.51550
    assert len(ldc.ghia_centreline(10000)["values"]) == 29  # misprinted u(0.5) dropped


def test_cavity_matches_ghia_classic_lid():
    sols = cavity.solve_cavity_path([100.0, 400.0, 1000.0], N=128, lid="classic")
    errors = {}
    for sol in sols:
        g = ldc.ghia_centreline(int(sol["Re"]))
        names = ("u", "v")
        got = np.array([cavity.interpolate(sol, names[k], p[None])[0] for p, k in zip(g["points"], g["output"])])
        errors[int(sol["Re"])] = np.abs(got - g["values"]).max()
    assert all(e < 2e-2 for e in errors.values()), errors
    # the discretisation is not trivially "close": the primary vortex strength matches Ghia's
    # Table V psi_min = -0.103423 (Re = 100) and -0.117929 (Re = 1000) to 3 %
    assert abs(sols[0]["psi"].min() / -0.103423 - 1) < 0.03
    assert abs(sols[2]["psi"].min() / -0.117929 - 1) < 0.03


def _momentum_residual(sol, Re):
    """Interior x-momentum residual of the solver's (u, v, p) by independent finite differences."""
    h = sol["x"][1] - sol["x"][0]
    u, v, p = sol["u"], sol["v"], sol["p"]
    ux, uy = np.gradient(u, h, edge_order=2)
    px, _ = np.gradient(p, h, edge_order=2)
    uxx = np.gradient(ux, h, axis=0)
    uyy = np.gradient(uy, h, axis=1)
    r = u * ux + v * uy + px - (uxx + uyy) / Re
    n = len(sol["x"])
    k = n // 6  # stay away from the walls, where np.gradient is one-sided
    return np.abs(r[k:-k, k:-k]).max()


def test_cavity_discrete_equations_and_pressure():
    sols = {N: cavity.solve_cavity(100.0, N=N) for N in (48, 96)}
    sol = sols[48]
    h = 1.0 / 48
    u, v, p = sol["u"], sol["v"], sol["p"]
    # continuity holds for the derived velocities (central differences of ψ commute)
    div = (u[2:, 1:-1] - u[:-2, 1:-1]) / (2 * h) + (v[1:-1, 2:] - v[1:-1, :-2]) / (2 * h)
    assert np.abs(div[1:-1, 1:-1]).max() < 1e-8
    assert p[0, 0] == 0.0 and np.isfinite(p).all()
    # no-slip and the smoothed lid
    assert np.allclose(u[:, 0], 0) and np.allclose(v[:, -1], 0)
    assert np.allclose(u[:, -1], cavity.smoothed_lid(sol["x"]))
    # the momentum equation with the recovered pressure holds to second order
    r48, r96 = _momentum_residual(sols[48], 100.0), _momentum_residual(sols[96], 100.0)
    assert r96 < r48 / 2.5, (r48, r96)
    assert r96 < 0.02


# ----------------------------------------------------------------------------- Kolmogorov
def test_kolmogorov_divergence_free_and_energy_budget():
    s, saved, diag = kolmo.simulate(1000.0, 64, [0.0, 0.5], t_end=0.5)
    assert diag["divergence_max"] < 1e-12
    assert diag["energy_budget_max_rel_mismatch"] < 1e-3
    # the budget is not trivially satisfied: energy changes over the window
    E = [s.energy(saved[t]) for t in (0.0, 0.5)]
    assert abs(E[1] - E[0]) > 1e-4
    # and a wrong dissipation (ν doubled in the budget only) violates it
    s2 = K.Kolmogorov(64, 1e-3, 0.1)
    wh = saved[0.5]
    h = 1e-3
    E0, E2 = s2.energy(wh), s2.energy(s2.step(s2.step(wh, h), h))
    P, Dv, A = s2.budget(s2.step(wh, h))
    dEdt = (E2 - E0) / (2 * h)
    assert abs(dEdt - (P - Dv - A)) < 1e-4 * abs(P)
    assert abs(dEdt - (P - 2 * Dv - A)) > 10 * abs(dEdt - (P - Dv - A))


def test_kolmogorov_resolution_convergence_re1000_short_window():
    times = [0.0, 0.125, 0.25]
    s1, sv1, _ = kolmo.simulate(1000.0, 128, times, t_end=0.25)
    s2, sv2, _ = kolmo.simulate(1000.0, 256, times, t_end=0.25)
    _, v1 = kolmo._sample(s1, sv1, times, 4)
    _, v2 = kolmo._sample(s2, sv2, times, 8)
    rel = np.abs(v1 - v2).max(axis=0) / np.abs(v2).max(axis=0)
    assert rel[0] < 1e-2 and rel[1] < 1e-2 and rel[2] < 5e-2, rel


@pytest.mark.slow
def test_kolmogorov_resolution_convergence_re1000_full_window():
    times = [0.0, 0.5, 1.0]
    s1, sv1, _ = kolmo.simulate(1000.0, 256, times)
    s2, sv2, _ = kolmo.simulate(1000.0, 512, times)
    _, v1 = kolmo._sample(s1, sv1, times, 4)
    _, v2 = kolmo._sample(s2, sv2, times, 8)
    rel = np.abs(v1 - v2).max(axis=0) / np.abs(v2).max(axis=0)
    assert rel.max() < 5e-2, rel


def test_kolmogorov_initial_series_matches_grid():
    s, wh, _ = kolmo.initial_state(1000.0)
    kx, ky, c = kolmo.initial_modes(1000.0)
    u, v, w = s.fields(wh)
    i, j = np.array([3, 17, 40]), np.array([60, 5, 33])
    th = kx[None] * s.x[i, None] + ky[None] * s.x[j, None]
    series = np.cos(th) @ c[:, :, 0] + np.sin(th) @ c[:, :, 1]
    np.testing.assert_allclose(series, np.c_[u[i, j], v[i, j], w[i, j]], atol=1e-10)


# ----------------------------------------------------------------------------- problems
@pytest.mark.parametrize("name", LDC_NAMES + KOLMO_NAMES)
def test_smoke_reference_and_metadata(name):
    prob = problems.get(name)
    meta = prob.metadata()
    assert meta["name"] == name and meta["reference"] == prob.reference_kind != "analytic"
    ref = prob.reference("smoke")
    assert ref.points.shape[1] == prob.input_dim and ref.values.shape[1] == prob.output_dim
    assert np.isfinite(ref.values).all() and len(ref.points) > 1000
    lo, hi = map(np.asarray, prob.domain)
    assert np.all(ref.points >= lo - 1e-12) and np.all(ref.points <= hi + 1e-12)
    if name.startswith("ldc"):
        assert meta["kind"] == "forward" and meta["n_losses"] == 3
        assert meta["output_names"] == ["u", "v", "p"]
        assert "ghia1982" in ref.provenance
    else:
        assert meta["kind"] == ("forward" if name.endswith("re100") else "turbulent")
        assert meta["n_losses"] == 4 and meta["time_dependent"]
        assert ref.provenance["divergence_max"] < 1e-12

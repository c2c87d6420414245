"""Classical reference solvers: ETDRK4 Fourier pseudo-spectral (1-D/2-D) and Cole–Hopf Burgers.

Each check states its tolerance; they were set from measured errors with a margin of ≥ 3×.
"""
from __future__ import annotations

import numpy as np
import pytest

from pinnarena.problems import allen_cahn, ginzburg_landau, gray_scott, kdv, ks
from pinnarena.problems.solvers.cole_hopf import burgers_sine
from pinnarena.problems.solvers.etdrk4 import etdrk4_coefficients, periodic_grid, solve, wavenumbers


def rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


# --------------------------------------------------------------------------- φ-function coefficients
@pytest.mark.parametrize("z", [-50.0, -3.0 + 2.0j, 0.5j, 8.0j, 100.0j, 2.0])
def test_contour_coefficients_match_closed_form(z):
    _, _, Q, f1, f2, f3 = etdrk4_coefficients(np.array([z]), 1.0)
    exact = ((np.exp(z / 2) - 1) / z,
             (-4 - z + np.exp(z) * (4 - 3 * z + z * z)) / z**3,
             (2 + z + np.exp(z) * (-2 + z)) / z**3,
             (-4 - 3 * z - z * z + np.exp(z) * (4 - z)) / z**3)
    np.testing.assert_allclose([Q[0], f1[0], f2[0], f3[0]], exact, rtol=1e-10, atol=1e-13)


def test_contour_coefficients_small_z_limits():
    # the closed forms cancel catastrophically near 0; the contour means give the Taylor limits
    _, _, Q, f1, f2, f3 = etdrk4_coefficients(np.array([1e-12, 0.0]), 1.0)
    np.testing.assert_allclose(Q, 0.5, rtol=1e-10)
    np.testing.assert_allclose(np.stack([f1, f2, f3]), 1.0 / 6.0, rtol=1e-10)


# --------------------------------------------------------------------------- exact solutions
def test_linear_advection_and_heat_are_exact():
    n, beta = 64, 10.0
    x = periodic_grid(0.0, 2 * np.pi, n)
    k = wavenumbers(n, 2 * np.pi)
    zero = lambda u, t: 0.0 * u
    adv = solve(np.sin(x)[None], -1j * beta * k[None], zero, dt=0.01, t_final=1.0, n_save=2, space_dims=1)
    np.testing.assert_allclose(adv.u[-1, 0], np.sin(x - beta), atol=1e-12)
    u0 = np.sin(x) + 0.3 * np.cos(3 * x)
    heat = solve(u0[None], -(k**2)[None], zero, dt=0.05, t_final=1.0, n_save=2, space_dims=1)
    np.testing.assert_allclose(heat.u[-1, 0], np.exp(-1) * np.sin(x) + 0.3 * np.exp(-9) * np.cos(3 * x), atol=1e-12)


def test_logistic_reaction_fourth_order():
    # u_t = ρu(1 − u): L = ρ, N = −ρu² (no derivatives); exact u = h e^{ρt}/(h e^{ρt} + 1 − h)
    rho, n = 5.0, 32
    x = periodic_grid(0.0, 2 * np.pi, n)
    h = np.exp(-((x - np.pi) ** 2) / (2 * (np.pi / 4) ** 2))
    exact = h * np.exp(rho) / (h * np.exp(rho) + 1 - h)
    errs = []
    for dt in (0.05, 0.025):
        s = solve(h[None], np.full((1, n), rho), lambda u, t: u**2, -rho, dt=dt, t_final=1.0, n_save=2,
                  space_dims=1, dealias=False)
        errs.append(np.abs(s.u[-1, 0] - exact).max())
    assert errs[1] < 1e-5
    assert errs[0] / errs[1] > 12.0  # fourth order: ratio 16 on halving dt


def test_kdv_soliton():
    n = 256
    x = periodic_grid(-1.0, 1.0, n)
    u0, L, N, mult = kdv.setup(n, u0=lambda y: kdv.soliton(0.0, y, 0.5, -0.3))
    s = solve(u0, L, N, mult, dt=2.5e-4, t_final=0.5, n_save=2, space_dims=1)
    assert np.abs(s.u[-1, 0] - kdv.soliton(0.5, x, 0.5, -0.3)).max() < 1e-7  # measured 6e-10


# --------------------------------------------------------------------------- conservation laws
def test_kdv_conserves_mass_and_energy():
    u0, L, N, mult = kdv.setup(256)
    s = solve(u0, L, N, mult, dt=2.5e-4, t_final=1.0, n_save=11, space_dims=1)
    mass = s.u[:, 0].mean(axis=1)
    energy = (s.u[:, 0] ** 2).mean(axis=1)
    assert np.abs(mass - mass[0]).max() < 1e-12
    assert np.abs(energy / energy[0] - 1).max() < 1e-6
    assert np.abs(s.u[-1]).max() > 2.0  # solitons formed (Zabusky–Kruskal): not a trivial run


def test_allen_cahn_energy_decays():
    n, eps = 512, 1e-4
    u0, L, N, mult = allen_cahn.setup(n, eps)
    s = solve(u0, L, N, mult, dt=2e-3, t_final=1.0, n_save=51, space_dims=1)
    k = wavenumbers(n, 2.0)
    u_x = np.fft.ifft(1j * k * np.fft.fft(s.u[:, 0], axis=-1), axis=-1).real
    energy = (0.5 * eps * u_x**2 + 1.25 * (s.u[:, 0] ** 2 - 1) ** 2).mean(axis=1) * 2.0
    assert np.all(np.diff(energy) <= 1e-10 * energy[0])
    assert energy[-1] < 0.5 * energy[0]


# --------------------------------------------------------------------------- self-convergence
CASES = {
    # name: (setup(n), space dims, real, t_final, n, dt, tolerance on dt-halving, on n-doubling)
    # measured: AC 2e-9 / 5e-5, KdV 3e-7 / 3e-7, KS 2e-5 / 3e-7, GS 8e-4 / 2e-3, GL 5e-5 / 8e-3
    "allen-cahn": (lambda n: allen_cahn.setup(n, 1e-4), 1, True, 1.0, 512, 4e-3, 1e-7, 3e-4),
    "kdv": (kdv.setup, 1, True, 1.0, 256, 5e-4, 2e-6, 2e-6),
    "ks": (ks.setup, 1, True, 0.5, 256, 1e-3, 1e-4, 2e-6),
    "gray-scott": (gray_scott.setup, 2, True, 0.5, 64, 4e-3, 4e-3, 1e-2),
    "ginzburg-landau": (ginzburg_landau.setup, 2, False, 0.5, 64, 1e-2, 3e-4, 3e-2),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_self_convergence(name):
    setup, dims, real, T, n, dt, tol_dt, tol_n = CASES[name]

    def run(n_, dt_):
        u0, L, N, mult = setup(n_)
        return solve(u0, L, N, mult, dt=dt_, t_final=T, n_save=2, space_dims=dims, real=real).u[-1]

    base = run(n, dt)
    half_dt = run(n, dt / 2)
    double_n = run(2 * n, dt)[(slice(None),) + (slice(None, None, 2),) * dims]
    e_dt, e_n = rel(base, half_dt), rel(base, double_n)
    assert e_dt < tol_dt, f"{name}: halving dt changed the solution by {e_dt:.2e}"
    assert e_n < tol_n, f"{name}: doubling n changed the solution by {e_n:.2e}"


# --------------------------------------------------------------------------- Cole–Hopf vs spectral
def test_cole_hopf_matches_spectral_burgers_away_from_shock():
    nu, n = 0.01 / np.pi, 2048
    x = periodic_grid(-1.0, 1.0, n)
    k = wavenumbers(n, 2.0)
    s = solve(-np.sin(np.pi * x)[None], (-nu * k**2)[None], lambda u, t: u**2, -0.5j * k[None], dt=2.5e-4,
              t_final=1.0, n_save=5, space_dims=1)
    away = np.abs(x) > 0.1
    for i, t in enumerate(s.times[1:], start=1):
        ch = burgers_sine(x[away], t, nu)
        assert np.abs(ch - s.u[i, 0, away]).max() < 1e-4, f"t = {t}"


@pytest.mark.parametrize("nu", [0.01 / np.pi, 0.001 / np.pi])
def test_cole_hopf_quadrature_converged(nu):
    t, x = np.meshgrid(np.linspace(0.0, 1.0, 11), np.linspace(-1.0, 1.0, 65), indexing="ij")
    a = burgers_sine(x, t, nu)
    b = burgers_sine(x, t, nu, n_nodes=4801)
    assert np.abs(a - b).max() < 1e-10
    assert np.abs(a).max() <= 1.0 + 1e-12

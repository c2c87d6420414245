"""The first slice's references are right: Cole–Hopf Burgers, exact wave and Poisson solutions."""
from __future__ import annotations

import numpy as np
import pytest

from pinnarena import problems
from pinnarena.problems.solvers.cole_hopf import burgers_sine

NU = 0.01 / np.pi


def test_cole_hopf_matches_published_maximum_slope():
    """Basdevant et al. (Computers & Fluids 14, 1986): max |u_x| = 152.00516 at x = 0, t = 1.6037/π."""
    t0, h = 1.6037 / np.pi, 1e-5
    slope = (burgers_sine(h, t0, NU) - burgers_sine(-h, t0, NU)) / (2 * h)
    assert abs(-slope - 152.00516) / 152.00516 < 2e-6


def test_cole_hopf_satisfies_burgers_away_from_the_front():
    """Centred finite differences of the quadrature solution make the PDE residual vanish."""
    x = np.linspace(-0.9, -0.2, 15)[:, None]
    t = np.linspace(0.1, 0.9, 9)[None, :]
    h, k = 1e-3, 1e-4
    u = burgers_sine(x, t, NU)
    u_x = (burgers_sine(x + h, t, NU) - burgers_sine(x - h, t, NU)) / (2 * h)
    u_xx = (burgers_sine(x + h, t, NU) - 2 * u + burgers_sine(x - h, t, NU)) / h**2
    u_t = (burgers_sine(x, t + k, NU) - burgers_sine(x, t - k, NU)) / (2 * k)
    residual = u_t + u * u_x - NU * u_xx
    assert np.max(np.abs(residual)) < 1e-4


def test_cole_hopf_initial_and_boundary_values_and_symmetry():
    x = np.linspace(-1, 1, 41)
    assert np.allclose(burgers_sine(x, 0.0, NU), -np.sin(np.pi * x), atol=1e-14)
    assert np.allclose(burgers_sine(np.array([-1.0, 1.0]), 0.7, NU), 0.0, atol=1e-10)
    t = 0.6
    assert np.allclose(burgers_sine(x, t, NU), -burgers_sine(-x, t, NU), atol=1e-10)


def test_cole_hopf_quadrature_is_converged():
    x = np.linspace(-1, 1, 64)
    t = np.full_like(x, 0.8)
    coarse = burgers_sine(x, t, NU, n_nodes=1201)
    fine = burgers_sine(x, t, NU, n_nodes=6001)
    assert np.max(np.abs(coarse - fine)) < 1e-12


def test_burgers_reference_grid():
    ref = problems.get("burgers").reference()
    assert ref.points.shape == (101 * 256, 2) and ref.values.shape == (101 * 256, 1)
    assert np.all(np.isfinite(ref.values))
    assert ref.points[:, 0].min() == 0.0 and ref.points[:, 0].max() == 1.0
    assert abs(ref.values).max() <= 1.0 + 1e-12


@pytest.mark.parametrize("name", ["wave", "poisson-2d-k1"])
def test_analytic_references_satisfy_their_pdes(name):
    """Second differences of the analytic reference fields satisfy the PDE on the grid."""
    p = problems.get(name)
    ref = p.reference()
    shape = (101, 101)
    u = ref.values[:, 0].reshape(shape)
    h = 1.0 / 100
    u_aa = (u[2:, 1:-1] - 2 * u[1:-1, 1:-1] + u[:-2, 1:-1]) / h**2
    u_bb = (u[1:-1, 2:] - 2 * u[1:-1, 1:-1] + u[1:-1, :-2]) / h**2
    if name == "wave":  # inputs (t, x): u_tt - 4 u_xx = 0
        res, scale = u_aa - 4.0 * u_bb, np.abs(u_aa).max()
    else:  # -Δu = 2π² u
        res, scale = u_aa + u_bb + 2 * np.pi**2 * u[1:-1, 1:-1], np.abs(u_aa).max()
    assert np.max(np.abs(res)) / scale < 5e-3  # O(h²) truncation of the difference scheme


def test_cole_hopf_for_nu_0_01_converges_and_solves_the_pde():
    """burgers-nu0.01 (the DSGNAR case): quadrature converged and the PDE satisfied."""
    nu = 0.01
    x = np.linspace(-0.9, 0.9, 41)
    for t in (0.2, 0.6, 1.0):
        coarse, fine = burgers_sine(x, t, nu), burgers_sine(x, t, nu, n_nodes=4801)
        assert np.max(np.abs(coarse - fine)) < 1e-12
    t, h, k = 0.5, 1e-4, 1e-4
    u = burgers_sine(x, t, nu)
    u_x = (burgers_sine(x + h, t, nu) - burgers_sine(x - h, t, nu)) / (2 * h)
    u_xx = (burgers_sine(x + h, t, nu) - 2 * u + burgers_sine(x - h, t, nu)) / h**2
    u_t = (burgers_sine(x, t + k, nu) - burgers_sine(x, t - k, nu)) / (2 * k)
    assert np.max(np.abs(u_t + u * u_x - nu * u_xx)) < 1e-4

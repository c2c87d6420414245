"""Independent checks of the ETDRK4 Allen–Cahn and KdV references (issue 18 §2).

The references come from ``problems/solvers/etdrk4.py`` (fixed-step exponential RK4, FFT, 2/3
dealiasing). Here they are compared, at the reference's own evaluation points
(``Reference.points``), with ``problems/solvers/mol.py``: Fourier collocation through Trefethen's
differentiation matrices, no dealiasing, a finer or equal grid, and an adaptive integrator from
``scipy.integrate.solve_ivp`` (Radau IIA with the exact Jacobian for the stiff dispersive KdV;
Dormand–Prince DOP853 for Allen–Cahn, whose diffusive stiffness is moderate and which needs a
very fine grid, see below). Differences are max |Δu| / max |u| unless said otherwise.

The default run checks the ``smoke`` tier (~15 s on the 2-core CPU); the ``standard`` tier, the
one CPU runs use, is checked under ``@pytest.mark.slow`` (~2 min on an idle 2-core CPU, 3.5 min loaded): ``pytest -n 0 -m slow
tests/test_reference_crosscheck.py``. The measured numbers are recorded as constants in the
provenance of the references (``CROSS_CHECK`` in problems/allen_cahn.py and problems/kdv.py).

Allen–Cahn's u0 = x² cos(πx) has u = −1 but u_x = ∓2 at x = ±1: the periodic extension has a
kink (a jump of 4 in u_x) that diffusion smooths over a width √(εt) ≈ 1e-3 at t = 0.01. No
Fourier method resolves it at early times with 1024 modes; its error converges only
algebraically (≈ n⁻², measured below) and decays afterwards at the reaction rate (≈ e^{−10t}).
The tolerances therefore separate the region |x| ≥ 0.9 at early times from the rest.
"""
from __future__ import annotations

import numpy as np
import pytest

from pinnarena import problems
from pinnarena.problems import allen_cahn, kdv
from pinnarena.problems.solvers import mol
from pinnarena.references import build


def _reference(name: str, tier: str):
    p = problems.get(name)
    return build(p, tier)  # always built (never a cached file on disk)


def _at_points(sol: mol.Solution, points: np.ndarray, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    """The MOL snapshots at the reference points (t, x): every point must be a stored time and a
    grid node of the (finer) MOL grid — checked, so no interpolation error enters."""
    t, x = points[:, 0], points[:, 1]
    it = np.rint(np.interp(t, sol.times, np.arange(len(sol.times)))).astype(int)
    n = sol.u.shape[1]
    ix = np.rint((x - lo) / (hi - lo) * n).astype(int) % n
    assert np.abs(sol.times[it] - t).max() < 1e-12
    assert np.abs(mol.grid(lo, hi, n)[ix] - x).max() < 1e-12
    return sol.u[it, ix]


def _solve(name: str, tier: str, n: int, method: str, rtol: float):
    tiers = allen_cahn.TIERS if name.startswith("allen") else kdv.TIERS
    times = np.linspace(0.0, 1.0, tiers[tier]["n_save"])
    system, u0 = mol.allen_cahn(n, 1e-4) if name.startswith("allen") else mol.kdv(n, kdv.DELTA)
    return mol.integrate(system, u0, times, method=method, rtol=rtol, atol=rtol * 1e-2)


def _diff(ref, sol):
    u = ref.values[:, 0]
    d = np.abs(_at_points(sol, ref.points) - u)
    return d, np.abs(u).max(), np.linalg.norm(d) / np.linalg.norm(u)


# --------------------------------------------------------------------------- the second solver itself
def test_differentiation_matrices():
    n, length = 48, 2.0
    x = mol.grid(-1.0, 1.0, n)
    v = np.exp(np.sin(np.pi * x))
    d1, d2 = mol.differentiation_matrices(n, length)
    exact1 = np.pi * np.cos(np.pi * x) * v
    exact2 = (np.pi**2 * np.cos(np.pi * x) ** 2 - np.pi**2 * np.sin(np.pi * x)) * v
    assert np.abs(d1 @ v - exact1).max() < 1e-10 and np.abs(d2 @ v - exact2).max() < 1e-9  # spectral accuracy
    w = np.random.default_rng(0).normal(size=n)  # rough data: matrices and FFT multipliers agree exactly
    for m, dm in ((1, d1), (2, d2), (3, d1 @ d2), (4, d2 @ d2)):
        assert np.abs(dm @ w - mol.fourier_derivative(w, length, m)).max() < 1e-10 * np.abs(dm @ w).max()


def test_jacobian_matches_finite_differences():
    rng = np.random.default_rng(1)
    for system, u0 in (mol.allen_cahn(32, 1e-4), mol.kdv(32, 0.022)):
        dv, e = rng.normal(size=32), 1e-6
        fd = (system.rhs(0.0, u0 + e * dv) - system.rhs(0.0, u0 - e * dv)) / (2 * e)
        jv = system.jacobian()(0.0, u0) @ dv
        assert np.abs(fd - jv).max() < 1e-6 * np.abs(jv).max()


def test_radau_mol_reproduces_kdv_soliton():
    # u = 3c sech²(√c (x − ct − x0)/(2δ)) is exact on the line; on [−1, 1) its tails are e^{−2·0.7/0.044} ≈ 1e-14
    c, x0 = 0.5, -0.3
    system, u0 = mol.kdv(256, kdv.DELTA, u0=lambda y: kdv.soliton(0.0, y, c, x0))
    sol = mol.integrate(system, u0, [0.0, 0.25, 0.5], method="Radau", rtol=1e-10, atol=1e-12)
    exact = kdv.soliton(0.5, mol.grid(-1.0, 1.0, 256), c, x0)
    assert np.abs(sol.u[-1] - exact).max() < 1e-8  # measured 2.4e-10 (max |u| = 1.5)


# --------------------------------------------------------------------------- smoke tier (default run)
def test_kdv_smoke_reference_crosscheck():
    ref = _reference("kdv", "smoke")  # ETDRK4 n = 256, dt = 2.5e-4
    sol = _solve("kdv", "smoke", 512, "Radau", 1e-10)
    d, umax, rel_l2 = _diff(ref, sol)
    # Measured: max |Δu| = 2.2e-6 (8.5e-7 of max |u| = 2.6), rel L2 3.5e-7. The Radau solution is
    # converged far below that: at n = 256 it agrees with n = 512 to 1e-11, and rtol 1e-10 bounds
    # its time error near 1e-9 (the standard-tier check below agrees with ETDRK4 to 7e-11). So the
    # difference is the smoke reference's own error (its dt = 2.5e-4). 5e-6 leaves a 6× margin
    # and is 20× below the smallest PINN error the benchmark reports for KdV (~1e-4).
    assert d.max() <= 5e-6 * umax
    assert rel_l2 <= 2e-6
    assert ref.provenance["cross_check"].startswith("cross-checked") and "2.2e-6" in ref.provenance["cross_check"]


def test_allen_cahn_smoke_reference_crosscheck():
    ref = _reference("allen-cahn", "smoke")  # ETDRK4 n = 512, dt = 2e-3
    fine = _solve("allen-cahn", "smoke", 4096, "DOP853", 1e-11)
    coarse = _solve("allen-cahn", "smoke", 2048, "DOP853", 1e-11)
    d, umax, rel_l2 = _diff(ref, fine)
    x, t = ref.points[:, 1], ref.points[:, 0]
    # The check solution's own error: n = 2048 vs 4096 differ by 4e-5 (measured), at the kink.
    assert np.abs(_at_points(fine, ref.points) - _at_points(coarse, ref.points)).max() <= 1e-4
    # Measured: max 9.3e-4 (at x = ±1, t = 0.02: the unresolved kink of u0), 2.8e-4 for |x| < 0.9
    # (the interfaces at t = 1: the smoke tier keeps only 341 modes after dealiasing and takes
    # dt = 2e-3), rel L2 2.1e-5 — consistent with the tier's self-convergence estimate (7.6e-4
    # rel L2 against n = 256, an upper bound). Tolerances 2× the measured values: the smoke tier
    # scores only smoke runs, whose PINN errors are ≥ 1e-2.
    assert d.max() <= 2e-3 * umax
    assert d[np.abs(x) < 0.9].max() <= 6e-4 * umax
    assert rel_l2 <= 5e-5
    assert t.max() == 1.0
    assert ref.provenance["cross_check"].startswith("cross-checked") and "9.3e-4" in ref.provenance["cross_check"]
    assert _reference("allen-cahn-eps1e-3", "smoke").provenance["cross_check"] == "not cross-checked"


# --------------------------------------------------------------------------- standard tier (CPU runs)
@pytest.mark.slow
def test_kdv_standard_reference_crosscheck():
    ref = _reference("kdv", "standard")  # ETDRK4 n = 512, dt = 5e-5
    sol = _solve("kdv", "standard", 512, "Radau", 1e-10)  # ~15 s on one core
    d, umax, rel_l2 = _diff(ref, sol)
    # Measured: max |Δu| = 6.9e-11 (2.6e-11 of max |u|), rel L2 1.1e-11; with Radau rtol 1e-12
    # the difference is the same (7.0e-11), and the two Radau runs differ by 2e-12. ETDRK4 keeps
    # 341 of the 512 modes (2/3 rule) and the MOL keeps all 512 without dealiasing, so agreement at
    # 1e-10 also shows the spectrum above mode 170 carries < 1e-10. The tolerance 1e-9 of max |u|
    # is ~40× the measured value and still far below anything a PINN could resolve.
    assert d.max() <= 1e-9 * umax
    assert rel_l2 <= 1e-9


@pytest.mark.slow
def test_allen_cahn_standard_reference_crosscheck():
    ref = _reference("allen-cahn", "standard")  # ETDRK4 n = 1024, dt = 5e-4
    fine = _solve("allen-cahn", "standard", 8192, "DOP853", 1e-11)  # ~30 s
    half = _solve("allen-cahn", "standard", 4096, "DOP853", 1e-11)
    d, umax, rel_l2 = _diff(ref, fine)
    x, t = ref.points[:, 1], ref.points[:, 0]
    # Check solution's own error: n = 4096 vs 8192 differ by 2.3e-5 at the kink (measured; 9.6e-5
    # for 2048 vs 4096, 5.7e-6 for 8192 vs 16384: second-order convergence, so the n = 8192
    # solution is within ~8e-6 of the PDE solution, 50× below the difference tested next).
    assert np.abs(_at_points(fine, ref.points) - _at_points(half, ref.points)).max() <= 1e-4
    # Measured against n = 8192: max 4.6e-4 at x = ±1, t = 0.005 (the kink; 4.2e-5 at t = 0.1,
    # 1.1e-5 at t = 0.2), ≤ 6.7e-7 for |x| < 0.9 at all times, ≤ 3.5e-7 for t ≥ 0.5 everywhere
    # (1.1e-7 on the interfaces at t = 1), rel L2 3.7e-6. Tolerances: ~2× the kink-dominated
    # figures, and 5e-6 — an order of magnitude below the best PINN error the paper reports for
    # Allen–Cahn (~3.5e-6 rel L2 is *comparable* to this reference's own 3.7e-6: see provenance)
    # — away from the kink.
    assert d.max() <= 1e-3 * umax
    assert d[np.abs(x) < 0.9].max() <= 5e-6 * umax
    assert d[t >= 0.5].max() <= 5e-6 * umax
    assert rel_l2 <= 1e-5


@pytest.mark.slow
def test_allen_cahn_standard_same_grid_radau():
    # Same grid as the reference (n = 1024, no dealiasing), Radau IIA instead of ETDRK4: isolates
    # the time integration (both share the resolution-limited kink error above).
    ref = _reference("allen-cahn", "standard")
    sol = _solve("allen-cahn", "standard", 1024, "Radau", 1e-10)  # ~35 s on one core
    d, umax, _ = _diff(ref, sol)
    t = ref.points[:, 0]
    # Measured: max 2.2e-5 (x = −1, t = 0.005: aliasing of the kink differs with and without the
    # 2/3 rule), ≤ 1.1e-7 for t ≥ 0.1. Tolerances ~5× and ~10×.
    assert d.max() <= 1e-4 * umax
    assert d[t >= 0.1].max() <= 1e-6 * umax

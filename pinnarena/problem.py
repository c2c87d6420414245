r"""The problem API: what a PDE configuration declares so that one training loop can serve all.

A :class:`Problem` is data plus pure functions:

* ``input_names`` / ``output_names`` and a ``domain`` box (lower and upper bound of each input);
* ``terms``: the K named loss terms. Term k owns a sampler ``sample(key, n) -> {"x": (n, d), ...}``
  and a pointwise residual ``residual(u, point, theta) -> (r,)`` where ``u`` maps one input point
  of shape (d,) to the outputs (m,), ``point`` is one row of the sampled batch (a dict) and
  ``theta`` the dict of trainable PDE parameters (empty for forward problems). The term's loss is

      L_k = (1/N_k) \sum_j \| residual_k(u, point_j, theta) \|_2^2 ;

* ``reference(tier)``: an object with ``points`` (N × d, columns in ``input_names`` order), ``values``
  (N × m) and a ``provenance`` string/dict;
* metadata: ``family``, ``kind`` ∈ {forward, inverse, multiphysics, highdim, turbulent},
  ``params`` (the PDE parameters), ``time_dependent``, ``description``;
* ``unknowns``: initial values of trainable PDE parameters (inverse problems; scalars or arrays),
  ``true_unknowns`` the true values of the scalar ones; both go into the summary
  (``unknowns``, ``unknowns_error``), and ``unknowns_metrics`` may add derived quantities;
* ``eval_sets`` (optional): extra evaluation sets derived from the reference (e.g. published
  benchmark values at a few points), ``eval_sets(reference) -> {name: EvalSet}``; the summary
  column ``rel_l2_sets`` holds the trained network's relative L2 error on each.

Solver references verify themselves while they are built: :func:`verify` compares measured
quantities (self-convergence, agreement with published data, conservation) with documented
tolerances, raises :class:`VerificationError` when one fails, and returns the record stored in the
reference's provenance under ``"verification"``.

All randomness (collocation points, data noise) comes from the key the training loop passes in,
which is derived from the run seed.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

KINDS = ("forward", "inverse", "multiphysics", "highdim", "turbulent")
ROLES = ("residual", "boundary", "initial", "data")

Sampler = Callable[[jax.Array, int], dict]
Residual = Callable[[Callable, Mapping[str, jax.Array], Mapping[str, jax.Array]], jax.Array]


@dataclass(frozen=True)
class Term:
    """One loss term: where it is sampled and what must vanish there.

    ``n`` is the default number of points; ``resample`` says whether the training loop may draw
    fresh points during training (data terms keep theirs). ``role`` is one of ``residual``
    (a PDE residual in the interior), ``boundary``, ``initial`` or ``data``; when omitted it is
    inferred from the name (names containing bound/periodic/wall → boundary, init → initial,
    data/obs → data, anything else → residual). Causal weighting and adapter evaluation use it.
    """

    name: str
    sample: Sampler
    residual: Residual
    n: int = 1024
    resample: bool = True
    role: str | None = None

    def __post_init__(self):
        if self.role is None:
            n = self.name.lower()
            role = ("boundary" if any(s in n for s in ("bound", "bc", "periodic", "wall")) else
                    "initial" if ("init" in n or n == "ic") else
                    "data" if ("data" in n or "obs" in n) else "residual")
            object.__setattr__(self, "role", role)
        if self.role not in ROLES:
            raise ValueError(f"term {self.name!r}: role {self.role!r} is not one of {ROLES}")


@dataclass(frozen=True)
class Reference:
    """Reference solution: ``values[i]`` is the exact/solver solution at ``points[i]``."""

    points: np.ndarray
    values: np.ndarray
    provenance: Any = "analytic"

    def __post_init__(self):
        if self.points.ndim != 2 or self.values.ndim != 2 or len(self.points) != len(self.values):
            raise ValueError(
                f"reference points must be N x d and values N x m, got {self.points.shape} "
                f"and {self.values.shape}"
            )


class EvalSet(NamedTuple):
    """An extra evaluation set: at ``points[i]`` (k × d) output ``output[i]`` should be ``values[i]``.

    The error reported for it is ‖pred[i, output[i]] − values[i]‖₂ / ‖values‖₂ over the k points.
    """

    points: np.ndarray
    output: np.ndarray
    values: np.ndarray


class VerificationError(ValueError):
    """A reference failed a verification check while being built (the reference is not written)."""


def verify(checks: Mapping[str, tuple], what: str = "reference") -> dict[str, dict]:
    """Check measured quantities against tolerances; the record for ``provenance["verification"]``.

    ``checks`` maps a check name to ``(value, tolerance)`` (passes when ``value <= tolerance``) or
    ``(value, tolerance, enforced)``. ``value`` ``None`` means the quantity could not be computed:
    an enforced check then fails, one that is not enforced is recorded with ``passed: None`` and the
    reason (``value`` may also be a string giving it). A check that is not enforced but was measured
    is recorded with its outcome and ``"enforced": False``. Every enforced check that fails is named
    with its value and tolerance in one :class:`VerificationError`.
    """
    record, failed = {}, []
    for name, spec in checks.items():
        value, tol, enforced = (tuple(spec) + (True,))[:3]
        if value is None or isinstance(value, str):
            entry = {"value": None, "tolerance": float(tol), "passed": None,
                     "note": value or "could not be computed"}
            if enforced:
                failed.append(f"{name}: not computed ({entry['note']}); tolerance {tol:.3g}")
                entry["passed"] = False
        else:
            v = float(value)
            ok = bool(np.isfinite(v) and v <= tol)
            entry = {"value": v, "tolerance": float(tol), "passed": ok}
            if not enforced:
                entry["enforced"] = False
            elif not ok:
                failed.append(f"{name} = {v:.4g} exceeds tolerance {tol:.3g}")
        record[name] = entry
    if failed:
        raise VerificationError(f"{what} failed verification: " + "; ".join(failed))
    return record


@dataclass(frozen=True, eq=False)
class Problem:
    name: str
    family: str
    kind: str
    description: str
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    domain: tuple[tuple[float, ...], tuple[float, ...]]
    terms: tuple[Term, ...]
    reference_fn: Callable[[], Reference]
    params: Mapping[str, Any] = field(default_factory=dict)
    time_dependent: bool = False
    unknowns: Mapping[str, float] = field(default_factory=dict)
    true_unknowns: Mapping[str, float] = field(default_factory=dict)
    reference_kind: str = "analytic"
    # Optional: trainable-PDE-parameter pytree → {name: value} of recovered quantities and their
    # errors, for unknowns that are not scalars (e.g. a coefficient field). Scalars are reported
    # automatically against ``true_unknowns``.
    unknowns_metrics: Callable[[Mapping[str, Any]], Mapping[str, float]] | None = None
    # Optional: extra evaluation sets derived from the reference (e.g. published benchmark values),
    # reference → {name: EvalSet}; the summary reports the relative L2 error on each (rel_l2_sets).
    eval_sets: Callable[[Reference], Mapping[str, EvalSet]] | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"problem {self.name!r}: kind {self.kind!r} is not one of {KINDS}")
        lo, hi = self.domain
        if len(lo) != len(self.input_names) or len(hi) != len(self.input_names):
            raise ValueError(f"problem {self.name!r}: domain bounds do not match input_names")
        names = [t.name for t in self.terms]
        if len(set(names)) != len(names):
            raise ValueError(f"problem {self.name!r}: duplicate loss term names {names}")

    # ------------------------------------------------------------------ metadata
    @property
    def input_dim(self) -> int:
        return len(self.input_names)

    @property
    def output_dim(self) -> int:
        return len(self.output_names)

    @property
    def loss_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.terms)

    @property
    def n_losses(self) -> int:
        return len(self.terms)

    def metadata(self) -> dict[str, Any]:
        """The JSON-serialisable description printed by ``pinnarena list problems --json``."""
        return {
            "name": self.name,
            "family": self.family,
            "kind": self.kind,
            "n_losses": self.n_losses,
            "loss_names": list(self.loss_names),
            "loss_roles": [t.role for t in self.terms],
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "input_names": list(self.input_names),
            "output_names": list(self.output_names),
            "params": {k: _jsonable(v) for k, v in self.params.items()},
            "time_dependent": self.time_dependent,
            "unknowns": sorted(self.unknowns),
            "reference": self.reference_kind,
            "description": self.description,
        }

    # ------------------------------------------------------------------ data
    def reference(self, tier: str = "standard") -> Reference:
        """The reference at a resolution tier (see pinnarena.references), cached per process."""
        return _cached_reference(self, tier)

    def sample(self, key: jax.Array, sizes: Mapping[str, int] | None = None) -> dict[str, dict]:
        """Draw every term's points; term k uses ``fold_in(key, k)`` so terms are independent."""
        sizes = dict(sizes or {})
        unknown = set(sizes) - set(self.loss_names)
        if unknown:
            raise ValueError(
                f"batch sizes given for unknown loss terms {sorted(unknown)} of problem "
                f"{self.name!r}; its terms are {list(self.loss_names)}"
            )
        return {
            t.name: t.sample(jax.random.fold_in(key, k), int(sizes.get(t.name, t.n)))
            for k, t in enumerate(self.terms)
        }

    def with_overrides(self, **changes) -> "Problem":
        return dataclasses.replace(self, **changes)


@functools.lru_cache(maxsize=64)
def _cached_reference(problem: Problem, tier: str) -> Reference:
    """Load or build each problem's reference once per process (problems hash by identity)."""
    from pinnarena.references import load_or_build

    return load_or_build(problem, tier)


def _jsonable(v):
    if isinstance(v, (np.generic,)):
        return v.item()
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    return v


# ---------------------------------------------------------------------- samplers
def _bounds(lo, hi):
    """The box bounds in the precision of the run: ``lo``/``hi`` are kept in float64 (NumPy) and
    cast when a sampler is traced, so a problem built before ``jax_enable_x64`` was switched on
    (e.g. by a config check) still samples float64 points in a float64 run, and a period such as
    2π is not rounded to float32."""
    dt = jnp.result_type(float)
    return jnp.asarray(lo, dt), jnp.asarray(hi, dt)


def uniform_box(lo, hi) -> Sampler:
    """Uniform samples in the box [lo, hi] (one bound per input)."""
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)

    def sample(key, n):
        lo_, hi_ = _bounds(lo, hi)
        u = jax.random.uniform(key, (n, lo.shape[0]), dtype=lo_.dtype)
        return {"x": lo_ + (hi_ - lo_) * u}

    return sample


def box_faces(lo, hi, dims=None) -> Sampler:
    """Uniform samples on the faces x_i = lo_i and x_i = hi_i for each i in ``dims``.

    Points are spread over the 2·len(dims) faces in equal shares (the face is chosen uniformly at
    random per point), which is what a Dirichlet condition on a box needs.
    """
    lo0 = np.asarray(lo, dtype=np.float64)
    hi0 = np.asarray(hi, dtype=np.float64)
    d = lo0.shape[0]
    dims = tuple(range(d)) if dims is None else tuple(dims)
    dims_arr = np.asarray(dims)

    def sample(key, n):
        lo, hi = _bounds(lo0, hi0)
        k1, k2, k3 = jax.random.split(key, 3)
        x = lo + (hi - lo) * jax.random.uniform(k1, (n, d), dtype=lo.dtype)
        face_dim = jnp.asarray(dims_arr)[jax.random.randint(k2, (n,), 0, len(dims))]
        upper = jax.random.bernoulli(k3, 0.5, (n,))
        value = jnp.where(upper, hi[face_dim], lo[face_dim])
        onehot = jax.nn.one_hot(face_dim, d, dtype=bool)
        return {"x": jnp.where(onehot, value[:, None], x)}

    return sample


def slice_at(lo, hi, dim: int, value: float) -> Sampler:
    """Uniform samples in the box with input ``dim`` fixed to ``value`` (e.g. t = 0)."""
    box = uniform_box(lo, hi)

    def sample(key, n):
        x = box(key, n)["x"]
        return {"x": x.at[:, dim].set(value)}

    return sample


def grid(lo, hi, shape) -> np.ndarray:
    """Tensor-product grid of the box, flattened to (prod(shape), d), first input slowest."""
    axes = [np.linspace(a, b, s) for a, b, s in zip(lo, hi, shape)]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=-1)

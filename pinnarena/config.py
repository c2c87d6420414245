"""Run configuration: defaults, ``--set key=value`` overrides, validation, and the run id.

A run is fully described by a :class:`RunConfig`. Overrides use dotted keys:

* top-level fields: ``steps``, ``eval_every``, ``resample_every``, ``max_seconds`` (a limit:
  exceeding it is status ``timeout``), ``time_budget`` (a budget: the run ends there with status
  ``ok``; ``time_budget_clock`` ``wall`` or ``cpu``), ``eval_seconds`` (evaluate at least this
  often in train seconds), ``validation_fraction`` (reference points held out from the test
  error, for model selection: see ``pinnarena.training.split_reference``),
  ``points_scale`` (multiplies every term's default number of points), ``reference_tier``,
  ``checkpoint_every`` (evaluations between checkpoints), ``stationary`` and
  ``stationary_dense_max`` (stationary-point classification of the final state),
  ``precision`` (float32|float64), ``matmul_precision`` (default|high|highest), ``lr``;
* ``model.<field>`` (see :class:`pinnarena.models.ModelConfig`);
* ``batch.<term>``: number of points of a loss term;
* ``opt.<hparam>``: keyword arguments of the optimizer factory;
* ``remedy.<hparam>``: keyword arguments of the remedy factory;
* ``schedule.<field>``: learning-rate warm-up and exponential decay (``warmup_steps``,
  ``decay_steps``, ``decay_rate``; off while ``decay_rate`` = 1 and ``warmup_steps`` = 0).

Everything is validated by :func:`resolve` before anything is compiled, and unknown keys fail
with the list of accepted ones.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

import yaml

from pinnarena.models import ModelConfig
from pinnarena.registry import unknown_name_message

PRECISIONS = ("float32", "float64")
MATMUL_PRECISIONS = ("default", "high", "highest")
CLOCKS = ("wall", "cpu")


@dataclass(frozen=True)
class ScheduleConfig:
    """Linear warm-up to the peak learning rate, then lr · decay_rate^(step / decay_steps)."""

    warmup_steps: int = 0
    decay_steps: int = 1000
    decay_rate: float = 1.0

    @property
    def active(self) -> bool:
        return self.warmup_steps > 0 or self.decay_rate != 1.0


@dataclass(frozen=True)
class RunConfig:
    problem: str
    optimizer: str = "adam"
    remedy: str = "none"
    seed: int = 0
    steps: int = 1000
    eval_every: int = 100
    resample_every: int = 0  # 0: fixed collocation points
    max_seconds: float | None = None  # train-time limit; exceeded → status "timeout" (a failure)
    time_budget: float | None = None  # train-time budget: the run ends there normally (status ok)
    time_budget_clock: str = "wall"  # wall: train seconds; cpu: the process's CPU seconds in training
    eval_seconds: float | None = None  # also evaluate at least every this many train seconds
    validation_fraction: float = 0.0  # share of the reference points held out for selection
    precision: str = "float32"
    matmul_precision: str = "default"
    lr: float | None = None  # shorthand for opt.learning_rate
    points_scale: float = 1.0  # scales every loss term's default point count (batch.<term> wins)
    reference_tier: str = "standard"  # resolution tier of solver references (smoke|standard|paper)
    checkpoint_every: int = 10  # evaluations between checkpoints (when a checkpoint dir is given)
    stationary: bool = True  # classify the final point (gradient norm, Hessian extremes, label)
    stationary_dense_max: int = 3000  # dense Hessian up to this many parameters, Lanczos above
    suite: str = "adhoc"
    study: str = "adhoc"
    model: ModelConfig = field(default_factory=ModelConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    batch: Mapping[str, int] = field(default_factory=dict)
    opt: Mapping[str, Any] = field(default_factory=dict)
    remedy_hp: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["batch"] = dict(sorted(self.batch.items()))
        d["opt"] = dict(sorted(self.opt.items()))
        d["remedy_hp"] = dict(sorted(self.remedy_hp.items()))
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, default=str)

    @classmethod
    def from_json(cls, text: str) -> "RunConfig":
        """The config a summary row records (``config`` column), exactly (same ``run_id``)."""
        d = json.loads(text)
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - fields)
        if unknown:
            raise ValueError(f"config JSON has fields this pinnarena does not know: {unknown} "
                             "(recorded by a newer version?)")
        d["model"] = ModelConfig(**d.get("model", {}))
        d["schedule"] = ScheduleConfig(**d.get("schedule", {}))
        return cls(**d)

    @property
    def run_id(self) -> str:
        """Hash of the full resolved configuration (suite and study included)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]


_TOP = {f.name for f in dataclasses.fields(RunConfig)} - {"model", "schedule", "batch", "opt", "remedy_hp"}
_SECTIONS = ("model", "batch", "opt", "remedy", "schedule")


def parse_value(text: str) -> Any:
    """YAML scalar parsing: ``3`` → int, ``1e-3`` → float, ``true`` → bool, else string."""
    try:
        v = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ValueError(f"cannot parse value {text!r}: {e}") from None
    if isinstance(v, str):
        try:
            return float(v)  # YAML 1.1 leaves "1e-3" a string
        except ValueError:
            return v
    return v


def parse_sets(items: list[str] | None) -> dict[str, Any]:
    """Parse ``["key=value", ...]`` into a dict, failing on malformed items."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"--set expects key=value, got {item!r}")
        key, text = item.split("=", 1)
        key = key.strip()
        if not key:
            raise ValueError(f"--set expects key=value with a non-empty key, got {item!r}")
        out[key] = parse_value(text)
    return out


def _coerce(name: str, value: Any, annotation: Any, default: Any) -> Any:
    if value is None and "None" in str(annotation):  # an optional setting switched off (e.g. time_budget=null)
        return None
    kind = type(default) if default is not None else None
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value
    if kind is int:
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        return int(value)
    if kind is float or (default is None and "float" in str(annotation)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name} must be a number, got {value!r}")
        return float(value)
    if kind is str and not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {value!r}")
    return value


def _apply_dataclass(obj, section: str, updates: dict[str, Any]):
    fields = {f.name: f for f in dataclasses.fields(obj)}
    changes = {}
    for k, v in updates.items():
        if k not in fields:
            raise ValueError(unknown_name_message(f"{section} setting", k, fields))
        changes[k] = _coerce(f"{section}.{k}", v, fields[k].type, getattr(obj, k))
    return dataclasses.replace(obj, **changes)


def resolve(problem: str, optimizer: str = "adam", remedy: str = "none", seed: int = 0,
            steps: int | None = None, sets: Mapping[str, Any] | None = None, **top: Any) -> RunConfig:
    """Build and validate a RunConfig; every name and key is checked before compilation."""
    from pinnarena import optimizers, problems, remedies

    prob = problems.get(problem)  # raises with close matches
    optimizers.REGISTRY.factory(optimizer)
    remedies.parts(remedy)  # validates every part of a composed name

    sections: dict[str, dict[str, Any]] = {s: {} for s in _SECTIONS}
    flat: dict[str, Any] = dict(top)
    for key, value in (sets or {}).items():
        head, _, rest = key.partition(".")
        if rest:
            if head not in _SECTIONS:
                raise ValueError(unknown_name_message("setting section", head, _SECTIONS))
            sections[head][rest] = value
        else:
            if key not in _TOP:
                accepted = sorted(_TOP - {"problem", "optimizer", "remedy", "seed"}) + [f"{s}.*" for s in _SECTIONS]
                raise ValueError(unknown_name_message("setting", key, accepted))
            flat[key] = value
    if steps is not None:
        flat["steps"] = steps

    base = RunConfig(problem=problem, optimizer=optimizer, remedy=remedy, seed=int(seed))
    cfg = _apply_dataclass(base, "run", flat)
    cfg = dataclasses.replace(
        cfg,
        model=_apply_dataclass(cfg.model, "model", sections["model"]),
        schedule=_apply_dataclass(cfg.schedule, "schedule", sections["schedule"]),
    )
    cfg.model.validate()

    bad_terms = sorted(set(sections["batch"]) - set(prob.loss_names))
    if bad_terms:
        raise ValueError(
            f"batch sizes given for unknown loss terms {bad_terms} of problem {problem!r}; "
            f"its terms are {list(prob.loss_names)}"
        )
    if cfg.points_scale <= 0:
        raise ValueError(f"points_scale must be > 0, got {cfg.points_scale}")
    batch = {t.name: int(sections["batch"].get(t.name, max(1, round(t.n * cfg.points_scale)))) for t in prob.terms}
    if any(n < 1 for n in batch.values()):
        raise ValueError(f"batch sizes must be ≥ 1, got {batch}")

    opt_hp = dict(sections["opt"])
    if cfg.lr is not None:
        opt_hp.setdefault("learning_rate", cfg.lr)
    optimizers.check_hyperparameters(optimizer, opt_hp)
    remedies.check_hyperparameters(remedy, sections["remedy"])

    if cfg.steps < 1:
        raise ValueError(f"steps must be ≥ 1, got {cfg.steps}")
    if cfg.eval_every < 1:
        raise ValueError(f"eval_every must be ≥ 1, got {cfg.eval_every}")
    if cfg.checkpoint_every < 0:
        raise ValueError(f"checkpoint_every must be ≥ 0, got {cfg.checkpoint_every}")
    if cfg.resample_every < 0:
        raise ValueError(f"resample_every must be ≥ 0, got {cfg.resample_every}")
    for name in ("time_budget", "eval_seconds", "max_seconds"):
        v = getattr(cfg, name)
        if v is not None and not v > 0:
            raise ValueError(f"{name} must be > 0 seconds (or unset), got {v}")
    if cfg.time_budget_clock not in CLOCKS:
        raise ValueError(f"time_budget_clock {cfg.time_budget_clock!r} is not one of {CLOCKS}")
    if not 0.0 <= cfg.validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in [0, 1), got {cfg.validation_fraction}")
    if cfg.precision not in PRECISIONS:
        raise ValueError(f"precision {cfg.precision!r} is not one of {PRECISIONS}")
    from pinnarena.references import TIERS

    if cfg.reference_tier not in TIERS:
        raise ValueError(f"reference_tier {cfg.reference_tier!r} is not one of {TIERS}")
    if cfg.matmul_precision not in MATMUL_PRECISIONS:
        raise ValueError(f"matmul_precision {cfg.matmul_precision!r} is not one of {MATMUL_PRECISIONS}")
    return dataclasses.replace(cfg, batch=batch, opt=opt_hp, remedy_hp=dict(sections["remedy"]))

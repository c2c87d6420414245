r"""The remedy ``auto`` in the loop: profile with remedy ``none``, classify, continue.

Diagnostic-first selection (pinnarena/remedies/auto.py, after the per-loss adapter paper,
arXiv 2605.10136): the first ``profile_steps`` steps train without a remedy, evaluating every
``profile_every`` steps; each seed's conflict regime is classified from its own profile curve
(pinnarena.remedies.auto.classify_regime on the pairwise cosines and gradient-norm ratios,
pinnarena.regime) and mapped to a remedy; the run then continues from the profile's end state
with that remedy (fresh optimizer and remedy states) for the remaining steps and time budget
(``_left``). Curves and clocks of the two phases are concatenated, so the outcome reads as one
run; its ``extra`` records the regime, the choice and the regime statistics.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from pinnarena import remedies
from pinnarena.build import Setup
from pinnarena.config import RunConfig
from pinnarena.step import Carry
from pinnarena.training import Outcome, _train


def train_auto(cfgs: list[RunConfig], log, checkpoint_dir) -> list[Outcome]:
    """Diagnostic-first selection (pinnarena/remedies/auto.py): profile, classify, continue.

    The profile (remedy ``none``) of all seeds runs as one vmapped batch (or is taken from the
    same process's identical run of ``none``, see ``_RECENT``); each seed's regime is
    classified from its own profile, and the seeds that chose the same remedy continue together
    (one vmapped batch per choice, checkpointed in ``checkpoint_dir/auto-<choice>``). The profile
    is deterministic, so a resumed job re-profiles and finds the same groups.
    """
    from pinnarena.regime import row_cosines
    from pinnarena.remedies.auto import choice, classify_regime

    cfg = cfgs[0]
    a = remedies.make(cfg.remedy, **cfg.remedy_hp).auto
    P = min(a["profile_steps"], cfg.steps)
    profs = _train([dataclasses.replace(c, remedy="none", remedy_hp={}, steps=P, eval_every=a["profile_every"])
                    for c in cfgs], log, None, reuse=True)
    picks, extras = [], []
    for c, prof in zip(cfgs, profs):
        series = prof.curves[1:] or prof.curves
        regime, stats = classify_regime([row_cosines(r) for r in series], [r["grad_norm_ratio"] for r in series],
                                        a["conflict_eps"], a["persistent_share"], a["imbalance_ratio"])
        picks.append(choice(regime, a["reweighting"]))
        extras.append({"regime": regime, "auto_choice": picks[-1], **{f"regime_{k}": v for k, v in stats.items()}})
        if log:
            log(f"[{c.problem} auto seed {c.seed}] regime {regime} ({stats}) → {picks[-1]}")
    out: list[Outcome | None] = list(profs)
    groups: dict[str, list[int]] = {}
    for i, (prof, chosen) in enumerate(zip(profs, picks)):
        if P < cfg.steps and prof.status == "ok":
            groups.setdefault(chosen, []).append(i)
    for chosen, idx in groups.items():
        by_seed = {cfgs[i].seed: profs[i] for i in idx}
        hp = {"rank": a["rank"]} if chosen.startswith("adapters") else {}

        def start(setup: Setup, init: Carry, by_seed=by_seed) -> Carry:
            prof = by_seed[setup.cfg.seed]
            p = prof.carry.params
            net = {"trunk": p["net"], "adapters": init.params["net"]["adapters"]} if setup.remedy.adapters else p["net"]
            params = {"net": net, "pde": p["pde"]}
            return prof.carry._replace(params=params, opt_state=setup.optimizer.init(params), rem_state=init.rem_state,
                                       last_update=init.last_update, prev_update=init.prev_update)

        ckpt = None if checkpoint_dir is None else Path(checkpoint_dir) / f"auto-{chosen}"
        conts = _train([dataclasses.replace(cfgs[i], remedy=chosen, remedy_hp=hp, steps=cfg.steps - P,
                                            time_budget=_left(cfg, profs[i])) for i in idx],
                       log, ckpt, start=start, skip_first_eval=True)
        for i, cont in zip(idx, conts):
            prof = profs[i]
            cont.curves = prof.curves + cont.curves
            for r in cont.curves[len(prof.curves):]:
                r["train_seconds"] += prof.train_seconds
                r["train_cpu_seconds"] += prof.train_cpu_seconds
            cont.train_seconds += prof.train_seconds
            cont.train_cpu_seconds += prof.train_cpu_seconds
            cont.eval_seconds += prof.eval_seconds
            cont.compile_seconds += prof.compile_seconds
            cont.setup_seconds += prof.setup_seconds
            out[i] = cont
    for o, extra in zip(out, extras):
        o.extra = extra
    return out


def _left(cfg: RunConfig, used: Outcome) -> float | None:
    """The time budget left after phase ``used`` (auto's profile), on the budget's clock."""
    if cfg.time_budget is None:
        return None
    spent = used.train_seconds if cfg.time_budget_clock == "wall" else used.train_cpu_seconds
    return max(cfg.time_budget - spent, 1e-3)

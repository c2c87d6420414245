# Config validation and the expansion of studies into jobs.
import json

from snakemake.utils import validate


validate(config, "../schemas/config.schema.yaml")

RESULTS = config.get("results", "results")
REPORT = config.get("report", "report")
SUITE = config["suite"]
RUN_DIR = f"{RESULTS}/runs/{{study}}/{{problem}}/{{optimizer}}/{{remedy}}/seed{{seed}}"


def _registry_names(kind):
    from pinnarena import optimizers, problems, remedies

    return {"problems": problems, "optimizers": optimizers, "remedies": remedies}[kind].names()


def _expand_names(study, kind):
    value = study[kind]
    names = _registry_names(kind) if value == "all" else list(value)
    if value == "all":
        names = [n for n in names if n not in study.get("exclude", {}).get(kind, [])]
    known = set(_registry_names(kind))
    if kind == "remedies":  # composed names (adapters+grad-norm) are valid when every part is
        from pinnarena.remedies import parts

        known |= {n for n in names if "+" in n and _valid(parts, n)}
    unknown = sorted(set(names) - known)
    if unknown:
        raise ValueError(f"config: unknown {kind} {unknown}; accepted: {_registry_names(kind)}")
    return names


def _valid(check, name):
    try:
        check(name)
        return True
    except (KeyError, ValueError):
        return False


def _study(name):
    defaults = config.get("defaults", {})
    study = dict(config["studies"][name])
    merged = {**defaults, **study}
    merged["set"] = {**defaults.get("set", {}), **study.get("set", {})}
    return merged


def jobs():
    """Every (study, problem, optimizer, remedy, seed) of the suite, in a stable order."""
    out = []
    for name in config["studies"]:
        s = _study(name)
        for p in _expand_names(s, "problems"):
            for o in _expand_names(s, "optimizers"):
                for r in _expand_names(s, "remedies"):
                    for seed in s.get("seeds", [0]):
                        out.append(dict(study=name, problem=p, optimizer=o, remedy=r, seed=seed))
    return out


JOBS = jobs()


def run_args(study):
    """`pinnarena run` options for a study's jobs: steps, suite, study, vmap and --set overrides.

    With `group: problem` a job trains the study's whole optimizer × remedy cross of one
    problem, so per-optimizer and per-remedy settings go as --opt-set / --remedy-set.
    """

    def args(wildcards):
        s = _study(study)
        sets = dict(s["set"])
        out = [f"--steps {int(s['steps'])}", f"--suite {SUITE}", f"--study {study}"]
        out.append("--vmap-seeds" if s.get("vmap_seeds", True) else "--no-vmap-seeds")
        fmt = lambda v: json.dumps(v) if not isinstance(v, str) else v
        if s.get("group", "cell") == "problem":
            opts, rems = _expand_names(s, "optimizers"), _expand_names(s, "remedies")
            out += ["--optimizer " + " ".join(opts), "--remedy " + " ".join(rems), "--cell-dirs"]
            for o in opts:
                out += [f"--opt-set {o}:{k}={fmt(v)}" for k, v in sorted(s.get("optimizer_set", {}).get(o, {}).items())]
            for r in rems:
                out += [f"--remedy-set {r}:{k}={fmt(v)}" for k, v in sorted(s.get("remedy_set", {}).get(r, {}).items())]
        else:
            out += [f"--optimizer {wildcards.optimizer}", f"--remedy {wildcards.remedy}"]
            for k, v in s.get("optimizer_set", {}).get(wildcards.optimizer, {}).items():
                sets[f"opt.{k}"] = v
            for k, v in s.get("remedy_set", {}).get(wildcards.remedy, {}).items():
                sets[f"remedy.{k}"] = v
        out += [f"--set {k}={fmt(v)}" for k, v in sorted(sets.items())]
        return " ".join(out)

    return args


def reference_input(study):
    """The reference file a study's run needs (solver references only; analytic ones need none)."""

    def files(wildcards):
        from pinnarena import problems

        if problems.get(wildcards.problem).reference_kind in ("analytic", "manufactured"):
            return []
        tier = _study(study)["set"].get("reference_tier", "standard")
        return [f"{RESULTS}/references/{wildcards.problem}--{tier}.npz"]

    return files


def checkpoint_dir(study):
    """Where a job's checkpoints live: outside its outputs, so a restarted job can resume."""
    if _study(study).get("group", "cell") == "problem":
        return lambda wildcards: f"{RESULTS}/checkpoints/{study}/{wildcards.problem}"
    return lambda wildcards: f"{RESULTS}/checkpoints/{study}/{wildcards.problem}/{wildcards.optimizer}/{wildcards.remedy}"


def all_runs(name):
    return [f"{RUN_DIR}/{name}".format(**j) for j in JOBS]

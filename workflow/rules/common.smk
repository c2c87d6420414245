# Config validation and the expansion of studies into jobs (pinnarena/suite.py; `select` slices a suite).
import json

from snakemake.utils import validate

from pinnarena import suite


validate(config, "../schemas/config.schema.yaml")

RESULTS = config.get("results", "results")
REPORT = config.get("report", "report")
SUITE = config["suite"]
RUN_DIR = f"{RESULTS}/runs/{{study}}/{{problem}}/{{optimizer}}/{{remedy}}/seed{{seed}}"


def _study(name):
    return suite.study(config, name)


def _expand_names(study, kind):
    return suite.expand(study, kind)


JOBS = suite.jobs(config)  # every selected (study, problem, optimizer, remedy, seed): pinnarena/suite.py


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

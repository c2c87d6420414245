# Training jobs. One job trains every seed of a (study, problem, optimizer, remedy) cell in one
# process — vmapped over seeds unless the study sets `vmap_seeds: false` — so imports, the
# reference and compilation are paid once per cell. `pinnarena run` writes a row for every
# outcome (ok, diverged, timeout, error), so a failed training never stops the workflow.
# One rule per study (its seeds fix the outputs); all share the same shell command.

for _name in config["studies"]:
    _s = _study(_name)
    _seeds = _s.get("seeds", [0])
    if _s.get("group", "cell") == "problem":
        _cells = [
            f"{RESULTS}/runs/{_name}/{{problem}}/{o}/{r}"
            for o in _expand_names(_s, "optimizers")
            for r in _expand_names(_s, "remedies")
        ]
        _out = f"{RESULTS}/runs/{_name}/{{problem}}"
        _log = f"{RESULTS}/logs/{_name}/{{problem}}.log"
    else:
        _cells = [f"{RESULTS}/runs/{_name}/{{problem}}/{{optimizer}}/{{remedy}}"]
        _out = _cells[0]
        _log = f"{RESULTS}/logs/{_name}/{{problem}}/{{optimizer}}/{{remedy}}.log"

    rule:
        name:
            f"run_{_name.replace('-', '_')}"
        input:
            reference_input(_name),
        output:
            summaries=[f"{c}/seed{s}/summary.parquet" for c in _cells for s in _seeds],
            curves=[f"{c}/seed{s}/curves.parquet" for c in _cells for s in _seeds],
        log:
            _log,
        params:
            seeds=" ".join(str(s) for s in _seeds),
            args=run_args(_name),
            out=_out,
            references=f"{RESULTS}/references",
            cache=f"{RESULTS}/.jax-cache",
            checkpoint=checkpoint_dir(_name),
            env=" ".join(f"{k}={v}" for k, v in sorted(config.get("env", {}).items())),
        wildcard_constraints:
            problem=r"[^/]+",
            optimizer=r"[^/]+",
            remedy=r"[^/]+",
        threads: 1
        priority: int(_s.get("priority", 0))
        resources:
            mem_mb=config.get("resources", {}).get("mem_mb", 4000),
            runtime=config.get("resources", {}).get("runtime_min", 60),
            gpu=config.get("resources", {}).get("gpu", 0),
        conda:
            "../envs/pinnarena.yaml"
        shell:
            "env {params.env} PINNARENA_REFERENCE_DIR={params.references} PINNARENA_JAX_CACHE={params.cache} "
            "pinnarena run --problem {wildcards.problem} --seed {params.seeds} --seed-dirs "
            "--checkpoint {params.checkpoint} {params.args} --out {params.out} > {log} 2>&1"

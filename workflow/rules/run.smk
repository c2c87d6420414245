# Training jobs. One job trains every seed of a (study, problem, optimizer, remedy) cell in one
# process — vmapped over seeds unless the study sets `vmap_seeds: false` — so imports, the
# reference and compilation are paid once per cell. `pinnarena run` writes a row for every
# outcome (ok, diverged, timeout, error), so a failed training never stops the workflow.
# One rule per study (its seeds fix the outputs); all share the same shell command.

for _name in config["studies"]:
    _seeds = _study(_name).get("seeds", [0])
    _cell = f"{RESULTS}/runs/{_name}/{{problem}}/{{optimizer}}/{{remedy}}"

    rule:
        name:
            f"run_{_name.replace('-', '_')}"
        input:
            reference_input(_name),
        output:
            summaries=[f"{_cell}/seed{s}/summary.parquet" for s in _seeds],
            curves=[f"{_cell}/seed{s}/curves.parquet" for s in _seeds],
        log:
            f"{RESULTS}/logs/{_name}/{{problem}}/{{optimizer}}/{{remedy}}.log",
        params:
            seeds=" ".join(str(s) for s in _seeds),
            args=run_args(_name),
            out=_cell,
            references=f"{RESULTS}/references",
            cache=f"{RESULTS}/.jax-cache",
            checkpoint=checkpoint_dir(_name),
        wildcard_constraints:
            problem=r"[^/]+",
            optimizer=r"[^/]+",
            remedy=r"[^/]+",
        threads: 1
        resources:
            mem_mb=config.get("resources", {}).get("mem_mb", 4000),
            runtime=config.get("resources", {}).get("runtime_min", 60),
            gpu=config.get("resources", {}).get("gpu", 0),
        conda:
            "../envs/pinnarena.yaml"
        shell:
            "PINNARENA_REFERENCE_DIR={params.references} PINNARENA_JAX_CACHE={params.cache} pinnarena run --problem {wildcards.problem} "
            "--optimizer {wildcards.optimizer} --remedy {wildcards.remedy} --seed {params.seeds} "
            "--seed-dirs --checkpoint {params.checkpoint} {params.args} --out {params.out} > {log} 2>&1"

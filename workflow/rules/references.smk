# Solver references are built once per (problem, tier) and shared by every run of that problem.
# Analytic and manufactured references are evaluated inside the run and need no file.

REFERENCE_RESOURCES = dict(mem_mb=config.get("resources", {}).get("reference_mem_mb", 8000),
                           runtime=config.get("resources", {}).get("reference_runtime_min", 120))


rule reference:
    output:
        f"{RESULTS}/references/{{problem}}--{{tier}}.npz",
    log:
        f"{RESULTS}/logs/references/{{problem}}--{{tier}}.log",
    wildcard_constraints:
        problem=r"[^/]+",
        tier=r"smoke|standard|paper",
    threads: 1
    priority: 1000000  # every run waits for its reference: build them before anything else (above problem_priority)
    resources:
        **REFERENCE_RESOURCES,
    conda:
        "../envs/pinnarena.yaml"
    shell:
        "pinnarena reference {wildcards.problem} --tier {wildcards.tier} --out {output} > {log} 2>&1"


# `reference_batch: N` (pinnarena.suite.reference_batches): the suite's references N to a job, one
# process each (its imports paid once); these rules take precedence over the one-file rule above.
for _k, (_tier, _problems) in enumerate(suite.reference_batches(config) or []):

    rule:
        name:
            f"reference_batch{_k}"
        output:
            [f"{RESULTS}/references/{p}--{_tier}.npz" for p in _problems],
        log:
            f"{RESULTS}/logs/references/batch{_k}--{_tier}.log",
        params:
            problems=" ".join(_problems),
            tier=_tier,
            out=f"{RESULTS}/references",
        threads: 1
        priority: 1000000
        resources:
            **REFERENCE_RESOURCES,
        conda:
            "../envs/pinnarena.yaml"
        shell:
            "pinnarena reference {params.problems} --tier {params.tier} --out-dir {params.out} > {log} 2>&1"

    workflow.ruleorder(f"reference_batch{_k}", "reference")

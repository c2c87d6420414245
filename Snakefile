# pinnarena: reproduce the leaderboard with `snakemake --cores all` (default suite: config/smoke.yaml).
# Another suite: `snakemake --cores all --configfile config/standard.yaml`.
from snakemake.utils import min_version

min_version("8.0")


# The default suite is loaded only when no --configfile is given: Snakemake deep-merges config
# files, and a suite's studies must not be mixed with the smoke suite's.
if not workflow.config_settings.configfiles:

    configfile: "config/smoke.yaml"



include: "workflow/rules/common.smk"
include: "workflow/rules/references.smk"
include: "workflow/rules/run.smk"
include: "workflow/rules/aggregate.smk"


rule all:
    default_target: True
    input:
        f"{RESULTS}/leaderboard.parquet",
        f"{REPORT}/leaderboard.md",

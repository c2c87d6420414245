#!/usr/bin/env bash
# Resume a long published suite (default config/cpu.yaml) in the background, as a session that
# starts on a fresh machine needs to:
#
#   workflow/scripts/resume_suite.sh [CONFIG] [SNAKEMAKE OPTIONS…]   # logs in $PINNARENA_LOGS (default ../logs)
#
# e.g. `resume_suite.sh config/cpu.yaml --prioritize FILE…` runs FILE… (and what they need) first.
#
# 1. The jobs run from a clean worktree of HEAD (default ../suite-run), so every row records a
#    commit that is not dirty while the checkout itself is edited; results go into the
#    checkout's results folder (the config's `results`), where commit_finished.py commits them.
# 2. withdraw_foreign.py first removes the half-finished problems that another CPU model started
#    (a time budget buys each method a different amount of work on another CPU).
# 3. snakemake resumes (committed rows count as done), and commit_finished.py commits finished
#    cells every 10 minutes. Stop both with: pkill -f "snakemake --cores"; pkill -f commit_finished
set -euo pipefail
cfg=${1:-config/cpu.yaml}
shift || true
root=$(git rev-parse --show-toplevel)
cd "$root"
results=$(python -c "import sys, yaml; print(yaml.safe_load(open(sys.argv[1])).get('results', 'results'))" "$cfg")
report=$(python -c "import sys, yaml; print(yaml.safe_load(open(sys.argv[1])).get('report', 'report'))" "$cfg")
wt=${PINNARENA_WORKTREE:-$root/../suite-run}
logs=${PINNARENA_LOGS:-$root/../logs}
mkdir -p "$logs"
git worktree prune
[ -d "$wt" ] || git worktree add --detach "$wt" HEAD >/dev/null
git -C "$wt" checkout -q --detach "$(git rev-parse HEAD)"
rm -rf "$wt/.snakemake/incomplete"
python workflow/scripts/withdraw_foreign.py "$cfg" --results "$root/$results"
# (the rerun triggers that keep finished jobs finished come from profiles/default, which every
# snakemake run in the worktree reads)
args=(--cores "${PINNARENA_CORES:-all}" --configfile "$cfg" --config "results=$root/$results" "report=$root/$report")
(cd "$wt" && PYTHONPATH="$wt" snakemake --unlock "${args[@]}" >/dev/null 2>&1 || true)
stamp=$(date +%Y%m%dT%H%M)
(cd "$wt" && PYTHONPATH="$wt" nohup snakemake "${args[@]}" --rerun-incomplete --keep-going "$@" \
    > "$logs/suite-$stamp.log" 2>&1 &)
nohup python workflow/scripts/commit_finished.py "$results" --every 600 > "$logs/commit-$stamp.log" 2>&1 &
echo "suite running from $wt ($(git rev-parse --short HEAD)); logs: $logs/suite-$stamp.log, $logs/commit-$stamp.log"

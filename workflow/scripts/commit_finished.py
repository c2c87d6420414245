"""Commit a long suite's finished cells as they complete, so that a later session (or a fresh
clone) starts from them: ``snakemake`` treats committed outputs as done.

    python workflow/scripts/commit_finished.py results/published/cpu [--seeds 0 1 2] [--every 600]

A held-out cell (``runs/<study>/<problem>/<optimizer>/<remedy>/``) counts as finished when every
seed's ``summary.parquet`` and ``curves.parquet`` exist; a tuned cell
(``runs/tuning/<study>/…``) when its ``selected.json`` exists (written after both Parquet files).
Only finished cells are added (a half-finished job's files would be retrained, and a
time-budgeted rerun stops at a different step). With ``--every`` it repeats until killed.
Commits touch only the suite's ``runs/`` folder (``git commit -- PATHS``).
"""
from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path


def finished(root: Path, seeds: list[int]) -> list[Path]:
    runs = root / "runs"
    out = []
    for sel in sorted((runs / "tuning").rglob("selected.json")):
        out += [sel, sel.parent / "summary.parquet", sel.parent / "curves.parquet"]
    for cell in sorted({p.parent.parent for p in runs.rglob("seed*/summary.parquet")}):
        if "tuning" in cell.relative_to(runs).parts[:1]:
            continue
        files = [cell / f"seed{s}" / f for s in seeds for f in ("summary.parquet", "curves.parquet")]
        if all(f.exists() for f in files):
            out += files
    return [p for p in out if p.exists()]


def commit(root: Path, seeds: list[int]) -> int:
    files = [str(p) for p in finished(root, seeds)]
    if not files:
        return 0
    for i in range(0, len(files), 500):
        subprocess.run(["git", "add", "--", *files[i:i + 500]], check=True)
    staged = subprocess.run(["git", "diff", "--cached", "--name-only", "--", str(root / "runs")],
                            capture_output=True, text=True, check=True).stdout.split()
    if not staged:
        return 0
    subprocess.run(["git", "commit", "-q", "-m", f"{root}: {len(staged)} finished result files", "--",
                    str(root / "runs")], check=True)
    return len(staged)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=Path)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="held-out seeds of the suite")
    ap.add_argument("--every", type=float, default=0, help="repeat every this many seconds (0: once)")
    args = ap.parse_args(argv)
    while True:
        try:
            n = commit(args.root, args.seeds)
            print(f"{time.strftime('%H:%M:%S')} committed {n} files", flush=True)
        except subprocess.CalledProcessError as e:  # e.g. another commit holds the index lock
            print(f"{time.strftime('%H:%M:%S')} not committed this round: {e}", flush=True)
            if not args.every:
                return 1
        if not args.every:
            return 0
        time.sleep(args.every)


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env bash
# Save `pipeline --help` and every subcommand's --help into DIR (for before/after comparisons).
# usage: tools/capture_help.sh DIR [PIPELINE_BIN]
set -euo pipefail
dir=$1; bin=${2:-.venv/bin/pipeline}
mkdir -p "$dir/help"
export COLUMNS=200 TERM=dumb NO_COLOR=1
"$bin" --help > "$dir/help/_root.txt" 2>&1
"$bin" --version > "$dir/help/_version.txt" 2>&1 || true
cmds=$(sed -n '/Commands/,$p' "$dir/help/_root.txt" | grep -oE '^│ [a-z][a-z0-9-]+' | awk '{print $2}')
for c in $cmds; do "$bin" "$c" --help > "$dir/help/$c.txt" 2>&1; done
ls "$dir/help"

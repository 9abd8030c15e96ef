#!/bin/bash
# Alternating paired runs on a shared box: each round runs the skeleton (bench:ceiling at 4
# connections) and then bench:charging at 4 connections once per variant, the variants' order
# reversed every other round, so that a noisy minute hits every variant alike. Every line goes to LOG
# with the calibration, for comparing each variant with the skeleton of its own round.
#
#   bench/lib/paired-runs.sh ROUNDS LOG label=DIR[@ENGINE_NODE_OPTIONS] ...
#
# Each DIR is a checkout of the engine (e.g. `git worktree add`, or `git archive REV | tar -x`
# with node_modules linked); the skeleton runs from the first. Ports 3471/3472, not the defaults,
# so that another bench on the box does not answer instead.
set -u
ROUNDS=$1 LOG=$2
shift 2
first=${1#*=}
first=${first%%@*}
for ((i = 1; i <= ROUNDS; i++)); do
  echo "== round $i $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$LOG"
  (cd "$first" && timeout 120 npx tsx bench/http-ceiling.ts --port 3472 --connections 4 --seconds 5 2>/dev/null |
    sed 's/^/ceiling /') >>"$LOG"
  variants=("$@")
  if ((i % 2 == 0)); then mapfile -t variants < <(printf '%s\n' "$@" | tac); fi
  for v in "${variants[@]}"; do
    label=${v%%=*} rest=${v#*=}
    dir=${rest%%@*} opts=""
    [[ $rest == *@* ]] && opts=${rest#*@}
    out=$(cd "$dir" && ENGINE_NODE_OPTIONS="$opts" timeout 150 npx tsx bench/charging-load.ts \
      --port 3471 --connections 4 --seconds 10 2>&1)
    echo "$label $(grep -E '^calib' <<<"$out") $(grep -E 'connections \|' <<<"$out") $(grep -E 'loop delay' <<<"$out" | sed 's/; by kind.*//')" >>"$LOG"
  done
done
echo "== done $(date -u +%H:%M:%S)" >>"$LOG"

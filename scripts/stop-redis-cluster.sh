#!/usr/bin/env bash
# Stops the nodes that start-redis-cluster.sh started, by the pids in their pid files (nothing else).
DIR=${1:-./.redis-cluster}
for f in "$DIR"/*/redis.pid; do
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  kill "$pid" 2>/dev/null && for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  rm -f "$f"
done
exit 0

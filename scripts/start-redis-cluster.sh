#!/usr/bin/env bash
# Starts a throw-away Redis Cluster on loopback for tests: NODES masters (default 3), each with
# REPLICAS replicas (default 0; REPLICAS=1 gives the 3-master 3-replica layout of docs/SCALE-OUT.md).
# Ports BASE_PORT.. are the masters first, then the replicas (redis-cli --cluster create pairs them).
#   scripts/start-redis-cluster.sh [BASE_PORT] [DIR]     defaults: 7100  ./.redis-cluster
#   NODES=3 REPLICAS=1 scripts/start-redis-cluster.sh 7100     6 nodes on 7100..7105
#   scripts/stop-redis-cluster.sh  [DIR]                 stops exactly the pids in DIR/*/redis.pid
set -euo pipefail
BASE=${1:-7100}
DIR=${2:-./.redis-cluster}
NODES=${NODES:-3}
REPLICAS=${REPLICAS:-0}
RS=${REDIS_SERVER:-redis-server}
command -v "$RS" >/dev/null || { echo "redis-server not found: apt-get install -y redis-server" >&2; exit 1; }
if [ "$REPLICAS" != 0 ] && [ "$NODES" -lt 3 ]; then
  echo "replicas need at least 3 masters (NODES=3)" >&2
  exit 1
fi
TOTAL=$((NODES * (1 + REPLICAS)))
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
"$(dirname "$0")/stop-redis-cluster.sh" "$DIR" || true
ADDRS=()
for ((i = 0; i < TOTAL; i++)); do
  p=$((BASE + i)); d="$DIR/$p"; ADDRS+=("127.0.0.1:$p")
  rm -rf "$d"; mkdir -p "$d"
  "$RS" --port "$p" --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file nodes.conf \
    --cluster-announce-ip 127.0.0.1 --cluster-node-timeout 2000 --appendonly no --save '' \
    --dir "$d" --daemonize yes --pidfile "$d/redis.pid" --logfile "$d/redis.log"
done
for ((i = 0; i < TOTAL; i++)); do
  for _ in $(seq 100); do redis-cli -p $((BASE + i)) ping >/dev/null 2>&1 && break; sleep 0.05; done
done
if [ "$NODES" = 1 ]; then
  redis-cli -p "$BASE" cluster addslotsrange 0 16383 >/dev/null
else
  redis-cli --cluster create "${ADDRS[@]}" --cluster-replicas "$REPLICAS" --cluster-yes >"$DIR/create.log"
fi
# Ready: every node sees all slots served, and every replica has its master's data.
for _ in $(seq 300); do
  ok=1
  for ((i = 0; i < TOTAL; i++)); do
    redis-cli -p $((BASE + i)) cluster info | grep -q 'cluster_state:ok' || ok=0
    if [ "$i" -ge "$NODES" ]; then
      redis-cli -p $((BASE + i)) info replication | grep -q 'master_link_status:up' || ok=0
    fi
  done
  [ $ok = 1 ] && break
  sleep 0.1
done
[ $ok = 1 ] || { echo "cluster did not become ready; see $DIR/*/redis.log" >&2; exit 1; }
echo "redis cluster ready: ${ADDRS[*]}"

#!/usr/bin/env bash
# Runs the end-to-end measurements of docs/BENCHMARKS.md and docs/operations.md
# on this machine and prints one JSON object per run (prefixed by its name).
#
#   cargo build --release -p ringhook -p loadgen
#   bench/measure.sh [ceiling|headline|latency|ingest|matrix|all] > results.txt
#
# Needs wrk (Debian package `wrk`) for the ceiling. Everything runs on
# 127.0.0.1 and Unix sockets and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
LG=target/release/loadgen
what=${1:-all}
# The issue's layout: engine shard and producer on core 0, sink on core 1.
ONE_CORE=(--shards 1 --cpus 0 --producer-cpu 0 --sink-cpu 1 --durability sync --json)

run() {
  local name=$1; shift
  printf '%s load=%s ' "$name" "$(cut -d' ' -f1 /proc/loadavg)"
  "$LG" "$@" 2>/dev/null | tail -n 1
}

ceiling() {
  "$LG" sink --addr 127.0.0.1:9191 --cpu 1 >/dev/null 2>&1 &
  local sink=$!
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/9191) 2>/dev/null && break; sleep 0.1; done
  for i in 1 2 3; do
    printf 'wrk-c64-%s load=%s ' "$i" "$(cut -d' ' -f1 /proc/loadavg)"
    taskset -c 0 wrk -t1 -c64 -d10s -s bench/wrk-post.lua http://127.0.0.1:9191/ep/0 \
      | awk '/Requests\/sec/ {print "{\"requests_per_sec\":" $2 "}"}'
  done
  kill -INT "$sink"; wait "$sink" || true
}

headline() {
  for i in 1 2 3; do
    run "deliver-s1-e1-$i" run --messages 1000000 --endpoints 1 "${ONE_CORE[@]}"
  done
  for i in 1 2; do
    run "deliver-s1-e1-nopipe-$i" run --messages 300000 --endpoints 1 --http-pipeline 1 "${ONE_CORE[@]}"
  done
}

latency() {
  # Half and a quarter of the peak (~150,000 deliveries/s on this machine).
  for rate in 37500 75000; do
    for i in 1 2 3; do
      run "latency-$rate-$i" run --messages $((rate * 10)) --endpoints 1 --rate "$rate" "${ONE_CORE[@]}"
    done
  done
}

ingest() {
  for i in 1 2; do
    run "ingest-s1-core0-$i" ingest --messages 2000000 --shards 1 --cpus 0 --producer-cpu 0 --durability sync --json
    run "ingest-s1-core1-$i" ingest --messages 2000000 --shards 1 --cpus 0 --producer-cpu 1 --durability sync --json
  done
}

matrix() {
  for shards in 1 2; do
    local place=(--shards 1 --cpus 0 --sink-cpu 1 --producer-cpu 1)
    [ "$shards" = 2 ] && place=(--shards 2 --cpus 0,1)
    run "m-s$shards-e1-f1" run --messages 300000 --endpoints 1 "${place[@]}" --durability sync --json
    run "m-s$shards-e100-f1" run --messages 300000 --endpoints 100 --fan-out 1 "${place[@]}" --durability sync --json
    run "m-s$shards-e100-f10" run --messages 30000 --endpoints 100 --fan-out 10 "${place[@]}" --durability sync --json
    run "m-s$shards-e10000-f1" run --messages 100000 --endpoints 10000 --fan-out 1 "${place[@]}" --durability sync --json
    run "m-s$shards-e10000-f10" run --messages 10000 --endpoints 10000 --fan-out 10 "${place[@]}" --durability sync --json
  done
}

case $what in
  ceiling|headline|latency|ingest|matrix) $what ;;
  all) ceiling; headline; latency; ingest; matrix ;;
  *) echo "usage: $0 [ceiling|headline|latency|ingest|matrix|all]" >&2; exit 2 ;;
esac

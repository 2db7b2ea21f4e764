#!/usr/bin/env bash
# Runs the end-to-end measurements of docs/BENCHMARKS.md and docs/operations.md
# on this machine and prints one JSON object per run (prefixed by its name).
#
#   cargo build --release -p ringhook -p loadgen
#   bench/measure.sh [ceiling|headline|latency|ingest|matrix|slow|incoming|operational|api|api-latency|catalog-writes|all] > results.txt
#
# Needs wrk (Debian package `wrk`) for the ceiling, and oha (`cargo install
# oha`: an HTTP load generator with a fixed request rate) for api-latency. Everything runs on
# 127.0.0.1 and Unix sockets and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
LG=target/release/loadgen
what=${1:-all}
# The issue's layout: engine shard and producer on core 0, sink on core 1.
ONE_CORE=(--shards 1 --cpus 0 --producer-cpu 0 --sink-cpu 1 --durability sync --json)

# Whatever this script started (sinks, engines) stops with it, even when a
# run fails: a stray sink on the next run's port spoils its results.
trap 'kill $(jobs -p) 2>/dev/null' EXIT

run() {
  local name=$1; shift
  printf '%s load=%s ' "$name" "$(cut -d' ' -f1 /proc/loadavg)"
  "$LG" "$@" 2>/dev/null | tail -n 1 || echo '{"error":"the run failed"}'
}

ceiling() {
  "$LG" sink --addr 127.0.0.1:9191 --cpu 1 >/dev/null 2>&1 &
  local sink=$!
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/9191) 2>/dev/null && break; sleep 0.1; done
  for i in 1 2 3; do
    printf 'wrk-c64-%s load=%s ' "$i" "$(cut -d' ' -f1 /proc/loadavg)"
    taskset -c 0 wrk -t1 -c64 -d10s -s bench/wrk-post.lua http://127.0.0.1:9191/ep/0 \
      | awk '/Requests\/sec/ {print "{\"requests_per_sec\":" $2 "}"}'
    # The pipelined ceiling: 16 requests per round trip, as the engine's
    # runs (compare like with like).
    printf 'wrk-c64-pipeline16-%s load=%s ' "$i" "$(cut -d' ' -f1 /proc/loadavg)"
    taskset -c 0 wrk -t1 -c64 -d10s -s bench/wrk-pipeline.lua http://127.0.0.1:9191/ep/0 -- 16 \
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
    # One shard on core 0 with both cores given to the engine: its syncs'
    # writeback may run on core 1 (the producer's, mostly idle).
    run "ingest-s1-cores01-$i" ingest --messages 2000000 --shards 1 --cpus 0,1 --producer-cpu 1 --durability sync --json
    # Everything on core 0 (shard, its syncs), batches of 250 events.
    run "ingest-s1-core0-batch250-$i" ingest --messages 2000000 --batch 250 --shards 1 --cpus 0 --producer-cpu 1 --durability sync --json
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

# Many slow receivers (issue 16): 1,000 and then 10,000 endpoints on a sink
# that answers each request after 50 ms; each message goes to one endpoint.
# Reported: deliveries/s, the engine's CPU per delivery, its peak memory
# (VmHWM) and that nothing was lost.
# A run closes its thousands of receiver connections at its end; until
# their TIME_WAIT ends (60 s) the next run's connects search a crowded
# ephemeral port range (a third of a profile). Wait for them to go.
settle_time_wait() {
  for _ in $(seq 80); do
    [ "$(ss -tan state time-wait | wc -l)" -lt 100 ] && return
    sleep 1
  done
}

slow() {
  "$LG" sink --addr 127.0.0.1:9191 --cpu 1 --delay-ms 50 >/dev/null 2>&1 &
  local sink=$!
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/9191) 2>/dev/null && break; sleep 0.1; done
  for i in 1 2; do
    # The ceiling for this shape: wrk on core 0 with 2,500 connections (the
    # engine's runs keep about as many requests waiting) to a sink as slow,
    # one request per round trip. Its CPU per request is what a client doing
    # nothing but the exchanges spends.
    settle_time_wait
    slow_ceiling "$i"
    settle_time_wait
    run "slow-e1000-$i" run --sink 127.0.0.1:9191 --messages 200000 --endpoints 1000 --fan-out 1 \
      --shards 1 --cpus 0 --producer-cpu 0 --durability sync --json
    settle_time_wait
    run "slow-e10000-$i" run --sink 127.0.0.1:9191 --messages 200000 --endpoints 10000 --fan-out 1 \
      --shards 1 --cpus 0 --producer-cpu 0 --durability sync --json
  done
  kill -INT "$sink"; wait "$sink" || true
}

# wrk's CPU (user + system) per request against the slow sink, sampled over
# the middle 6 s of a 12 s run (connections set up, none closing).
slow_ceiling() {
  local out w t0 t1 s0 s1 hz sink
  out=$(mktemp); hz=$(getconf CLK_TCK)
  # A sink of its own: wrk's requests stay out of the engine runs' latencies.
  "$LG" sink --addr 127.0.0.1:9192 --cpu 1 --delay-ms 50 >/dev/null 2>&1 &
  sink=$!
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/9192) 2>/dev/null && break; sleep 0.1; done
  printf 'wrk-slow-c2500-%s load=%s ' "$1" "$(cut -d' ' -f1 /proc/loadavg)"
  taskset -c 0 wrk -t1 -c2500 -d12s -s bench/wrk-post.lua http://127.0.0.1:9192/ep/0 >"$out" &
  w=$!
  sleep 3
  t0=$(awk '{print $14 + $15}' /proc/$w/stat); s0=$(date +%s.%N)
  sleep 6
  t1=$(awk '{print $14 + $15}' /proc/$w/stat); s1=$(date +%s.%N)
  wait "$w" || true
  awk -v t=$((t1 - t0)) -v hz="$hz" -v s="$s0" -v e="$s1" '
    /Requests\/sec/ {r=$2}
    END {printf "{\"requests_per_sec\":%.0f,\"wrk_cpu_us_per_request\":%.2f}\n", r, (r > 0) ? t * 1e6 / hz / (r * (e - s)) : 0}' "$out"
  kill -INT "$sink"; wait "$sink" || true
  rm -f "$out"
}

# Incoming webhooks (issue 11): wrk posts one GitHub-signed body (a fixed,
# valid X-Hub-Signature-256; no X-GitHub-Delivery, so no deduplication) to a
# source's receive URL on a one-shard engine pinned to core 0 (durability
# sync); every accepted request is forwarded to the loadgen sink on core 1.
# Ceilings in the same run: wrk against the engine's health route (the same
# HTTP server doing no work) and against the sink. The engine runs with 64
# and with 256 connections, and reports its CPU per request.
incoming() {
  local dir port=9292 secret=bench-secret
  dir=$(mktemp -d); chmod 700 "$dir"
  "$LG" sink --addr 127.0.0.1:9191 --cpu 1 >"$dir/sink.out" 2>/dev/null &
  local sink=$!
  RINGHOOK_API_TOKEN=bench "${RINGHOOK_BIN:-target/release/ringhook}" serve --data-dir "$dir/data" \
    --socket "$dir/ingest.sock" --http-addr 127.0.0.1:$port --shards 1 --cpus 0 \
    --durability sync --allow-private-targets 2>"$dir/engine.err" &
  local engine=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:$port/api/v1/health && break; sleep 0.1; done
  local api=(-sf -H "authorization: Bearer bench" -H "content-type: application/json")
  local url
  url=$(curl "${api[@]}" -d "{\"name\":\"bench\",\"type\":\"github\",\"config\":{\"secret\":\"$secret\"}}" \
    http://127.0.0.1:$port/ingest/api/v1/source | python3 -c 'import json,sys; print(json.load(sys.stdin)["ingestUrl"])')
  local src=${url##*/}
  local id
  id=$(curl "${api[@]}" http://127.0.0.1:$port/ingest/api/v1/source | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["id"])')
  curl "${api[@]}" -d '{"url":"http://127.0.0.1:9191/ep/0"}' \
    http://127.0.0.1:$port/ingest/api/v1/source/"$id"/endpoint >/dev/null
  local body='{"action":"opened","pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}'
  local sig
  sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$secret" | awk '{print $NF}')
  cat >"$dir/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-GitHub-Event"] = "push"
wrk.headers["X-Hub-Signature-256"] = "sha256=$sig"
LUA
  local rps='/Requests\/sec/ {r=$2} /Non-2xx/ {bad=$NF} END {printf "{\"requests_per_sec\":%s,\"non_2xx\":%s}\n", r, bad+0}'
  for i in 1 2 3; do
    printf 'incoming-ceiling-health-%s load=%s ' "$i" "$(cut -d' ' -f1 /proc/loadavg)"
    taskset -c 1 wrk -t1 -c64 -d10s http://127.0.0.1:$port/api/v1/health | awk "$rps"
    printf 'incoming-ceiling-sink-%s load=%s ' "$i" "$(cut -d' ' -f1 /proc/loadavg)"
    taskset -c 1 wrk -t1 -c64 -d10s -s "$dir/post.lua" http://127.0.0.1:9191/ep/0 | awk "$rps"
    for conns in 64 256; do
      # The engine's CPU (user + system, all its threads) per request.
      local ticks0 ticks1
      ticks0=$(awk '{print $14 + $15}' /proc/$engine/stat)
      printf 'incoming-github-c%s-%s load=%s ' "$conns" "$i" "$(cut -d' ' -f1 /proc/loadavg)"
      taskset -c 1 wrk -t1 -c$conns -d10s -s "$dir/post.lua" "$url" >"$dir/wrk.out"
      ticks1=$(awk '{print $14 + $15}' /proc/$engine/stat)
      awk -v t=$((ticks1 - ticks0)) -v hz="$(getconf CLK_TCK)" \
        '/requests in/ {n=$1} /Requests\/sec/ {r=$2} /Non-2xx/ {bad=$NF}
         END {printf "{\"requests_per_sec\":%s,\"non_2xx\":%d,\"engine_cpu_us_per_request\":%.1f}\n", r, bad+0, (n > 0) ? t * 1e6 / hz / n : 0}' "$dir/wrk.out"
    done
  done
  # Let the deliveries drain, then compare what the sink got with what the
  # engine accepted.
  for _ in $(seq 300); do
    curl -sf -H "authorization: Bearer bench" http://127.0.0.1:$port/metrics \
      | awk '/^ringhook_deliveries_pending[{ ]/ {n += $NF} END {exit (n == 0) ? 0 : 1}' && break
    sleep 0.2
  done
  printf 'incoming-accepted '
  curl -sf -H "authorization: Bearer bench" http://127.0.0.1:$port/metrics \
    | awk -v s="$src" '/ringhook_incoming_requests_total/ && /accepted/ {print "{\"accepted\":" $2 "}"}'
  kill -TERM "$engine"; wait "$engine" || true
  kill -INT "$sink"; wait "$sink" || true
  printf 'incoming-sink '; tail -n 1 "$dir/sink.out"
  rm -rf "$dir"
}

# The HTTP API by the method used to measure Svix here (issue 16): wrk -t2
# posts `{"eventType","payload"}` (a ~250-byte payload) to one application
# for 20 s, with 32 and then 256 connections; the application has one
# endpoint (and then ten) on the loadgen sink. The engine runs its default
# shards (one per core); nothing is pinned, as for Svix. Reported: messages
# created per second (wrk's 2xx), deliveries the sink got and the seconds
# until the last one (so deliveries/s counts the drain too), and the API's
# latency percentiles.
api() {
  local eps conns
  for eps in 1 10; do
    for conns in 32 256; do
      api_run "$eps" "$conns"
    done
  done
}

# The API's latency at a fixed rate (issue 16: p99 at half the -c32
# target of 40,000/s): oha posts at the rate with 64 and 32 connections,
# latency corrected for coordinated omission.
api_latency() {
  for i in 1 2 3; do
    api_run 1 64 20000
    api_run 1 32 20000
  done
}

# One API run: EPS endpoints, CONNS connections; at full speed with wrk, or
# at RATE requests/s with oha.
api_run() {
  local eps=$1 conns=$2 rate=${3:-0} dir port=9292
  dir=$(mktemp -d); chmod 700 "$dir"
  "$LG" sink --addr 127.0.0.1:9191 >"$dir/sink.out" 2>/dev/null &
  local sink=$!
  # RINGHOOK_BIN measures another build (an A/B against an older commit).
  RINGHOOK_API_TOKEN=bench "${RINGHOOK_BIN:-target/release/ringhook}" serve --data-dir "$dir/data" \
    --socket "$dir/ingest.sock" --http-addr 127.0.0.1:$port \
    --durability sync --allow-private-targets 2>"$dir/engine.err" &
  local engine=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:$port/api/v1/health >/dev/null && break; sleep 0.1; done
  local api=(-sf -H "authorization: Bearer bench" -H "content-type: application/json")
  curl "${api[@]}" -d '{"name":"bench","uid":"bench"}' http://127.0.0.1:$port/api/v1/app >/dev/null
  for e in $(seq 0 $((eps - 1))); do
    curl "${api[@]}" -d "{\"url\":\"http://127.0.0.1:9191/ep/$e\"}" \
      http://127.0.0.1:$port/api/v1/app/bench/endpoint >/dev/null
  done
  cat >"$dir/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"eventType":"invoice.paid","payload":{"id":"in_1PqRsTuVwXyZ","customer":"cus_9AbCdEfGhIjK","amount_due":4200,"currency":"usd","status":"paid","lines":[{"description":"Pro plan","amount":4200,"quantity":1}],"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench"
LUA
  if [ "$rate" != 0 ]; then
    printf 'api-rate%s-c%s load=%s ' "$rate" "$conns" "$(cut -d' ' -f1 /proc/loadavg)"
    oha -z 20s -c "$conns" -q "$rate" --latency-correction --no-tui --output-format json -m POST \
      -H "authorization: Bearer bench" -T application/json \
      -d "$(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" "$dir/post.lua")" \
      http://127.0.0.1:$port/api/v1/app/bench/msg >"$dir/oha.json"
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); s=r["summary"]; p=r["latencyPercentiles"]; print(json.dumps({"requests_per_sec": round(s["requestsPerSec"]), "success_rate": s["successRate"], "status": r.get("statusCodeDistribution", {}), "p50_ms": round(p["p50"]*1000, 2), "p99_ms": round(p["p99"]*1000, 2), "p999_ms": round(p["p99.9"]*1000, 2)}))' "$dir/oha.json"
    kill -TERM "$engine"; wait "$engine" || true
    kill -INT "$sink"; wait "$sink" || true
    rm -rf "$dir"
    return
  fi
  local start end_ created
  printf 'api-e%s-c%s load=%s ' "$eps" "$conns" "$(cut -d' ' -f1 /proc/loadavg)"
  start=$(date +%s.%N)
  local ticks0 ticks1
  ticks0=$(awk '{print $14 + $15}' /proc/$engine/stat)
  wrk -t2 -c"$conns" -d20s --latency -s "$dir/post.lua" http://127.0.0.1:$port/api/v1/app/bench/msg >"$dir/wrk.out"
  ticks1=$(awk '{print $14 + $15}' /proc/$engine/stat)
  created=$(awk '/requests in/ {n=$1} /Non-2xx/ {bad=$NF} END {print n - bad}' "$dir/wrk.out")
  # Wait for the sink to have every delivery (or 60 s).
  local want=$((created * eps)) got=0
  for _ in $(seq 600); do
    got=$(curl -sf http://127.0.0.1:9191/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["delivered"])')
    [ "$got" -ge "$want" ] && break
    sleep 0.1
  done
  end_=$(date +%s.%N)
  # The engine's CPU (all threads, user + system) per created message,
  # while wrk ran (its deliveries of those seconds included).
  awk -v c="$created" -v g="$got" -v w="$want" -v s="$start" -v e="$end_" \
    -v t=$((ticks1 - ticks0)) -v hz="$(getconf CLK_TCK)" '
    /Non-2xx/ {bad=$NF}
    /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
    END {printf "{\"created_per_sec\":%.0f,\"deliveries_wanted\":%d,\"delivered\":%d,\"deliveries_per_sec\":%.0f,\"seconds_to_last_delivery\":%.1f,\"non_2xx\":%d,\"api_p50\":\"%s\",\"api_p99\":\"%s\",\"engine_cpu_us_per_message\":%.1f}\n", c/20, w, g, g/(e-s), e-s, bad+0, p50, p99, (c > 0) ? t * 1e6 / hz / c : 0}' "$dir/wrk.out"
  kill -TERM "$engine"; wait "$engine" || true
  kill -INT "$sink"; wait "$sink" || true
  rm -rf "$dir"
}

# Catalog writes as the catalog grows: 20,000 applications created one
# after another over the API (one shard, each create synced); the mean per
# create of each block of 2,500 should not grow with the catalog.
catalog_writes() {
  local dir port=9393
  dir=$(mktemp -d); chmod 700 "$dir"
  RINGHOOK_API_TOKEN=bench "${RINGHOOK_BIN:-target/release/ringhook}" serve --data-dir "$dir/data" \
    --socket "$dir/ingest.sock" --http-addr 127.0.0.1:$port --shards 1 \
    --durability sync 2>"$dir/engine.err" &
  local engine=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:$port/api/v1/health >/dev/null && break; sleep 0.1; done
  printf 'catalog-writes load=%s ' "$(cut -d' ' -f1 /proc/loadavg)"
  python3 bench/catalog-writes.py $port bench 20000 2500 || echo '{"error":"the run failed"}'
  kill -TERM "$engine"; wait "$engine" || true
  rm -rf "$dir"
}

operational() {
  # Customers' deliveries while a failing endpoint makes an operational
  # event per message, told to an operator endpoint that answers (ok) or
  # hangs (hang); interleaved, same run length.
  for i in 1 2 3; do
    for mode in ok hang; do
      run "operational-$mode-$i" run --messages 300000 --endpoints 1 --failing-endpoints 1 \
        --operational "$mode" "${ONE_CORE[@]}"
    done
  done
}

case $what in
  ceiling|headline|latency|ingest|matrix|slow|incoming|operational|api) $what ;;
  api-latency) api_latency ;;
  catalog-writes) catalog_writes ;;
  all) ceiling; headline; latency; ingest; matrix; slow; incoming; operational; api; api_latency; catalog_writes ;;
  *) echo "usage: $0 [ceiling|headline|latency|ingest|matrix|slow|incoming|operational|api|api-latency|catalog-writes|all]" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# End-to-end alerting test with the real tools, all on loopback:
#   callpulse demo (in-process Kafka, simulator, 2h of history, scenario "understaffed": the
#   first queue, sales, collapses; --staffing generous keeps the other queues far above their
#   targets at any hour, where the default realistic staffing breaches now and then)  ->  Prometheus (scrape 2s, rules from `callpulse rules`,
#   evaluation 2s)  ->  Alertmanager (null receiver).
# Asserts:
#   (a) Alertmanager receives the service-level breach alert for queue="sales" within 3 minutes;
#   (b) no KPI alert (any alert with a `kpi` label) is pending or firing for the healthy queues;
#   (c) every PromQL expression of deploy/grafana/dashboards/*.json (and every label_values()
#       variable) returns data from that Prometheus.
# Installs Debian's prometheus / prometheus-alertmanager when missing and builds the release
# binary when it is older than the sources. Cleans up after itself (processes, temp dir);
# on failure the logs are kept in target/test-output/e2e-alerts/.
# Usage (from anywhere): tests/tools/e2e-alerts.sh        Exits 0 only when all checks hold.
#   CALLPULSE_BIN=path  use this binary instead of target/release/callpulse (no build)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/tools/lib.sh
. tests/tools/lib.sh
ROOT="$PWD"

ALERT_WAIT=180        # (a): seconds to wait for the alert in Alertmanager
MIN_OBSERVE=40        # (b): observe the healthy queues at least this long after the first rule evaluation
SALES=sales           # the queue the understaffed scenario collapses (the simulator's first queue)

log() { printf '[e2e-alerts %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() { printf '[e2e-alerts] FAIL: %s\n' "$*" >&2; exit 1; }

# ---- tools ---------------------------------------------------------------------------------
need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v python3 >/dev/null 2>&1 || need+=(python3)
apt_install "${need[@]}"

BIN="$(callpulse_bin)"
[ -x "$BIN" ] || die "no callpulse binary at $BIN"

# ---- temp dir, processes, cleanup --------------------------------------------------------------
TMP="$(mktemp -d "${TMPDIR:-/tmp}/callpulse-e2e-alerts.XXXXXX")"
PIDS=()
OK=0
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "$OK" != 1 ]; then
        local keep="$ROOT/target/test-output/e2e-alerts"
        rm -rf "$keep" && mkdir -p "$keep"
        cp "$TMP"/*.log "$TMP"/*.yml "$TMP"/*.toml "$keep"/ 2>/dev/null || true
        for f in "$TMP"/*.log; do
            [ -f "$f" ] || continue
            echo "---- last lines of $(basename "$f")" >&2
            tail -n 15 "$f" >&2
        done
        echo "[e2e-alerts] logs and configs kept in $keep" >&2
        [ "$rc" -ne 0 ] || rc=1
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

read -r CP_PORT PROM_PORT AM_PORT < <(free_ports 3)
CP="http://127.0.0.1:$CP_PORT"
PROM="http://127.0.0.1:$PROM_PORT"
AM="http://127.0.0.1:$AM_PORT"

# ---- config: the bundled one with short for / keep_firing_for, and the per-agent export on ------
# ([export] agents: the Agents dashboard reads it, and (c) checks its queries too)
python3 - config/callpulse.toml "$TMP/callpulse.toml" <<'PY'
import re, sys
src, dst = sys.argv[1], sys.argv[2]
want = {"for": '"10s"', "keep_firing_for": '"30s"'}
out, section, done = [], None, set()
for line in open(src, encoding="utf-8").read().splitlines():
    m = re.match(r"\s*\[([^\]]+)\]", line)
    if m:
        if section == "alerts":
            out += [f"{k} = {v}" for k, v in want.items() if k not in done]
            done |= set(want)
        section = m.group(1).strip()
    elif section == "alerts":
        k = re.match(r"\s*([A-Za-z_]+)\s*=", line)
        if k and k.group(1) in want:
            line = f"{k.group(1)} = {want[k.group(1)]}"
            done.add(k.group(1))
    out.append(line)
    if m and section == "export":
        out.append("agents = true")
        done.add("export")
if section == "alerts":
    out += [f"{k} = {v}" for k, v in want.items() if k not in done]
    done |= set(want)
if not set(want) <= done:
    out += ["[alerts]"] + [f"{k} = {v}" for k, v in want.items()]
if "export" not in done:
    out += ["[export]", "agents = true"]
open(dst, "w", encoding="utf-8").write("\n".join(out) + "\n")
PY
"$BIN" check-config "$TMP/callpulse.toml" >/dev/null || die "the edited config does not validate"
"$BIN" rules --config "$TMP/callpulse.toml" >"$TMP/rules.yml"
grep -q '^        for: 10s$' "$TMP/rules.yml" || die "rules do not carry for: 10s"
grep -q '^        keep_firing_for: 30s$' "$TMP/rules.yml" || die "rules do not carry keep_firing_for: 30s"

cat >"$TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 2s
  scrape_timeout: 2s
  evaluation_interval: 2s
rule_files:
  - $TMP/rules.yml
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["127.0.0.1:$AM_PORT"]
scrape_configs:
  - job_name: callpulse
    static_configs:
      - targets: ["127.0.0.1:$CP_PORT"]
EOF
cat >"$TMP/alertmanager.yml" <<'EOF'
route:
  receiver: "null"
  group_by: [alertname, queue]
  group_wait: 1s
  group_interval: 5s
  repeat_interval: 1h
receivers:
  - name: "null"
EOF
mkdir -p "$TMP/tsdb" "$TMP/am"

# ---- start everything ------------------------------------------------------------------------
log "callpulse demo (understaffed, generous staffing, 2h backfill) on $CP; Prometheus on $PROM; Alertmanager on $AM"
"$BIN" demo --config "$TMP/callpulse.toml" --listen "127.0.0.1:$CP_PORT" --backfill 2h \
    --scenario understaffed --staffing generous >"$TMP/callpulse.log" 2>&1 &
PIDS+=($!)
CP_PID=$!
prometheus-alertmanager --config.file="$TMP/alertmanager.yml" --storage.path="$TMP/am" \
    --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= >"$TMP/alertmanager.log" 2>&1 &
PIDS+=($!)
AM_PID=$!
wait_http "$CP/readyz" 120 "callpulse demo" "$CP_PID"
wait_http "$AM/-/ready" 60 "alertmanager" "$AM_PID"
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/tsdb" \
    --web.listen-address="127.0.0.1:$PROM_PORT" >"$TMP/prometheus.log" 2>&1 &
PIDS+=($!)
PROM_PID=$!
wait_http "$PROM/-/ready" 60 "prometheus" "$PROM_PID"
T0=$SECONDS
log "all up; watching alerts (up to ${ALERT_WAIT}s)"

# ---- (a) + (b): watch Prometheus and Alertmanager ------------------------------------------------
# One python3 process per poll: reads both APIs, prints one status line, and records healthy-queue
# KPI alerts in $TMP/healthy-alerts.log.
poll() {
    curl -sf -m 5 "$PROM/api/v1/rules?type=alert" >"$TMP/rules.json" || return 1
    curl -sf -m 5 "$PROM/api/v1/alerts" >"$TMP/prom-alerts.json" || return 1
    curl -sf -m 5 "$AM/api/v2/alerts" >"$TMP/am-alerts.json" || return 1
    python3 - "$TMP" "$SALES" <<'PY'
import json, sys
tmp, sales = sys.argv[1], sys.argv[2]
rules = json.load(open(f"{tmp}/rules.json"))["data"]["groups"]
# The service-level breach alert: the rule on the recorded service level summed over instances
# (queue_window:callcenter_service_level:ratio), not the predicted breach, which reads it too
# to stay silent once the breach is there.
names = sorted({r["name"] for g in rules for r in g["rules"]
                if "queue_window:callcenter_service_level:ratio" in r["query"]
                and "callcenter_forecast_" not in r["query"]})
evaluated = any(g.get("lastEvaluation", "").startswith("2") and not g["lastEvaluation"].startswith("0001")
                for g in rules)
alerts = json.load(open(f"{tmp}/prom-alerts.json"))["data"]["alerts"]
bad = [a for a in alerts if "kpi" in a["labels"] and a["labels"].get("queue") not in (None, sales)
       and a["state"] in ("pending", "firing")]
with open(f"{tmp}/healthy-alerts.log", "a") as f:
    for a in bad:
        f.write(f'{a["labels"].get("alertname")} queue={a["labels"].get("queue")} state={a["state"]} value={float(a.get("value", "nan")):.4g}\n')
am = json.load(open(f"{tmp}/am-alerts.json"))
got = [a for a in am if a["labels"].get("alertname") in names and a["labels"].get("queue") == sales
       and a.get("status", {}).get("state") == "active"]
sales_prom = sorted({(a["labels"]["alertname"], a["state"]) for a in alerts if a["labels"].get("queue") == sales})
print(json.dumps({"names": names, "evaluated": evaluated, "received": bool(got),
                  "healthy_alerts": len(bad), "sales": sales_prom}))
PY
}

received=0
received_at=0
first_eval=-1
last=""
end=$((T0 + ALERT_WAIT))
while ((SECONDS < end)); do
    for pid in "$CP_PID" "$PROM_PID" "$AM_PID"; do kill -0 "$pid" 2>/dev/null || die "a process exited (pid $pid)"; done
    if status="$(poll)"; then
        if [ "$status" != "$last" ]; then log "t+$((SECONDS - T0))s $status"; last="$status"; fi
        if [ "$first_eval" -lt 0 ] && grep -q '"evaluated": true' <<<"$status"; then first_eval=$SECONDS; fi
        if [ "$received" = 0 ] && grep -q '"received": true' <<<"$status"; then
            received=1
            received_at=$((SECONDS - T0))
        fi
        if [ "$received" = 1 ] && [ "$first_eval" -ge 0 ] && ((SECONDS - first_eval >= MIN_OBSERVE)); then break; fi
    fi
    sleep 2
done
alert_name="$(python3 -c 'import json,sys; print(",".join(json.loads(sys.argv[1])["names"]))' "$status" 2>/dev/null || true)"
[ -n "$alert_name" ] || die "no alert rule on queue_window:callcenter_service_level:ratio in the generated rules"

failures=()
summary=()
if [ "$received" = 1 ]; then
    summary+=("(a) PASS: Alertmanager received $alert_name{queue=\"$SALES\"} ${received_at}s after Prometheus started")
else
    # Why not? Distinguish "the simulator did not collapse sales now" from a broken pipeline.
    diag="$(curl -sf -m 5 "$PROM/api/v1/query" --data-urlencode \
        "query={__name__=~\"callcenter_service_level_ratio|callcenter_sl_target_ratio|callcenter_breach|callcenter_sl_offered\",queue=\"$SALES\",window=~\"15m|\",kpi=~\"service_level|\"}" |
        python3 -c 'import json,sys; print("; ".join(r["metric"]["__name__"]+"="+r["value"][1] for r in json.load(sys.stdin)["data"]["result"]))' || true)"
    if python3 -c 'import sys; d=dict(p.split("=") for p in sys.argv[1].split("; ") if "=" in p); sys.exit(0 if d and float(d.get("callcenter_breach","0"))==0 else 1)' "$diag"; then
        failures+=("(a) the understaffed scenario did not collapse the service level of '$SALES' at $(date -u +%H:%MZ) (now: $diag): the simulator does not collapse '$SALES' at all times of day")
    else
        failures+=("(a) Alertmanager did not receive $alert_name{queue=\"$SALES\"} within ${ALERT_WAIT}s (Prometheus sees: $diag)")
    fi
fi
if [ -s "$TMP/healthy-alerts.log" ]; then
    failures+=("(b) KPI alerts pending/firing for queues other than '$SALES' at $(date -u +%H:%MZ): $(awk '!seen[$1 FS $2]++ {print $1, $2, $3, $4}' "$TMP/healthy-alerts.log" | paste -sd ';' -) -- the understaffed scenario does not keep the other queues within the bundled config's targets at this time of day")
else
    summary+=("(b) PASS: no KPI alert pending or firing for the healthy queues over $((SECONDS - T0))s")
fi

# ---- (c): the dashboards' queries ----------------------------------------------------------------
log "checking every query of deploy/grafana/dashboards/*.json against Prometheus"
if dash="$(python3 - "$PROM" "$SALES" deploy/grafana/dashboards/*.json <<'PY'
import json, re, sys, urllib.parse, urllib.request
prom, sales, files = sys.argv[1], sys.argv[2], sys.argv[3:]

def query(expr):
    url = prom + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(body)
    return body["data"]["result"]

# Grafana's built-in variables, and the dashboards' own (checked with every queue and "All").
BUILTIN = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h", "__range_s": "3600",
           "__interval_ms": "15000", "__range_ms": "3600000"}

def substitute(expr, values):
    def rep(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name in values:
            return values[name]
        raise KeyError(name)
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)", rep, expr)

def targets(panels):
    for p in panels:
        for t in p.get("targets", []):
            if t.get("expr"):
                yield p.get("title", "?"), t["expr"]
        yield from targets(p.get("panels", []))

empty, errors, checked = [], [], 0
for f in files:
    d = json.load(open(f))
    name = f.split("/")[-1]
    variables = {}
    for v in d.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            m = re.fullmatch(r"\s*label_values\((.+),\s*(\w+)\)\s*", q or "")
            if not m:
                errors.append(f"{name}: variable {v['name']}: cannot check query {q!r}")
                continue
            metric, label = m.groups()
            vals = sorted({r["metric"].get(label) for r in query(metric)} - {None})
            checked += 1
            if not vals:
                empty.append(f"{name}: variable ${v['name']} = {q}")
            variables[v["name"]] = vals
        elif v.get("type") == "custom":
            variables[v["name"]] = [o.strip() for o in v.get("query", "").split(",") if o.strip()]
    # Value sets to try: each multi-value query variable as ".*" (All) and, for "queue", the
    # collapsed queue; a single-value query variable at every value it offers (the window: each
    # window the export profile writes); custom variables at their current value.
    combos = [{}]
    for v in d.get("templating", {}).get("list", []):
        n = v["name"]
        if v.get("type") == "query" and not (v.get("multi") or v.get("includeAll")):
            opts = variables.get(n) or []
        elif v.get("type") == "query":
            opts = [".*"] + ([sales] if n == "queue" else [])
        elif v.get("type") == "custom":
            cur = v.get("current", {}).get("value")
            opts = [cur if isinstance(cur, str) else variables[n][0]]
        else:
            continue
        combos = [dict(c, **{n: o}) for c in combos for o in opts]
    for title, expr in targets(d.get("panels", [])):
        for combo in combos:
            try:
                e = substitute(expr, dict(BUILTIN, **combo))
            except KeyError as k:
                errors.append(f"{name}: {title}: unknown variable ${k.args[0]} in {expr}")
                break
            try:
                res = query(e)
            except Exception as ex:  # noqa: BLE001 - report and go on
                errors.append(f"{name}: {title}: {e}: {ex}")
                continue
            checked += 1
            if not res:
                empty.append(f"{name}: {title}: {e}")
print(f"{checked} queries checked")
for e in errors:
    print("ERROR " + e)
for e in empty:
    print("EMPTY " + e)
sys.exit(1 if errors or empty else 0)
PY
)"; then
    summary+=("(c) PASS: dashboards' queries all return data ($(head -n1 <<<"$dash"))")
else
    echo "$dash" >&2
    failures+=("(c) dashboard queries without data or failing: $(grep -c '^EMPTY\|^ERROR' <<<"$dash") (listed above)")
fi

echo
echo "== e2e-alerts summary"
for s in "${summary[@]}"; do echo "  $s"; done
for f in "${failures[@]}"; do echo "  FAIL $f"; done
if ((${#failures[@]})); then
    echo "e2e-alerts.sh: FAILED" >&2
    exit 1
fi
OK=1
rm -rf "$ROOT/target/test-output/e2e-alerts"   # logs of an earlier failed run
echo "e2e-alerts.sh: all checks passed"

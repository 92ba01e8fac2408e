#!/usr/bin/env bash
# The built-in wallboard (`/`) in headless Chromium against a live `callpulse demo` (1h of
# backfilled history), on loopback only:
#   - the DOM the page renders after it has loaded and refreshed once must hold one tile per
#     queue in /metrics, and every value element (data-kpi, data-value) must be the sample of
#     /metrics it shows: exactly the sample of the /metrics response the page itself received
#     (Chromium reaches callpulse through a small recording proxy, so a live demo's moving
#     gauges and sliding windows cannot make the comparison race); windowed KPIs for window
#     15m; a few displayed texts are checked against their values;
#   - a 1920x1080 screenshot is written to target/test-output/wallboard.png (look at it).
# What works: `chromium --headless --dump-dom --virtual-time-budget=8000` runs the page's
# fetch() of /metrics and its 5 s refresh timer (virtual time fast-forwards; it waits for
# pending network requests), so the dumped DOM is the page after its second poll. No
# remote-debugging protocol is needed. Runs take about a second per Chromium call.
# Installs Debian's chromium when missing; builds the release binary when it is older than the
# sources. Usage (from anywhere): tests/tools/wallboard.sh
#   CALLPULSE_BIN=path  use this binary instead of target/release/callpulse (no build)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/tools/lib.sh
. tests/tools/lib.sh
ATTEMPTS=3

log() { printf '[wallboard %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() { printf '[wallboard] FAIL: %s\n' "$*" >&2; exit 1; }

browser_test wallboard '*.txt'
start_demo

# ---- DOM vs /metrics ---------------------------------------------------------------------------
# compare BEFORE AFTER: the DOM against two /metrics reads (the same one for an exact check).
compare() {
    python3 - "$1" "$TMP/dom.html" "$2" <<'PY'
import math, re, sys
from html.parser import HTMLParser

WINDOW = "15m"
before_f, dom_f, after_f = sys.argv[1:4]

def parse_metrics(path):
    """{(name, frozenset(labels)): raw} from the text exposition."""
    out = {}
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)', line)
        if not m:
            continue
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        labels = {k: v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\") for k, v in labels.items()}
        out[(m.group(1), frozenset(labels.items()))] = m.group(4)
    return out

# kpi -> (metric, extra labels, windowed)
KPIS = {
    "service_level": ("callcenter_service_level_ratio", {}, True),
    "sl_target": ("callcenter_sl_target_ratio", {}, False),
    "contacts_waiting": ("callcenter_contacts_waiting", {}, False),
    "oldest_wait": ("callcenter_oldest_wait_seconds", {}, False),
    "agents_available": ("callcenter_agents", {"state": "available"}, False),
    "agents_busy": ("callcenter_agents", {"state": "busy"}, False),
    "agents_not_ready": ("callcenter_agents", {"state": "not_ready"}, False),
    "agents_wrapup": ("callcenter_agents", {"state": "wrapup"}, False),
    "abandon": ("callcenter_abandon_ratio", {}, True),
    "asa": ("callcenter_asa_seconds", {}, True),
    "aht": ("callcenter_aht_seconds", {}, True),
    "csat": ("callcenter_csat_score", {}, True),
    "nps": ("callcenter_nps_score", {}, True),
    "lost_customers": ("callcenter_lost_customer_ratio", {}, True),
    "repeat": ("callcenter_repeat_ratio", {}, True),
    "fcr": ("callcenter_fcr_ratio", {}, True),
    "first_response": ("callcenter_first_response_seconds", {"quantile": "0.5"}, True),
    "forecast_service_level": ("callcenter_forecast_service_level_ratio", {}, False),
    "agents_required": ("callcenter_forecast_agents_required", {}, False),
    "occupancy": ("callcenter_occupancy_ratio", {}, True),
    # "have": the forecast's n, a sum of three samples (SUMS)
    "agents_serving": ("callcenter_agents", {"state": "available+busy+wrapup"}, False),
}
SUMS = {"agents_serving": ("callcenter_agents", ("available", "busy", "wrapup"))}

def js_number(v):
    """A number as JavaScript's String() writes it (integers without a fraction)."""
    return str(int(v)) if v == int(v) and abs(v) < 1e15 else repr(v)

def lookup(m, kpi, key):
    """The raw sample a value element shows, or None (a sum: of its parts, all present)."""
    if kpi not in SUMS:
        return m.get(key)
    metric, states = SUMS[kpi]
    queue = dict(key[1])["queue"]
    parts = [m.get((metric, frozenset({"queue": queue, "state": st}.items()))) for st in states]
    if any(p is None or num(p) is None for p in parts):
        return None
    return js_number(sum(num(p) for p in parts))

class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tiles, self.values, self.stack, self.status = {}, [], [], None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section" and "tile" in (a.get("class") or "").split():
            self.tiles[a.get("data-queue")] = a.get("data-status")
        rec = None
        if "data-kpi" in a:
            rec = {"attrs": a, "text": ""}
            self.values.append(rec)
        if a.get("id") == "status":
            rec = self.status = {"attrs": a, "text": ""}
        self.stack.append((tag, rec))
    def handle_endtag(self, tag):
        while self.stack:
            t, _ = self.stack.pop()
            if t == tag:
                break
    def handle_data(self, data):
        for _, rec in self.stack:
            if rec is not None:
                rec["text"] += data

def num(raw):
    try:
        v = float(raw)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None

b, a = parse_metrics(before_f), parse_metrics(after_f)
dom = Dom()
dom.feed(open(dom_f, encoding="utf-8").read())

hard, drift, checked = [], [], 0
queues_b = {dict(k[1]).get("queue") for k in b if k[0].startswith("callcenter_")} - {None}
queues_a = {dict(k[1]).get("queue") for k in a if k[0].startswith("callcenter_")} - {None}
queues = queues_a | queues_b
if not queues:
    hard.append("no queue in /metrics")
if dom.status is None or not dom.status["text"].startswith("updated"):
    hard.append(f"page status is not 'updated ...': {dom.status and dom.status['text']!r}")
for q in sorted(queues):
    if q not in dom.tiles:
        (hard if q in queues_a and q in queues_b else drift).append(f"no tile for queue {q!r}")
for q in dom.tiles:
    if q not in queues:
        hard.append(f"tile for queue {q!r} that /metrics does not have")
    if dom.tiles[q] not in ("ok", "close", "breach", "none"):
        hard.append(f"tile {q!r}: data-status {dom.tiles[q]!r}")
seen = {}
for rec in dom.values:
    at = rec["attrs"]
    q, kpi, shown, text = at.get("data-queue"), at.get("data-kpi"), at.get("data-value"), rec["text"].strip()
    seen.setdefault(q, set()).add(kpi)
    if kpi not in KPIS:
        hard.append(f"{q}/{kpi}: unknown data-kpi")
        continue
    metric, extra, windowed = KPIS[kpi]
    labels = {"queue": q, **extra}
    if windowed:
        if at.get("data-window") != WINDOW:
            hard.append(f"{q}/{kpi}: data-window {at.get('data-window')!r}, want {WINDOW!r}")
        labels["window"] = WINDOW
    key = (metric, frozenset(labels.items()))
    rb, ra = lookup(b, kpi, key), lookup(a, kpi, key)
    # absent or not finite in /metrics -> the page shows "" and "no data"
    want = [r if num(r) is not None else "" for r in (rb, ra)]
    checked += 1
    where = f"{q}/{kpi} ({metric}{{{','.join(f'{k}={v}' for k, v in sorted(labels.items()))}}})"
    if shown == "":
        if text != "no data":
            hard.append(f"{where}: no data-value but text {text!r}")
        if "" not in want:
            drift.append(f"{where}: page has no data, /metrics has {rb!r} / {ra!r}")
        continue
    if shown in want:
        pass
    elif num(shown) is not None and all(num(w) is not None for w in want) and \
            min(map(num, want)) <= num(shown) <= max(map(num, want)):
        pass  # moved between the two reads, the page's value lies between them
    else:
        drift.append(f"{where}: page {shown!r}, /metrics before {rb!r}, after {ra!r}")
        continue
    v = num(shown)
    if v is None:
        hard.append(f"{where}: data-value {shown!r} is not a number")
        continue
    # the displayed text follows the value (to the digits shown)
    shown_num, step = None, None
    if kpi in ("service_level", "sl_target", "abandon", "forecast_service_level", "lost_customers", "repeat", "fcr", "occupancy"):
        m = re.fullmatch(r"(\d+(?:\.\d)?)%", text)
        digits = 1 if kpi == "abandon" else 0
        if m and len(m.group(1).partition(".")[2]) == digits:
            shown_num, step, v = float(m.group(1)), 10 ** -digits, v * 100
    elif kpi in ("oldest_wait", "asa", "aht", "first_response"):
        m = re.fullmatch(r"(?:(\d+):)?(\d\d):(\d\d)", text)
        if m:
            shown_num, step = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + int(m.group(3)), 1
    elif kpi == "csat":
        if re.fullmatch(r"\d\.\d\d", text):
            shown_num, step = float(text), 0.01
    elif kpi == "nps":
        if re.fullmatch(r"[+-]?\d+", text) and (text[0] in "+-" or text == "0"):
            shown_num, step = float(text), 1
    elif re.fullmatch(r"\d+", text):
        shown_num, step = float(text), 1
    if shown_num is None:
        hard.append(f"{where}: shows {text!r} for {shown}: not the expected format")
    elif abs(shown_num - v) > step / 2 + 1e-9:
        hard.append(f"{where}: shows {text!r} for {shown}")
for q in dom.tiles:
    missing = set(KPIS) - seen.get(q, set())
    if missing:
        hard.append(f"tile {q!r} lacks {sorted(missing)}")
# red is the server's breach decision alone (callcenter_breach applies min_volume)
def breached(m, q):
    return any(num(v) == 1 for (name, labels), v in m.items()
               if name == "callcenter_breach" and dict(labels).get("queue") == q
               and dict(labels).get("window") in (WINDOW, "now"))
for q in dom.tiles:
    bb, ba = breached(b, q), breached(a, q)
    red = dom.tiles[q] == "breach"
    if bb != ba:
        drift.append(f"tile {q!r}: callcenter_breach changed between the two reads")
    elif red != bb:
        hard.append(f"tile {q!r}: data-status {dom.tiles[q]!r}, but callcenter_breach says "
                    f"{'breached' if bb else 'not breached'}")
print(f"{len(dom.tiles)} tiles, {checked} values checked")
for h in hard:
    print("FAIL " + h)
for d in drift:
    print("DIFF " + d)
sys.exit(1 if hard else 2 if drift else 0)
PY
}

# ---- the recording proxy: Chromium's requests go through it; each /metrics body it passes on
# is kept as seen-N.txt, so the DOM is compared with exactly what the page was given.
read -r PROXY_PORT < <(free_ports 1)
PROXY="http://127.0.0.1:$PROXY_PORT"
python3 - "$PROXY_PORT" "$URL" "$TMP" >"$TMP/proxy.log" 2>&1 <<'PY' &
import http.server, itertools, os, sys, urllib.error, urllib.request
port, upstream, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
seq = itertools.count(1)

class Proxy(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            with urllib.request.urlopen(upstream + self.path, timeout=10) as r:
                status, headers, body = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, headers, body = e.code, e.headers, e.read()
        if self.path.split("?")[0].endswith("/metrics") and status == 200:
            n = next(seq)
            with open(os.path.join(out, f"seen-{n}.tmp"), "wb") as f:
                f.write(body)
            os.rename(os.path.join(out, f"seen-{n}.tmp"), os.path.join(out, f"seen-{n}.txt"))
        self.send_response(status)
        for k in ("Content-Type", "Cache-Control"):
            if headers.get(k):
                self.send_header(k, headers[k])
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

http.server.ThreadingHTTPServer(("127.0.0.1", port), Proxy).serve_forever()
PY
PROXY_PID=$!
wait_http "$PROXY/readyz" 30 "the recording proxy (see proxy.log)" "$PROXY_PID"

result=""
for attempt in $(seq 1 "$ATTEMPTS"); do
    rm -f "$TMP"/seen-*.txt
    chrome --virtual-time-budget=8000 --dump-dom "$PROXY/" >"$TMP/dom.html" || die "chromium --dump-dom failed (see chromium.log)"
    # the page's last poll is the one its DOM shows; an earlier one is tried too (a poll
    # still in flight when the DOM was dumped)
    mapfile -t seen < <(find "$TMP" -maxdepth 1 -name 'seen-*.txt' | sort -V -r)
    ((${#seen[@]})) || die "the page never read /metrics (see chromium.log, proxy.log)"
    rc=2
    for s in "${seen[@]}"; do
        set +e
        result="$(compare "$s" "$s")"
        rc=$?
        set -e
        [ "$rc" != 0 ] || break
    done
    if [ "$rc" = 0 ]; then
        log "attempt $attempt: DOM matches the /metrics response the page received ($(head -n1 <<<"$result"); ${#seen[@]} polls)"
        break
    fi
    while IFS= read -r line; do echo "    $line"; done <<<"$result"
    if [ "$rc" = 1 ]; then
        die "the wallboard's DOM is wrong (attempt $attempt)"
    fi
    log "attempt $attempt: the DOM differs from every /metrics response the page received; retrying"
    sleep 1
done
[ "$rc" = 0 ] || die "the wallboard's values differ from the /metrics it read, in $ATTEMPTS attempts"

# ---- screenshot ------------------------------------------------------------------------------------
mkdir -p "$OUT"
rm -f "$OUT/wallboard.png"
chrome --virtual-time-budget=8000 --window-size=1920,1080 --screenshot="$OUT/wallboard.png" "$URL/" >/dev/null ||
    die "chromium --screenshot failed (see chromium.log)"
python3 - "$OUT/wallboard.png" <<'PY' || die "bad screenshot"
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", data[16:24])
assert (w, h) == (1920, 1080), f"{w}x{h}, want 1920x1080"
assert len(data) > 20000, f"only {len(data)} bytes: blank page?"
PY
log "screenshot: $OUT/wallboard.png"
OK=1
rm -rf "$OUT/wallboard"   # DOM and logs of an earlier failed run
echo "wallboard.sh: all checks passed"

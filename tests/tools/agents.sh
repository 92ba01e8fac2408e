#!/usr/bin/env bash
# The wallboard's agents view (`/agents`) and the longest waiting contacts on the queue tiles
# (`/`) in headless Chromium against a live `callpulse demo` (1h of backfilled history), on
# loopback only. Chromium reaches callpulse through a recording proxy that keeps every
# /api/v1/agents and /api/v1/waiting body it passes on, so the DOM is compared with exactly
# the response the page received:
#   - one card per agent of the response, in its order (order=state: not ready, wrap-up, busy,
#     available; longest in state first), each card's data-agent, data-state, data-level,
#     data-seconds, data-reason, data-conversation, data-on-hold, data-handled and its shown
#     time equal to the agent's fields; the demo must show agents in more than one state;
#   - every queue tile's longest waiting contacts (data-position, data-wait) equal to the
#     queue's first rows of the /api/v1/waiting response;
#   - a 1920x1080 screenshot of the agents view: target/test-output/agents.png.
# Usage (from anywhere): tests/tools/agents.sh   (CALLPULSE_BIN=path: use this binary)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/tools/lib.sh
. tests/tools/lib.sh
ATTEMPTS=3

log() { printf '[agents %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() { printf '[agents] FAIL: %s\n' "$*" >&2; exit 1; }

browser_test agents '*.json'
start_demo


# ---- the recording proxy ---------------------------------------------------------------------
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
        path = self.path.split("?")[0]
        for kind in ("agents", "waiting"):
            if path.endswith("/api/v1/" + kind) and status == 200:
                n = next(seq)
                tmp = os.path.join(out, f"{kind}-{n}.tmp")
                with open(tmp, "wb") as f:
                    f.write(body)
                os.rename(tmp, os.path.join(out, f"{kind}-{n}.json"))
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

# compare KIND RESPONSE: the dumped DOM against one recorded response; 0 equal, 2 different
# (another response may be the one shown), 1 wrong whatever the response.
compare() {
    python3 - "$1" "$TMP/dom.html" "$2" <<'PY'
import json, sys
from html.parser import HTMLParser

kind, dom_f, page_f = sys.argv[1:4]

def fmt(sec):
    t = max(0, round(sec))
    h, m, s = t // 3600, t % 3600 // 60, t % 60
    return f"{h}:{m:02}:{s:02}" if h else f"{m:02}:{s:02}"

class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.cards, self.waits, self.time = [], [], None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag == "section" and "agent" in cls:
            self.cards.append({**{k: v for k, v in a.items() if k.startswith("data-")}, "time": ""})
        if "time" in cls and self.cards:
            self.time = self.cards[-1]
        if tag == "span" and "wait" in cls:
            self.waits.append((a.get("data-queue"), a.get("data-position"), a.get("data-wait")))
    def handle_endtag(self, tag):
        self.time = None
    def handle_data(self, data):
        if self.time is not None:
            self.time["time"] += data

dom = Dom()
dom.feed(open(dom_f, encoding="utf-8").read())
page = json.load(open(page_f, encoding="utf-8"))
hard, diff = [], []
if kind == "agents":
    want = []
    for a in page["agents"]:
        c = a["conversation"]
        secs = a["seconds_in_state"]
        want.append({
            "data-agent": a["agent"], "data-state": a["state"], "data-level": a["level"],
            "data-seconds": "" if secs is None else str(secs), "data-reason": a["reason"] or "",
            "data-conversation": c["queue"] if c else "",
            "data-on-hold": "true" if c and c["on_hold"] else "false",
            "data-handled": str(sum(h["count"] for h in a["handled_today"])),
            "time": "\u2013" if secs is None else fmt(secs),
        })
    rank = {"not_ready": 0, "wrapup": 1, "busy": 2, "available": 3, "unknown": 4, "logged_out": 5}
    order = [(rank[a["state"]], -(a["seconds_in_state"] or 0)) for a in page["agents"]]
    if order != sorted(order):
        hard.append("the response is not in state order, longest in state first")
    if len({a["state"] for a in page["agents"]}) < 2:
        hard.append(f"the demo shows agents in fewer than two states: {page['agents'][:3]}")
    if dom.cards != want:
        got = {c.get("data-agent"): c for c in dom.cards}
        for w in want:
            if got.get(w["data-agent"]) != w:
                diff.append(f"card {w['data-agent']}: {got.get(w['data-agent'])} != {w}")
                break
        diff.append(f"{len(dom.cards)} cards, {len(want)} agents in the response")
    print(f"{len(dom.cards)} agent cards checked")
else:
    shown = {}
    for w in page["waiting"]:
        if w["position"] <= 3:
            shown.setdefault(w["queue"], []).append((w["queue"], str(w["position"]), str(w["wait_seconds"])))
    want = [r for q in sorted(shown) for r in shown[q]]
    got = sorted(dom.waits, key=lambda r: (r[0], int(r[1])))
    if got != want:
        diff.append(f"waiting on tiles {got} != response {want}")
    print(f"{len(got)} waiting contacts on tiles checked")
for h in hard:
    print("FAIL " + h)
for d in diff:
    print("DIFF " + d)
sys.exit(1 if hard else 2 if diff else 0)
PY
}

# check KIND PATH: dumps PATH's DOM and compares it with the KIND responses it received.
check() {
    local kind="$1" path="$2" rc=2 result=""
    for attempt in $(seq 1 "$ATTEMPTS"); do
        rm -f "$TMP"/agents-*.json "$TMP"/waiting-*.json
        chrome --virtual-time-budget=8000 --dump-dom "$PROXY$path" >"$TMP/dom.html" ||
            die "chromium --dump-dom failed (see chromium.log)"
        mapfile -t seen < <(find "$TMP" -maxdepth 1 -name "$kind-*.json" | sort -V -r)
        ((${#seen[@]})) || die "the page never read /api/v1/$kind (see chromium.log, proxy.log)"
        for s in "${seen[@]}"; do
            set +e
            result="$(compare "$kind" "$s")"
            rc=$?
            set -e
            [ "$rc" != 0 ] || break
        done
        if [ "$rc" = 0 ]; then
            log "$path: DOM matches the /api/v1/$kind response the page received ($(head -n1 <<<"$result"))"
            return
        fi
        while IFS= read -r line; do echo "    $line"; done <<<"$result"
        [ "$rc" != 1 ] || die "$path: the DOM is wrong"
        log "$path attempt $attempt: the DOM differs from every response the page received; retrying"
        sleep 1
    done
    die "$path: the DOM differs from the /api/v1/$kind responses it read, in $ATTEMPTS attempts"
}

check agents /agents
check waiting /

mkdir -p "$OUT"
rm -f "$OUT/agents.png"
chrome --virtual-time-budget=8000 --window-size=1920,1080 --screenshot="$OUT/agents.png" "$URL/agents" >/dev/null ||
    die "chromium --screenshot failed (see chromium.log)"
python3 - "$OUT/agents.png" <<'PY' || die "bad screenshot"
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", data[16:24])
assert (w, h) == (1920, 1080), f"{w}x{h}, want 1920x1080"
assert len(data) > 20000, f"only {len(data)} bytes: blank page?"
PY
log "screenshot: $OUT/agents.png"
OK=1
rm -rf "$OUT/agents"
echo "agents.sh: all checks passed"

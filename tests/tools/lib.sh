# Shared by the tool tests (source it): Debian packages on demand, and the callpulse binary.

# apt_install PKG...: installs Debian packages (after `apt-get update`); nothing when none given.
apt_install() {
    (($#)) || return 0
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing $* (Debian packages)" >&2
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "$@"
}

# callpulse_bin: prints $CALLPULSE_BIN, or target/release/callpulse after building it when it is
# missing or older than the sources. Run from the repository root.
callpulse_bin() {
    if [ -n "${CALLPULSE_BIN:-}" ]; then
        echo "$CALLPULSE_BIN"
        return
    fi
    local bin="${CARGO_TARGET_DIR:-$PWD/target}/release/callpulse"
    if [ ! -x "$bin" ] || [ -n "$(find src config Cargo.toml Cargo.lock -newer "$bin" -print -quit)" ]; then
        echo "building the release binary (it is missing or older than the sources)" >&2
        cargo build --release >&2
    fi
    echo "$bin"
}

# free_ports N: N free loopback ports on one line (bound and released at once; a race with
# another process is unlikely).
free_ports() {
    python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
' "$1"
}

# wait_http URL SECONDS NAME PID: until URL answers 200, the process dies, or time runs out
# (reported through the calling script's `die`).
wait_http() {
    local url="$1" secs="$2" name="$3" pid="$4" end=$((SECONDS + $2))
    while ((SECONDS < end)); do
        kill -0 "$pid" 2>/dev/null || die "$name exited while starting"
        [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" || true)" = 200 ] && return 0
        sleep 0.5
    done
    die "$name not ready at $url within ${secs}s"
}

# browser_test NAME KEPT: the start of a headless-Chromium test of one of callpulse's pages,
# named NAME: log and die, chromium, curl and python3 installed when missing ($CHROME), the
# callpulse binary ($BIN), a scratch folder ($TMP) whose logs, pages and KEPT files (a glob,
# e.g. '*.json') are kept in target/test-output/NAME when the test fails ($OK=1 when it passed),
# and a cleanup on exit that stops the demo ($PID) and a proxy ($PROXY_PID). Sets ROOT, OUT.
browser_test() {
    TEST_NAME="$1"
    TEST_KEPT="$2"
    ROOT="$PWD"
    OUT="$ROOT/target/test-output"
    local need=()
    CHROME=""
    for c in chromium chromium-browser; do command -v "$c" >/dev/null 2>&1 && { CHROME="$c"; break; }; done
    [ -n "$CHROME" ] || need+=(chromium)
    command -v curl >/dev/null 2>&1 || need+=(curl)
    command -v python3 >/dev/null 2>&1 || need+=(python3)
    apt_install "${need[@]}"
    CHROME="${CHROME:-chromium}"
    BIN="$(callpulse_bin)"
    [ -x "$BIN" ] || die "no callpulse binary at $BIN"
    TMP="$(mktemp -d "${TMPDIR:-/tmp}/callpulse-$TEST_NAME.XXXXXX")"
    PID=""
    PROXY_PID=""
    OK=0
    trap browser_test_cleanup EXIT
    trap 'exit 130' INT TERM
}

browser_test_cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ -z "$PROXY_PID" ] || kill "$PROXY_PID" 2>/dev/null || true
    if [ -n "$PID" ]; then
        kill "$PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    if [ "$OK" != 1 ]; then
        mkdir -p "$OUT/$TEST_NAME"
        # shellcheck disable=SC2086 # TEST_KEPT is a glob
        cp "$TMP"/*.log "$TMP"/*.html "$TMP"/$TEST_KEPT "$OUT/$TEST_NAME/" 2>/dev/null || true
        echo "---- last lines of callpulse.log" >&2
        tail -n 15 "$TMP/callpulse.log" >&2 2>/dev/null || true
        echo "[$TEST_NAME] pages, responses and logs kept in $OUT/$TEST_NAME" >&2
        [ "$rc" -ne 0 ] || rc=1
    fi
    rm -rf "$TMP"
    exit "$rc"
}

# start_demo: `callpulse demo` with an hour of backfilled history on a free port ($PORT, $URL,
# $PID), ready.
start_demo() {
    read -r PORT < <(free_ports 1)
    URL="http://127.0.0.1:$PORT"
    log "callpulse demo (1h backfill) on $URL"
    "$BIN" demo --listen "127.0.0.1:$PORT" --backfill 1h >"$TMP/callpulse.log" 2>&1 &
    PID=$!
    wait_http "$URL/readyz" 120 "callpulse demo" "$PID"
}

# chrome ARGS...: headless Chromium, a fresh profile each time, bounded.
chrome() {
    local profile
    profile="$(mktemp -d "$TMP/profile.XXXXXX")"
    timeout 90 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-dev-shm-usage --hide-scrollbars --user-data-dir="$profile" "$@" 2>>"$TMP/chromium.log"
}

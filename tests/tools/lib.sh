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

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

#!/usr/bin/env bash
# Validates the deploy/ monitoring files: Prometheus config, the generated alerting rules and
# their unit tests (promtool), the Alertmanager config and its routing (amtool), and that the
# Grafana dashboards are valid JSON. Installs Debian's prometheus / prometheus-alertmanager
# packages when promtool / amtool are missing. Run from anywhere; exits non-zero on any failure.
set -euo pipefail

cd "$(dirname "$0")/../.."
# shellcheck source=tests/tools/lib.sh
. tests/tools/lib.sh

need_install=()
command -v promtool >/dev/null 2>&1 || need_install+=(prometheus)
command -v amtool >/dev/null 2>&1 || need_install+=(prometheus-alertmanager)
apt_install "${need_install[@]}"

failed=0
run() {
    echo "== $*"
    if ! "$@"; then
        echo "FAILED: $*" >&2
        failed=1
    fi
}

run promtool check config deploy/prometheus/prometheus.yml
run promtool check rules --lint-fatal deploy/prometheus/callpulse-rules.yml
run promtool test rules deploy/prometheus/callpulse-rules.test.yml
run amtool check-config deploy/alertmanager/alertmanager.yml

# The exposition itself: every family callpulse writes, through promtool's parser and linter.
exposition() {
    "$(callpulse_bin)" replay --config tests/fixtures/replay.toml tests/fixtures/replay.jsonl 2>/dev/null | promtool check metrics
}
run exposition

# Routing: page -> pager, ticket -> ticket.
route_is() {
    local want="$1"
    shift
    local got
    got="$(amtool config routes test --config.file=deploy/alertmanager/alertmanager.yml "$@")"
    if [ "$got" != "$want" ]; then
        echo "route of $*: got '$got', want '$want'" >&2
        return 1
    fi
    echo "route of $*: $got"
}
run route_is pager severity=page alertname=CallcenterServiceLevelBreach queue=sales
run route_is ticket severity=ticket alertname=CallcenterAbandonRateBreach queue=sales
run route_is ticket alertname=Unknown

for f in deploy/grafana/dashboards/*.json; do
    run python3 -m json.tool "$f" /dev/null
done

if ((failed)); then
    echo "promtool.sh: FAILED" >&2
    exit 1
fi
echo "promtool.sh: all checks passed"

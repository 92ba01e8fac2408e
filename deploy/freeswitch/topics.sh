#!/bin/sh
# One single-partition topic per FreeSWITCH host, with room for events of up to 1 MiB (they carry
# every channel variable). Usage: topics.sh BOOTSTRAP host1 [host2 ...]
set -eu
bootstrap=$1
shift
for host in "$@"; do
  kafka-topics.sh --bootstrap-server "$bootstrap" --create --if-not-exists \
    --topic "fs.$host.callcenter" --partitions 1 --replication-factor 3 \
    --config max.message.bytes=1048576 --config retention.ms=604800000
done

#!/usr/bin/env bash
# Builds and starts the Vault transit harness in the background on
# 127.0.0.1 (port 8200 if free, else a free port) with a random token,
# waits until it is healthy, and prints the lines to eval:
#
#   eval "$(bash internal/vaultharness/start.sh)"
#   go test github.com/fieldcrypt/fieldcrypt/keys/vaultkms/ github.com/fieldcrypt/fieldcrypt/keys/tinkkms/
#   kill "$VAULT_HARNESS_PID"        # when done (start.sh prints it too)
#
# Only the export lines go to standard output; progress goes to stderr.
# Environment: VAULT_HARNESS_PORT (default 8200, 0 = any free port),
# VAULT_HARNESS_DIR (binary, log; default ${TMPDIR:-/tmp}/fieldcrypt-vaultharness).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${VAULT_HARNESS_DIR:-${TMPDIR:-/tmp}/fieldcrypt-vaultharness}"
mkdir -p "$dir"
bin="$dir/vault-transit-harness"

echo "vaultharness: building (the first build compiles Vault's transit engine and takes minutes)" >&2
(cd "$here" && GOWORK=off go build -o "$bin" ./cmd/vault-transit-harness) >&2

port="${VAULT_HARNESS_PORT:-8200}"
if [ "$port" != 0 ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "vaultharness: port $port is in use; using a free port" >&2
  port=0
fi
token="fieldcrypt-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
out="$dir/harness.$$.out"
VAULT_TOKEN="$token" nohup "$bin" -port "$port" -mount transit >"$out" 2>"$dir/harness.$$.log" </dev/null &
pid=$!

addr=""
for _ in $(seq 1 100); do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "vaultharness: exited; log:" >&2
    cat "$dir/harness.$$.log" >&2
    exit 1
  fi
  addr="$(sed -n 's/^VAULT_ADDR=//p' "$out" 2>/dev/null || true)"
  if [ -n "$addr" ] && curl -fsS "$addr/v1/sys/health" >/dev/null 2>&1; then
    echo "vaultharness: healthy at $addr (pid $pid, log $dir/harness.$$.log)" >&2
    echo "export VAULT_ADDR=$addr"
    echo "export VAULT_TOKEN=$token"
    echo "export VAULT_HARNESS_PID=$pid"
    exit 0
  fi
  sleep 0.1
done
echo "vaultharness: not healthy after 10 s" >&2
kill "$pid" 2>/dev/null || true
exit 1

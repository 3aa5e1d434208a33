#!/usr/bin/env bash
# The README's first command on a plain `pip install .` (no extras) in a fresh venv, then
# `truthset serve` until /login answers 200. CI installs the extras for the tests; this step
# proves the path a new user takes (the web app once crashed there while the tests passed).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
python3 -m venv "$work/venv"
# the README's first command, run with the fresh venv's python and scripts
export PATH="$work/venv/bin:$PATH"
unset TRUTHSET_DATABASE_URL PYTHONPATH
cp -r "$repo" "$work/src"
rm -rf "$work/src/.git" "$work/src/build" "$work/src"/src/*.egg-info
cd "$work"
if ! (cd "$work/src" && python3 -m pip install --quiet --disable-pip-version-check . >"$work/pip.log" 2>&1 \
      && truthset demo "$work/demo" >"$work/demo.log" 2>&1); then
  echo "plain install: 'pip install . && truthset demo' failed:" >&2
  tail -50 "$work/pip.log" "$work/demo.log" >&2 2>/dev/null || true
  exit 1
fi
if python3 -c "import greenlet" 2>/dev/null; then
  echo "plain install: note: greenlet came with the core dependencies"
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cd "$work/demo"
truthset serve --port "$port" >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 60); do
  code=$(python3 -c "import urllib.request,sys
try:
    print(urllib.request.urlopen('http://127.0.0.1:$port/login', timeout=2).status)
except Exception as e:
    print(0)")
  if [ "$code" = "200" ]; then
    echo "plain install: truthset demo and truthset serve work (/login answered 200)"
    exit 0
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
  sleep 1
done
echo "plain install: truthset serve did not answer 200 on /login; its output:" >&2
cat "$work/serve.log" >&2
exit 1

#!/usr/bin/env bash
# The two commands of the README. Each installs what it needs first (idempotent).
#   ./run.sh demo   -> relight demo: synth -> fit -> render -> export -> report on the built-in
#                      default scene (spot), into out/demo
#   ./run.sh test   -> run the test suite
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/bootstrap.sh
case "${1:-}" in
  demo)
    shift
    time .venv/bin/relight demo -o out/demo --overwrite "$@"
    cat out/demo/asset/metrics.md
    ;;
  test)
    shift
    .venv/bin/ruff check relight cli tests bench scenes
    set +e
    .venv/bin/python -m pytest -q "$@"
    rc=$?
    [ $rc -eq 5 ] && { echo "no tests collected" >&2; exit 1; }
    exit $rc
    ;;
  *)
    echo "usage: ./run.sh demo|test [extra args]" >&2; exit 2 ;;
esac

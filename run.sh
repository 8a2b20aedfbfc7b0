#!/usr/bin/env bash
# The two commands of the README. Each installs what it needs first (idempotent).
#   ./run.sh demo   -> render the built-in default scene (spot) into out/spot
#   ./run.sh test   -> run the test suite
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/bootstrap.sh
case "${1:-}" in
  demo)
    shift
    time .venv/bin/relight synth spot -o out/spot --overwrite "$@"
    .venv/bin/relight inspect out/spot --split test
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

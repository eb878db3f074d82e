#!/usr/bin/env bash
# Runs tests on a shifted clock, to catch tests that pass only at some hours of the day (opening
# hours, local midnights, "today"): the whole process tree sees the clock moved by OFFSET through
# libfaketime (Debian: apt-get install faketime); the browser tests' pages get the same clock.
#   bash scripts/test-at.sh +5h45m [test files…]      (OFFSET as libfaketime takes it: +12h, -5h, +90m…)
# The database servers keep the real clock: the code under test never asks them the time.
set -euo pipefail
cd "$(dirname "$0")/.."
offset="${1:?usage: bash scripts/test-at.sh OFFSET [test files…]}"; shift
lib=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -1 || true)
[ -n "$lib" ] || { echo "libfaketime is not installed (apt-get install faketime)" >&2; exit 2; }
export LD_PRELOAD="$lib" FAKETIME="$offset" FAKETIME_DONT_FAKE_MONOTONIC=1
exec node_modules/.bin/node scripts/test.ts "$@"

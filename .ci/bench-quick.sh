#!/usr/bin/env bash
# Issue #8: the quick benchmark. Builds and runs the floor (../shared/limit),
# starts lianxin on the compound profile (or the demo world), loads both with
# 64 clients for a few seconds and fails only on an order-of-magnitude
# regression: create-demand < 0.05x the floor's insert or list < 0.06x its
# read (same machine, same run: no absolute timing).
#
# It reuses the debug `lianxin` that the test steps and openapi-fuzz.sh build
# (a release build would not fit the time), which is why the margins are wide.
set -euo pipefail
cd "$(dirname "$0")/.."

limit_src=${LIANXIN_LIMIT_SRC:-../shared/limit}
cargo build --quiet -p app --bin lianxin
cargo run --quiet -p lianxin-bench -- --quick \
    --lianxin-bin target/debug/lianxin --limit-src "$limit_src"

#!/usr/bin/env bash
# `cargo deny check licenses bans sources` with a pinned cargo-deny (policy in
# deny.toml). The binary is built once with `cargo install --locked` (about 5
# minutes on 2 cores) and reused: from ~/.cargo/bin when that is the pinned
# version, else from target/ci-tools (kept between runs on the same machine).
set -euo pipefail

VERSION=0.20.2
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"

have_version() { # binary
    [[ -x "$1" ]] && "$1" --version 2>/dev/null | grep -q " $VERSION\$"
}

BIN=""
for candidate in "${CARGO_HOME:-$HOME/.cargo}/bin/cargo-deny" "$REPO_ROOT/target/ci-tools/bin/cargo-deny"; do
    if have_version "$candidate"; then
        BIN=$candidate
        break
    fi
done
if [[ -z "$BIN" ]]; then
    echo "[cargo-deny] installing cargo-deny $VERSION into target/ci-tools"
    cargo install --locked --version "$VERSION" --root "$REPO_ROOT/target/ci-tools" cargo-deny
    BIN="$REPO_ROOT/target/ci-tools/bin/cargo-deny"
fi
echo "[cargo-deny] $("$BIN" --version)"
# cargo-deny runs as `cargo-deny deny …` when called directly.
exec "$BIN" deny --locked check licenses bans sources

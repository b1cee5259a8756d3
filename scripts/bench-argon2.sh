#!/usr/bin/env bash
# Password hashing speed (release profile) and what it becomes at each Lambda memory size: the
# computation behind template.yaml's memory sizes for the functions that hash passwords.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --locked --quiet -p roster-shared --example argon2

#!/usr/bin/env bash
# The one test command: sets up what the tests need, then runs every test.
# Installs chromium and chromium-driver when missing (Debian), creates .venv
# with the reference Python clients (standardwebhooks, svix, slack_sdk, selenium)
# on first use, then runs the whole workspace's tests, benches included
# (criterion benches run once each with tiny inputs under `cargo test`).
set -euo pipefail
cd "$(dirname "$0")/.."
# The console's browser test drives Debian's chromium through chromium-driver.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium chromium-driver
fi
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import standardwebhooks, svix, slack_sdk, selenium, schemathesis, openapi_spec_validator, cryptography' 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r tests/py/requirements.txt
fi
# promtool (from Debian's prometheus package, extracted, not installed as a
# service) checks the /metrics exposition.
if [ ! -x target/tools/promtool ]; then
  mkdir -p target/tools/deb
  (cd target/tools/deb && apt-get download prometheus >/dev/null && dpkg -x prometheus_*.deb x)
  cp target/tools/deb/x/usr/bin/promtool target/tools/promtool
  rm -rf target/tools/deb
fi
export RINGHOOK_PROMTOOL="$PWD/target/tools/promtool"
export RINGHOOK_TEST_PYTHON="$PWD/.venv/bin/python"
cargo test --workspace --all-targets "$@"
# The cargo-fuzz wrappers of the fuzz targets (run for seconds each above, by
# tests/fuzz_targets.rs) must keep building; docs/fuzzing.md runs them long.
cargo check --quiet --manifest-path tests/fuzz/Cargo.toml

#!/usr/bin/env bash
# Set up (virtualenv, requirements, Chromium for the browser tests) and run the tests.
# Extra arguments go to pytest: ./test.sh tests/test_paths.py -k jsonpath
# DATABASE_URL and REDIS_URL run the same suite on PostgreSQL and the Redis broker.
# Quicker: ./test.sh -m "not slow" (the quick selection), ./test.sh -n 2 (in parallel): README, "Quicker test runs".
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh

if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's Chromium for the browser tests"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "Could not install Chromium: the browser tests will be skipped."
fi

# tests.parallel: each xdist worker its own Redis database and cache directory (it must load before Django's settings).
exec python -m pytest -p tests.parallel "$@"

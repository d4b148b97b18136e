#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine, then run it.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -r requirements-dev.txt
python -m pip install -q --no-deps -e .
# Headless Chromium for the browser test and TTS engines for the corpus test (Debian packages).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! command -v espeak-ng >/dev/null; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver espeak-ng flite sox >/dev/null) \
      || echo "warning: could not install chromium/espeak-ng; the tests that need them will be skipped"
  else
    echo "warning: not root: install chromium chromium-driver espeak-ng to run every test"
  fi
fi
python -m pytest "$@"

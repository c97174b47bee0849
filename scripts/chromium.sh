#!/usr/bin/env bash
# Headless Chromium for the test that opens report.html in a browser (crates/ablate/tests/browser.rs),
# idempotently: Debian's `chromium`, installed as root with apt. Fails loudly when it cannot be had:
# the browser test does not skip itself.
set -euo pipefail
if [ -x /usr/bin/chromium ] || [ -x /usr/bin/chromium-browser ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  echo "installed chromium (headless, for the report.html test)"
else
  echo "error: no /usr/bin/chromium, and it cannot be installed here (not root with apt);" \
    "install Debian's chromium to run the report.html browser test" >&2
  exit 1
fi

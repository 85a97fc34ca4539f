#!/usr/bin/env bash
# The browser tests drive Debian's chromium (browsers cannot be downloaded by Playwright here).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's chromium for the browser tests…"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "chromium is missing: install Debian's package 'chromium' (sudo apt-get install chromium)." >&2
exit 1

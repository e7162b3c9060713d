#!/usr/bin/env bash
# Part of the README's set-up: the system programs the tests need besides Python. The browser tests drive Debian's
# Chromium (Playwright's own browser download does not work offline); the formula reader's parity tests run its
# JavaScript in Node.js. On Debian or Ubuntu this installs whichever is missing with apt-get (with sudo when not root);
# elsewhere it says what to install, and the tests that need it then fail saying the same.
set -euo pipefail
need=()
chromium=""
for exe in /usr/bin/chromium /usr/bin/chromium-browser; do [ -x "$exe" ] && chromium="$exe" && break; done
[ -n "$chromium" ] || need+=(chromium)
command -v node >/dev/null || need+=(nodejs)
if [ ${#need[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "set-up: ${need[*]} not installed and no apt-get here; install Chromium at /usr/bin/chromium and Node.js >= 18" >&2
    exit 1
  fi
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "set-up: installing ${need[*]} with apt-get (about a minute)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || /usr/bin/chromium-browser --version)"
echo "node: $(node --version)"

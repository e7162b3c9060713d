#!/usr/bin/env bash
# Part of the README's set-up: the browser tests drive Debian's Chromium (Playwright's own browser download does not
# work offline). On Debian or Ubuntu this installs it with apt-get (with sudo when not root); elsewhere it says how to
# get one, and the browser tests then skip with a message that says the same.
set -euo pipefail
for exe in /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -x "$exe" ]; then echo "chromium: $("$exe" --version 2>/dev/null || echo "$exe")"; exit 0; fi
done
if ! command -v apt-get >/dev/null; then
  echo "chromium: not installed and no apt-get here; install Chromium at /usr/bin/chromium to run the browser tests" >&2
  exit 0
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
echo "chromium: installing Debian's chromium package with apt-get (about a minute)"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
echo "chromium: $(/usr/bin/chromium --version)"

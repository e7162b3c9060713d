#!/usr/bin/env bash
# Make (or reuse) the torch_xla test environment and print its python's path on the last line
# (with --path: only the environment's folder, nothing made).
# torch_xla 2.9.0 imports only beside torch 2.9.0 exactly (FACTS.md), so this venv is separate from .venv.
# It lives outside the checkout (7 GB, ~4 min to build) and is reused while it still imports; a broken or
# half-built one (no .complete marker) is rebuilt from scratch.
set -euo pipefail
XLA_VERSION=2.9.0
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${HASY_XLA_VENV:-${HASY_NB_HOME:-$HOME/.cache/hasy_nb}/xla-venv-$XLA_VERSION}"
# --path: print where the environment lives (made or not) and stop
if [ "${1:-}" = "--path" ]; then echo "$venv"; exit 0; fi
py="$venv/bin/python"
log="$(mktemp)"
check() {
  [ -f "$venv/.complete" ] && PJRT_DEVICE=CPU "$py" -c \
    "import torch, torch_xla; assert torch.__version__.startswith('$XLA_VERSION'), torch.__version__" >/dev/null 2>&1
}
if check; then
  echo "xla env: reusing $venv" >&2
else
  echo "xla env: building $venv (torch==$XLA_VERSION torch_xla==$XLA_VERSION, about 4 GB download)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  if ! "$venv/bin/pip" install -q --disable-pip-version-check "torch==$XLA_VERSION" "torch_xla==$XLA_VERSION" \
      numpy pillow matplotlib fastprogress fastcore pandas pytest nbdev >"$log" 2>&1; then
    grep -v "^WARNING: Location" "$log" >&2; echo "xla env: pip install failed" >&2; exit 1
  fi
  touch "$venv/.complete"
  check || { echo "xla env: torch_xla does not import in $venv" >&2; exit 1; }
fi
if ! "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -e "$root" >"$log" 2>&1; then
  grep -v "^WARNING: Location" "$log" >&2; echo "xla env: installing hasy_nb failed" >&2; exit 1
fi
rm -f "$log"
echo "$py"

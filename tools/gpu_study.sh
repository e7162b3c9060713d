#!/usr/bin/env bash
# The study's remaining compute on a lent GPU, in one call of the device tool (issues 13, 27, 29).
#
# Here, once per session (fetches two pure-Python wheels the GPU machine lacks; copies the archive):
#   bash tools/gpu_study.sh --prepare
# On the GPU machine (the device tool's `run`, with carry=["gpu"] and timeout_s about 60 more than SECONDS):
#   bash tools/gpu_study.sh [SECONDS]        # default 480
# It records `bench/train_speed.py --device cuda` (every model x mode: fp32, channels-last, bf16 autocast, fused AdamW,
# torch.compile; the same run), then runs the study's parts in the order of their value (converge: stage 2, in bf16 as
# its grid says; then the parity seeds) on cuda until SECONDS are spent. A fold cut off
# by the deadline is interrupted (SIGINT) and left out; every fold folder that finished is packed into $OUT/study.tgz.
# Back here: `tar xzf <files_at>/study.tgz` in the repo root, then commit each folder as usual.
#
# Dry run of the flow on this machine (no GPU, no training): PYTHON=.venv/bin/python DEVICE=cpu PARTS= OUT=/tmp/out bash tools/gpu_study.sh 60
set -uo pipefail
cd "$(dirname "$0")/.."
ARCHIVE=gpu/HASYv2.tar.bz2

if [ "${1:-}" = "--prepare" ]; then
  src=${HASY_ARCHIVE:?set HASY_ARCHIVE to the HASYv2 archive}
  mkdir -p gpu/wheels && cp "$src" "$ARCHIVE" || exit 1
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux2014_x86_64 -d gpu/wheels fastprogress==1.0.3 fastcore || exit 1
  du -sh gpu; exit 0
fi

budget=${1:-480}
case $budget in ''|*[!0-9]*) echo "gpu_study.sh: SECONDS must be a whole number, got '$budget'" >&2; exit 2;; esac
: "${OUT:?OUT is not set: run this through the device tool, or set OUT to a folder}"
[ -f "$ARCHIVE" ] || { echo "gpu_study.sh: $ARCHIVE missing: run 'bash tools/gpu_study.sh --prepare' here and carry gpu" >&2; exit 2; }
DEVICE=${DEVICE:-cuda}
PY=${PYTHON:-python3}   # the GPU image's python3 holds torch
PARTS=${PARTS-converge ablation}   # empty: no part (a dry run)
deadline=$(( $(date +%s) + budget ))

if [ -d gpu/wheels ] && ! $PY -c "import fastcore, fastprogress" 2>/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --target /tmp/site gpu/wheels/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 MPLBACKEND=Agg HASY_ARCHIVE=$PWD/$ARCHIVE
log=$OUT/gpu_study.log
{ date -u; nvidia-smi -L 2>/dev/null; $PY -c "import torch; print('torch', torch.__version__, torch.cuda.is_available())"; } | tee "$log"

stamp=$(mktemp)   # fold folders written after this are the ones this run made
if [ "$DEVICE" = cuda ]; then
  timeout -s INT -k 20 180 $PY bench/train_speed.py --device cuda --out "$OUT/train_speed_cuda.json" 2>&1 \
    | tee "$OUT/train_speed.txt" | tail -n 30 >> "$log"
fi
for part in $PARTS; do
  left=$(( deadline - $(date +%s) ))
  [ "$left" -gt 30 ] || break
  echo "== $part: ${left}s left" | tee -a "$log"
  # the progress bars redraw on one line: keep only the lines that say something
  timeout -s INT -k 30 "$left" $PY -c "import sys; from hasy_nb.cli import main; sys.exit(main())" study --part "$part" --device "$DEVICE" 2>&1 | tr '\r' '\n' \
    | grep -v '%|\|% \[' >> "$log"
done

finished=($($PY -c "import os, sys; from hasy_nb.report import find_runs
print(*(r['dir'] for r in find_runs('results/study', status='ok') if os.path.getmtime(r['dir'] / 'summary.json') > os.path.getmtime(sys.argv[1])))" "$stamp"))
echo "finished fold folders: ${#finished[@]}" | tee -a "$log"
[ ${#finished[@]} -eq 0 ] || tar czf "$OUT/study.tgz" --exclude='*.pt' "${finished[@]}"
rm -f "$stamp"

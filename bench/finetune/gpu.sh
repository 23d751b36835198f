#!/usr/bin/env bash
# The full fine-tuning recipe (25 epochs) for all three variants on a CUDA GPU, one JSON summary and log (.txt) per variant.
#   bash bench/finetune/gpu.sh DATA_DIR RESNET50_ONNX OUT_DIR
# MAX_MINUTES caps each variant's training (default: none), MAX_MINUTES_head / _stage5 / _full one variant's; a capped
# run prints "STOPPED EARLY" and its JSON has "stopped_early": true. WORKERS sets DataLoader worker processes (default 8); a variant whose run fails with workers
# (no shared memory in some sandboxes) is run again in-process.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
data="${1:?usage: gpu.sh DATA_DIR RESNET50_ONNX OUT_DIR}"
onnx="${2:?usage: gpu.sh DATA_DIR RESNET50_ONNX OUT_DIR}"
out="${3:?usage: gpu.sh DATA_DIR RESNET50_ONNX OUT_DIR}"
python="${PYTHON:-python3}"
mkdir -p "$out"
status=0
for variant in ${VARIANTS:-head stage5 full}; do
  limit_var="MAX_MINUTES_$variant"
  limit="${!limit_var:-${MAX_MINUTES:-}}"
  cap=()
  [ -n "$limit" ] && cap=(--max-minutes "$limit")
  run() {
    PYTHONUNBUFFERED=1 "$python" "$here/finetune.py" --variant "$variant" --epochs "${EPOCHS:-25}" --device cuda \
      --threads 4 --workers "$1" --data "$data" --onnx "$onnx" "${cap[@]}" --json "$out/finetune-$variant.json" \
      2>&1 | tee "$out/finetune-$variant.txt"
  }
  if ! run "${WORKERS:-8}"; then
    echo "== $variant failed with worker processes; again in-process"
    run 0 || status=1
  fi
done
exit $status

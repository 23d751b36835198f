#!/usr/bin/env bash
# Smoke test of the fine-tuning baseline: each variant for one epoch on 2 images per class, then checks the JSON.
# Needs Debian's python3-torch, python3-torchvision and python3-onnx (PYTHON overrides the interpreter) and
# onnx/resnet50.onnx; not part of the jest suite. Exit 0 only if all three variants ran and wrote sane summaries.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-/usr/bin/python3}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

for variant in head stage5 full; do
  echo "== $variant"
  "$python" "$here/finetune.py" --variant "$variant" --limit-per-class 2 --epochs 1 --threads "${THREADS:-2}" \
    --json "$out/$variant.json" "$@"
  "$python" - "$out/$variant.json" "$variant" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
expected_trainable = {"head": 16392, "stage5": 14992392, "full": 23550984}[sys.argv[2]]
problems = []
if s["variant"] != sys.argv[2]: problems.append(f"variant {s['variant']}")
if s["trainable_parameters"] != expected_trainable: problems.append(f"trainable {s['trainable_parameters']}")
if s["epochs_run"] != 1: problems.append(f"epochs_run {s['epochs_run']}")
if s["images"]["train"] != 16: problems.append(f"train images {s['images']['train']}")
for key in ("best_val_accuracy", "test_accuracy"):
    if not 0 <= s[key] <= 1: problems.append(f"{key} {s[key]}")
for key in ("train_wall_seconds", "inference_ms_per_image"):
    if not s[key] > 0: problems.append(f"{key} {s[key]}")
if problems:
    sys.exit(f"smoke: {sys.argv[2]} summary is wrong: {', '.join(problems)}")
print(f"smoke: {sys.argv[2]} ok")
PY
done
echo "smoke: all variants ok"

#!/usr/bin/env bash
# The GPU proof in one command (bench/gpu/README.md). On the GPU machine, beside the pieces pack.sh made:
#   bash run.sh --bundle DIR [--out DIR] [--device cuda|cuda:N] [--limit N]
# From a checkout, the same steps on this machine's CPU with a small subset (what the tests run):
#   bash bench/gpu/run.sh --dry-run            (= --device cpu --limit 3)
#   bash bench/gpu/run.sh --device cpu [--limit N]
# Writes OUT/summary.json and OUT/log.txt (default OUT: ./gpu-results-<device>-<date>). Exit 0 when every step ran;
# the goals (accuracy, parity ≤ 1e-3, extract ≥ 0.9 × min(raw loop, preprocessing)) are in the JSON and the log.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
device=cuda limit=0 bundle="" out="" data="" model="" dry=0 batch=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry=1; device=cpu; limit="${limit/#0/3}"; shift ;;
    --device) device="$2"; shift 2 ;;
    --limit) limit="$2"; shift 2 ;;
    --bundle) bundle="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    -h|--help) sed -n 2,9p "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
out="${out:-$PWD/gpu-results-${device/:/}-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
exec > >(tee "$out/log.txt") 2>&1
echo "== convfeat GPU run: device $device, limit ${limit} per class and split (0 = all), out $out"

if [ -n "$bundle" ]; then
  # Reassemble: every piece listed in SHA256SUMS must be present and intact before anything is unpacked.
  bundle="$(cd "$bundle" && pwd)"
  (cd "$bundle" && sha256sum -c --quiet SHA256SUMS) || { echo "run.sh: a piece is missing or damaged (sha256sum -c SHA256SUMS in $bundle)"; exit 1; }
  work="$bundle/unpacked"
  if [ ! -x "$work/convfeat-gpu/bin/node" ]; then
    rm -rf "$work" && mkdir -p "$work"
    cat "$bundle"/convfeat-gpu.tgz.part-* | tar -xzf - -C "$work" || { echo "run.sh: cannot unpack the bundle"; exit 1; }
  fi
  root="$work/convfeat-gpu/app"
  node="$work/convfeat-gpu/bin/node"
  data="${data:-$work/convfeat-gpu/data/mini_natural_images}"
  provider="$(ls "$work"/convfeat-gpu/provider/*.tgz 2>/dev/null | head -1 || true)"
else
  root="$(cd "$here/../.." && pwd)"
  node="$(command -v node || true)"
  [ -n "$node" ] || { echo "run.sh: no node on PATH; on a machine without Node use the bundle (pack.sh, then --bundle)"; exit 1; }
  data="${data:-${CONVFEAT_DATA:-$root/../shared/data/mini_natural_images}}"
  provider=""
  if [ ! -f "$root/dist/cli.js" ] || [ ! -f "$root/bench/out/js/bench/gpu/measure.js" ]; then
    echo "== build"
    (cd "$root" && npx tsc -p tsconfig.build.json && npx tsc -p bench/tsconfig.json) || exit 1
  fi
fi
model="${model:-$root/onnx/resnet50.onnx}"
cli=("$node" "$root/dist/cli.js")
[ -d "$data/train" ] || { echo "run.sh: no dataset at $data (--data DIR)"; exit 1; }
[ -f "$model" ] || { echo "run.sh: no model at $model (--model FILE)"; exit 1; }
echo "node $("$node" --version) at $node; project $root; data $data; model $model"

if [[ "$device" == cuda* ]]; then
  echo "== gpu install"
  if "${cli[@]}" gpu check --json 2>/dev/null | grep -q '"installed": true'; then echo "provider already installed"
  elif [ -n "$provider" ]; then "${cli[@]}" gpu install --from "$provider" || exit 1
  else "${cli[@]}" gpu install || exit 1; fi
  echo "== gpu check"
  "${cli[@]}" gpu check
  # extract must work without LD_LIBRARY_PATH (the CLI adds the CUDA folders and restarts itself): try it on a few
  # photos before the measuring process, which loads onnxruntime itself and so needs the path set from the start.
  echo "== extract --device $device without LD_LIBRARY_PATH (8 photos)"
  few="$out/few"; rm -rf "$few"; mkdir -p "$few/x"
  find "$data/test" -name '*.jpg' | sort | head -8 | while read -r f; do ln -s "$f" "$few/x/"; done
  env -u LD_LIBRARY_PATH "${cli[@]}" extract --data "$few" --cache "$out/cache-reexec" --model "$model" --device "$device" --json > "$out/reexec.json" \
    && echo "ok: $(grep -o '"provider": "[^"]*"' "$out/reexec.json")" || echo "FAILED: extract --device $device without LD_LIBRARY_PATH"
  libs="$("${cli[@]}" gpu check --json | "$node" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).libraryPath.join(":")))')"
  if [ -n "$libs" ]; then export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; echo "LD_LIBRARY_PATH for the measuring process: $LD_LIBRARY_PATH"; fi
fi

echo "== measure"
extra=()
[ -n "$batch" ] && extra+=(--batch "$batch")
"$node" "$root/bench/out/js/bench/gpu/measure.js" --root "$root" --data "$data" --model "$model" --device "$device" \
  --out "$out" --limit "$limit" "${extra[@]}"
status=$?
rm -rf "$out"/cache-* "$out"/data-subset-* "$out/few"
echo "== summary: $out/summary.json (exit $status)"
exit $status

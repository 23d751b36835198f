#!/usr/bin/env bash
# Builds the bundle that bench/gpu/run.sh needs on a GPU machine with no internet and no Node, split into pieces
# small enough for a transport that limits size (bench/gpu/README.md says how they travel).
#   bash bench/gpu/pack.sh OUT_DIR [--piece-mb 60] [--no-data] [--no-model] [--no-provider] [--provider FILE.tgz]
# The bundle (one .tgz, then split): bin/node (this machine's Node binary: same OS and CPU family as the target),
# app/ (package.json, dist/, production node_modules with only linux-x64 ONNX Runtime binaries, onnx/ with the
# converted ResNet50, bench/gpu and its compiled measure.js), provider/ (the npm-registry CUDA 13 provider tarball),
# data/mini_natural_images (the photos). Beside the pieces: SHA256SUMS and run.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:?usage: pack.sh OUT_DIR [--piece-mb 60] [--no-data] [--no-model] [--no-provider] [--provider FILE.tgz]}"
shift
piece_mb=60 with_data=1 with_model=1 with_provider=1 provider_file=""
while [ $# -gt 0 ]; do
  case "$1" in
    --piece-mb) piece_mb="$2"; shift 2 ;;
    --no-data) with_data=0; shift ;;
    --no-model) with_model=0; shift ;;
    --no-provider) with_provider=0; shift ;;
    --provider) provider_file="$2"; shift 2 ;;
    *) echo "pack.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
data="${CONVFEAT_DATA:-$root/../shared/data/mini_natural_images}"
provider_pkg="com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9"

mkdir -p "$out"
out="$(cd "$out" && pwd)"
stage="$(mktemp -d "${TMPDIR:-/tmp}/convfeat-gpu-pack.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
app="$stage/convfeat-gpu/app"
mkdir -p "$app/onnx" "$app/bench/gpu" "$stage/convfeat-gpu/bin"

echo "== build (dist/ and the compiled bench)"
(cd "$root" && npx tsc -p tsconfig.build.json && npx tsc -p bench/tsconfig.json)
cp "$root/package.json" "$root/package-lock.json" "$root/.npmrc" "$app/"
cp -r "$root/dist" "$app/dist"
mkdir -p "$app/bench/out/js/bench/gpu"
cp "$root/bench/out/js/bench/gpu/measure.js" "$app/bench/out/js/bench/gpu/"
cp "$here/run.sh" "$here/README.md" "$app/bench/gpu/"
cp "$root/onnx/models.json" "$app/onnx/"
if [ "$with_model" = 1 ]; then
  [ -f "$root/onnx/resnet50.onnx" ] || { echo "pack.sh: $root/onnx/resnet50.onnx is missing (npx jest once, or convfeat models fetch resnet50)" >&2; exit 1; }
  cp "$root/onnx/resnet50.onnx" "$app/onnx/"
fi

echo "== production node_modules (npm ci --omit=dev, from the npm cache)"
(cd "$app" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null)
# Only linux/x64 ONNX Runtime binaries travel (the others are 400 MB the GPU machine never loads).
ortbin="$app/node_modules/onnxruntime-node/bin/napi-v6"
find "$ortbin" -mindepth 2 -maxdepth 2 -type d ! -path "$ortbin/linux/x64" -exec rm -rf {} +
rm -rf "$ortbin/darwin" "$ortbin/win32"

cp "$(node -p process.execPath)" "$stage/convfeat-gpu/bin/node"

if [ "$with_provider" = 1 ]; then
  mkdir -p "$stage/convfeat-gpu/provider"
  if [ -n "$provider_file" ]; then cp "$provider_file" "$stage/convfeat-gpu/provider/"
  else (cd "$stage/convfeat-gpu/provider" && npm pack "$provider_pkg" --silent >/dev/null); fi
fi
if [ "$with_data" = 1 ]; then
  [ -d "$data/train" ] || { echo "pack.sh: no dataset at $data (set CONVFEAT_DATA)" >&2; exit 1; }
  mkdir -p "$stage/convfeat-gpu/data"
  cp -r "$data" "$stage/convfeat-gpu/data/mini_natural_images"
fi

echo "== archive and split into ${piece_mb} MB pieces"
rm -f "$out"/convfeat-gpu.tgz.part-* "$out/SHA256SUMS"
tar -C "$stage" -cf - convfeat-gpu | gzip -1 | split -b "$((piece_mb * 1000000))" -d -a 3 - "$out/convfeat-gpu.tgz.part-"
cp "$here/run.sh" "$out/run.sh"
(cd "$out" && sha256sum convfeat-gpu.tgz.part-* > SHA256SUMS)
du -sh "$stage/convfeat-gpu"/* | sed 's/^/  /'
ls -l "$out" | sed 's/^/  /'
echo "pieces in $out: copy them and run.sh to the GPU machine, then: bash run.sh --bundle DIR"

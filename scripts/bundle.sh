#!/usr/bin/env bash
# npm run bundle → dist/detbench-<version>-linux-x64.tar.xz: one file to copy to an air-gapped
# linux-x64 host. It holds this machine's Node.js runtime, the app (its TypeScript compiled, and tsx), its
# production dependencies with linux-x64 binaries only, the Vulkan loader when this machine has one
# (WebGPU through Dawn opens it), and a `detbench` launcher:
#
#   tar -xJf detbench-<version>-linux-x64.tar.xz && ./detbench-<version>-linux-x64/detbench run --suite quick
#
# Run after `npm install`, on linux-x64. Needs no network.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || { echo "bundle: builds linux-x64 bundles on linux-x64 only" >&2; exit 2; }
[ -d node_modules ] || { echo "bundle: run npm install first" >&2; exit 2; }
version="$(node -p 'require("./package.json").version')"
name="detbench-${version}-linux-x64"
stage="$(mktemp -d)/${name}"
mkdir -p "$stage/app" "$stage/runtime" "$stage/lib" dist

# the app and its production dependencies (dev ones pruned, other platforms' binaries removed; the
# optional platform packages of esbuild and resvg are this platform's and stay)
cp -r bin harness workloads reports scripts package.json package-lock.json tsconfig.json README.md "$stage/app/"
cp -r node_modules "$stage/app/node_modules"
(cd "$stage/app" && npm prune --omit=dev --no-audit --no-fund >/dev/null 2>&1)
find "$stage/app/node_modules" \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.ts.map' \) -type f -delete
rm -rf "$stage/app/node_modules/onnxruntime-node/bin/napi-v"*/{darwin,win32} "$stage/app/node_modules/onnxruntime-node/bin/napi-v"*/linux/arm64
rm -rf "$stage/app/node_modules/webgpu/dist/"{darwin-*,win32-*,linux-arm64}
# not used at run time: esbuild's CLI copy of its binary (its API runs @esbuild/linux-x64's), the
# protobufjs code generator, and tfjs's browser bundles (Node loads the tf-*.node.js builds)
rm -f "$stage/app/node_modules/esbuild/bin/esbuild"
rm -rf "$stage/app/node_modules/protobufjs/cli"
find "$stage/app/node_modules/@tensorflow" -path '*/dist/tf-*.js' ! -name '*.node.js' -type f -delete
rm -rf "$stage/app/node_modules/.cache"
# the app's TypeScript compiled (harness/run/compiled.mjs): the bundle starts without tsx; the stamp
# holds the files' mtimes to the nanosecond, which the POSIX tar format below keeps
node "$stage/app/scripts/compile.mjs" >/dev/null
[ -f "$stage/app/node_modules/.cache/detbench/js/stamp.json" ] || { echo "bundle: the app could not be compiled" >&2; exit 1; }
commit="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
dirty=false; [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && dirty=true
printf '{ "commit": "%s", "dirty": %s, "builtAt": "%s" }\n' "$commit" "$dirty" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$stage/app/BUILD_INFO.json"

# the runtime
cp "$(readlink -f "$(command -v node)")" "$stage/runtime/node"
# (awk reads all of ldconfig's output: leaving early would kill ldconfig with SIGPIPE, fatal under pipefail)
vulkan="$(ldconfig -p 2>/dev/null | awk '/libvulkan\.so\.1 .*x86-64/ && !found {found = $NF} END {print found}')"
if [ -n "$vulkan" ]; then cp -L "$vulkan" "$stage/lib/libvulkan.so.1"; else echo "bundle: no Vulkan loader on this machine: WebGPU will need libvulkan1 on the host" >&2; fi

cat > "$stage/detbench" <<'LAUNCHER'
#!/bin/sh
# detbench from the bundle: its own Node.js, its own Vulkan loader, nothing from the host but libc.
here="$(cd "$(dirname "$0")" && pwd)"
export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$here/runtime/node" "$here/app/bin/detbench.mjs" "$@"
LAUNCHER
chmod +x "$stage/detbench"

out="dist/${name}.tar.xz"
tar --format=posix -C "$(dirname "$stage")" -cf - "$name" | xz -T0 -6 > "$out.tmp"
mv "$out.tmp" "$out"
rm -rf "$(dirname "$stage")"
echo "bundle: $out ($(du -h "$out" | cut -f1))"

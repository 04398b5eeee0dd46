#!/bin/sh
# Builds wasm/decoder.wasm (single thread) and wasm/decoder-mt.wasm (shared memory, atomics) from csrc/.
# Deterministic: fixed flags, no debug info, sources in a fixed order; the test rebuilds and compares bytes.
# Usage: scripts/build-wasm.sh [OUT_DIR]   (default: the package's wasm/ folder)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/wasm}
cc=${CC_WASM:-clang}
mkdir -p "$out"
cd "$here/csrc"
srcs="heap.c kernels.c pool.c decoder.c"
common="--target=wasm32 -O3 -msimd128 -mbulk-memory -mnontrapping-fptoint -mmutable-globals -nostdlib -ffreestanding
  -fno-ident -Wall -Wextra -Werror -Wno-unused-parameter -Wl,--no-entry -Wl,--strip-debug -Wl,--lto-O3"
# Single thread: the module owns a growable memory of up to 4 GiB.
$cc $common -DLM_THREADS=0 -Wl,--max-memory=4294967296 -o "$out/decoder.wasm" $srcs
# Threads: memory imported and shared, so worker instances of the same module see one heap; each worker
# gets its own stack through the exported __stack_pointer.
$cc $common -DLM_THREADS=1 -matomics -Wl,--import-memory -Wl,--shared-memory -Wl,--max-memory=4294967296 \
  -Wl,--export=__stack_pointer -o "$out/decoder-mt.wasm" $srcs

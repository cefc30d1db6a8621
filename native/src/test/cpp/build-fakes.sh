#!/usr/bin/env bash
# Builds the fake device runtimes the CPU-only tests load through the loader's override path.
# Usage: build-fakes.sh <main cpp include dir> <output dir>. Called by the test build (Maven).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
include="$1"
out="$2"
mkdir -p "$out"
cxx="${CXX:-g++}"
flags=(-std=c++17 -O2 -Wall -Wextra -Werror -fPIC -shared -pthread -I"$include" -I"$here")
build() {  # <output> <source> [extra flags]
  local target="$out/$1" source="$here/$2"
  shift 2
  if [[ "$target" -nt "$source" && "$target" -nt "$here/fake_runtime_common.h" \
        && "$target" -nt "$include/rtensor_cuda_api.h" && "$target" -nt "$include/rtensor_acl_api.h" \
        && "$target" -nt "$include/rtensor_dlpack_api.h" ]]; then
    return
  fi
  "$cxx" "${flags[@]}" "$@" "$source" -o "$target"
}
build libfakecuda.so fake_cuda.cpp
build libfakecuda_old.so fake_cuda.cpp -DFAKE_DRIVER_VERSION=10020
build libfakecuda_nov2.so fake_cuda.cpp -DFAKE_OMIT_V2_ASYNC
build libfakeacl.so fake_acl.cpp
build libfakeacl_nophy.so fake_acl.cpp -DFAKE_OMIT_PHY_ID
echo "fake runtimes in $out"

#!/usr/bin/env bash
# Checks rtensor's declarations of the device runtimes (rtensor_cuda_api.h, rtensor_acl_api.h)
# and of DLPack (rtensor_dlpack_api.h) against the vendors' own headers, so that the fake runtimes,
# which are compiled from rtensor's declarations, are held to the vendors' ABI and not merely to
# rtensor's reading of it.
#
#   CUDA: cuda.h of NVIDIA's wheel nvidia-cuda-runtime-cu11 (CUDA 11.8, the family of the oldest
#         driver rtensor loads), nvidia/cuda_runtime/include/cuda.h.
#   ACL:  the AscendCL headers of CANN that Huawei's torch-npu wheel ships for building extensions,
#         torch_npu/include/acl/acl.h and what it includes (no PyPI package ships CANN itself).
#   DLPack: dlpack.h v1.3 as apache-tvm-ffi ships it (TVM is DLPack's home project),
#         tvm_ffi/include/dlpack/dlpack.h.
#
# Each wheel is pinned by version and SHA-256, downloaded once with pip into <cache dir> and its
# headers extracted there; check_cuda_api.cpp, check_acl_api.cpp and check_dlpack_api.cpp are then
# compiled against them (they fail to compile on any difference) and run to print what they checked.
#
# Usage: check-vendor-headers.sh <main cpp include dir> <cache dir>. Called by the test build.
# When a wheel cannot be downloaded (no network, no pip) the check is skipped with a message, except
# under CI (CI set and not empty), where it fails. A mismatch always fails.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
include="$1"
cache="$2"
cxx="${CXX:-g++}"
root="$(cd "$here/../../../../.." && pwd)"

cuda_wheel=nvidia-cuda-runtime-cu11
cuda_version=11.8.89
cuda_sha256=92d04069a987e1fbc9213f8376d265df0f7bb42617d44f5eda1f496acea7f2d1
cuda_member=nvidia/cuda_runtime/include/cuda.h

acl_wheel=torch-npu
acl_version=2.14.0
acl_sha256=7736f7d82cf9f16c7dfc4537f7e7c638153da760273a193455e70857f912189e
acl_members=torch_npu/include/acl/

dlpack_wheel=apache-tvm-ffi
dlpack_version=0.1.15.post2
dlpack_sha256=8ecebe749834f6ac0f2693d5964acf9ac75d0bc26e6ba64c46eb7ab00ea50fac
dlpack_members=tvm_ffi/include/dlpack/

in_ci() { [[ -n "${CI:-}" ]]; }

# The first Python that has pip: $RTENSOR_PYTHON, the project venv, python3.
python_with_pip() {
  local candidate
  for candidate in "${RTENSOR_PYTHON:-}" "$root/.rtensor/venv/bin/python" python3; do
    [[ -n "$candidate" ]] || continue
    if "$candidate" -m pip --version >/dev/null 2>&1; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

# fetch <wheel> <version> <sha256> <member prefix> <destination>: downloads the pinned wheel (the
# x86-64 manylinux, CPython 3.11 build: one file, so one hash) and extracts the members under the
# prefix into the destination, keeping their paths below the prefix's parent directory.
fetch() {
  local wheel="$1" version="$2" sha256="$3" prefix="$4" dest="$5"
  local stamp="$dest/.extracted-$wheel-$version"
  [[ -f "$stamp" ]] && return 0
  local py
  py="$(python_with_pip)" || { echo "no Python with pip found" >&2; return 1; }
  mkdir -p "$cache/wheels"
  local requirement="$cache/wheels/$wheel-$version.txt"
  echo "$wheel==$version --hash=sha256:$sha256" > "$requirement"
  "$py" -m pip download --quiet --disable-pip-version-check --no-deps --require-hashes \
    --only-binary=:all: --implementation cp --python-version 3.11 --abi cp311 \
    --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
    -r "$requirement" -d "$cache/wheels" >&2 || return 1
  rm -rf "$dest"
  mkdir -p "$dest"
  "$py" - "$cache/wheels" "$wheel" "$version" "$prefix" "$dest" <<'EOF' || return 1
import glob, os, sys, zipfile
wheels, name, version, prefix, dest = sys.argv[1:]
pattern = os.path.join(wheels, name.replace("-", "_") + "-" + version + "-*.whl")
found = glob.glob(pattern)
if len(found) != 1:
    sys.exit("expected one wheel matching %s, found %s" % (pattern, found))
base = os.path.dirname(prefix.rstrip("/"))
count = 0
with zipfile.ZipFile(found[0]) as z:
    for member in z.namelist():
        if member.startswith(prefix) and not member.endswith("/"):
            target = os.path.join(dest, os.path.relpath(member, base))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as out:
                out.write(z.read(member))
            count += 1
if count == 0:
    sys.exit("%s has nothing under %s" % (found[0], prefix))
os.remove(found[0])  # the headers are all that is kept
EOF
  touch "$stamp"
}

# check <label> <source> <include flags...>: compiles the check against the vendor's headers (a
# mismatch is a compile error) and runs it to print what it compared.
check() {
  local label="$1" source="$2"
  shift 2
  local binary="$cache/${source%.cpp}"
  if ! "$cxx" -std=c++17 -Wall -Wextra -Werror "$@" -I"$include" "$here/$source" -o "$binary"; then
    echo "vendor-header check FAILED: rtensor's $label declarations differ from the vendor's" \
      "headers (see the static_assert above)" >&2
    exit 1
  fi
  echo "vendor-header check: $("$binary")"
}

mkdir -p "$cache"
failed=0
cuda_dir="$cache/$cuda_wheel-$cuda_version"
if fetch "$cuda_wheel" "$cuda_version" "$cuda_sha256" "$cuda_member" "$cuda_dir"; then
  check CUDA check_cuda_api.cpp -isystem "$cuda_dir"
else
  echo "vendor-header check: could not download $cuda_wheel==$cuda_version from PyPI" >&2
  failed=1
fi
acl_dir="$cache/$acl_wheel-$acl_version"
if fetch "$acl_wheel" "$acl_version" "$acl_sha256" "$acl_members" "$acl_dir"; then
  # acl.h includes its siblings both as "acl/x.h" and as "x.h".
  check ACL check_acl_api.cpp -isystem "$acl_dir" -isystem "$acl_dir/acl"
else
  echo "vendor-header check: could not download $acl_wheel==$acl_version from PyPI" >&2
  failed=1
fi
dlpack_dir="$cache/$dlpack_wheel-$dlpack_version"
if fetch "$dlpack_wheel" "$dlpack_version" "$dlpack_sha256" "$dlpack_members" "$dlpack_dir"; then
  check DLPack check_dlpack_api.cpp -isystem "$dlpack_dir"
else
  echo "vendor-header check: could not download $dlpack_wheel==$dlpack_version from PyPI" >&2
  failed=1
fi
if [[ "$failed" -ne 0 ]]; then
  if in_ci; then
    echo "vendor-header check FAILED: CI is set, so the vendors' headers must be checked" >&2
    exit 1
  fi
  echo "SKIPPED: vendor-header check incomplete (no network or no pip); CI fails here" >&2
fi

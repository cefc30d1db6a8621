#!/usr/bin/env bash
# Packs rtensor's GPU checks into a self-contained bundle and runs it.
#
# Here (a build machine with a JDK, Maven and g++) it builds the modules, links a trimmed Java
# runtime with jlink, compiles the C++ D2H baseline and writes .rtensor/gpu-bundle/ (at most
# 60 MiB, also packed as .rtensor/gpu-bundle.tar.gz). Then it runs the bundle: on a machine without
# an NVIDIA GPU that is the skip path (tests skip with their reasons, the benchmark is skipped,
# exit 0), followed by a self-test of the bundle's benchmark and baseline against the fake CUDA
# driver of the native tests (a check of the plumbing, not a measurement).
#
# On a GPU machine with no JDK and no network: copy the bundle (or the tarball) there and run
#   ./run.sh                        # GPU tests, then the D2H benchmark beside the C++ baseline
#   ./run.sh --sizes-mib 64,256 --reps 5   # benchmark options are passed through
#   ./run.sh --require-gpu          # fail (exit 1) instead of skipping where no GPU is usable
# Results, with the tests' JUnit XML reports (results/junit/), are written to results/.
#
# Options: --no-build (reuse the built jars), --no-run (only build the bundle),
#          --no-self-test (skip the fake-driver self-test).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bundle="$root/.rtensor/gpu-bundle"
limit_bytes=$((60 * 1024 * 1024))
build=1
run=1
self_test=1
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    --no-run) run=0 ;;
    --no-self-test) self_test=0 ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done

say() { printf '[gpu-bundle] %s\n' "$*"; }

for tool in jlink g++; do
  command -v "$tool" >/dev/null || { echo "run-gpu-checks: $tool is required to build the bundle" >&2; exit 2; }
done

if [[ $build == 1 ]]; then
  say "building native, arrow-rtensor, cuda-tests and the core (for ./rtensor bench's D2H row)"
  (cd "$root" && mvn -B -q -pl cuda-tests,java/cli -am package -DskipTests -Dspotless.check.skip=true)
fi

junit_version="$(sed -n 's:.*<junit.version>\(.*\)</junit.version>.*:\1:p' "$root/pom.xml")"
console_version="1.${junit_version#5.}"
console_dir="$root/cuda-tests/target/console"
console_jar="$console_dir/junit-platform-console-standalone-$console_version.jar"
if [[ ! -f "$console_jar" ]]; then
  say "fetching the JUnit console launcher $console_version"
  (cd "$root" && mvn -B -q -N dependency:copy \
    -Dartifact="org.junit.platform:junit-platform-console-standalone:$console_version" \
    -DoutputDirectory="$console_dir")
fi

say "writing $bundle"
rm -rf "$bundle" "$bundle.tar.gz"
mkdir -p "$bundle/lib/app" "$bundle/lib/junit" "$bundle/lib/bench" "$bundle/bin"

# A Java runtime with only the modules the tests, Arrow memory and JavaCPP use.
jlink --add-modules java.base,java.logging,java.management,java.naming,java.sql,java.xml,jdk.unsupported,jdk.zipfs \
  --strip-debug --no-man-pages --no-header-files --compress=2 --output "$bundle/jre"

cp "$root"/cuda-tests/target/lib/*.jar "$bundle/lib/app/"
cp "$root"/cuda-tests/target/rtensor-cuda-tests-*.jar "$bundle/lib/app/"
cp "$console_jar" "$bundle/lib/junit/junit-platform-console-standalone.jar"
# The cli and core jars run `bench --only d2h` (their Flight and Ray classes are never loaded there).
for m in core cli; do
  cp "$(ls "$root"/java/$m/target/rtensor-$m-*.jar | grep -v -- '-tests\.jar$' | head -n 1)" "$bundle/lib/bench/"
done
cp "$root/etc/jvm.args" "$bundle/jvm.args"

# The C++ baseline: rtensor's own driver declarations, dlopen, no CUDA toolkit.
g++ -std=c++17 -O2 -Wall -Wextra -Werror -static-libstdc++ -static-libgcc \
  -I"$root/native/src/main/cpp" "$root/cuda-tests/src/main/cpp/d2h_baseline.cpp" \
  -o "$bundle/bin/d2h_baseline" -ldl

cat > "$bundle/run.sh" <<'RUN'
#!/usr/bin/env bash
# rtensor GPU checks, run from this bundle: needs no JDK and no network.
# Runs the GPU tests, then the D2H benchmark beside the C++ baseline, then prints a summary.
# --require-gpu: exit 1 where no usable NVIDIA GPU is found (a GPU CI runner), instead of skipping.
# Other arguments are passed to the benchmark (--sizes-mib 1,4,..., --reps N, --streams N,
# --chunk-mib N). JUnit XML reports of the tests go to results/junit/.
# Needs glibc >= 2.34 (the bundled Java runtime was linked on Debian 12).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
java="$here/jre/bin/java"
app_cp="$(printf '%s:' "$here"/lib/app/*.jar)"
app_cp="${app_cp%:}"
cache="${RTENSOR_JAVACPP_CACHE:-${TMPDIR:-/tmp}/rtensor-javacpp-$(id -u)}"
jvm=("@$here/jvm.args" "-Dorg.bytedeco.javacpp.cachedir=$cache" "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn")
out="$here/results"
mkdir -p "$out"
require_gpu=0
bench_args=()
for arg in "$@"; do
  if [[ $arg == --require-gpu ]]; then
    require_gpu=1
  else
    bench_args+=("$arg")
  fi
done

glibc="$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')"
if [[ -n "$glibc" ]] && ! printf '2.34\n%s\n' "$glibc" | sort -C -V; then
  echo "rtensor GPU bundle: this machine has glibc $glibc; the bundled Java runtime needs 2.34 or newer" >&2
  exit 2
fi

echo "== rtensor GPU checks on $(hostname) at $(date -u +%FT%TZ)"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/   gpu: /'
fi
"$java" -version 2>&1 | head -1 | sed 's/^/   java: /'

echo "== device runtimes"
"$java" "${jvm[@]}" -cp "$app_cp" io.rtensor.device.RuntimeProbe | tee "$out/probe.txt"

echo "== GPU tests"
"$java" "${jvm[@]}" -jar "$here/lib/junit/junit-platform-console-standalone.jar" execute \
  --disable-banner --disable-ansi-colors --details=tree --fail-if-no-tests --reports-dir "$out/junit" \
  --class-path "$app_cp" --select-package io.rtensor.cuda \
  2>&1 | tee "$out/tests.txt"
tests_rc=${PIPESTATUS[0]}

echo "== D2H benchmark"
bench_rc=0
gpu_reason="$("$java" "${jvm[@]}" -cp "$app_cp" io.rtensor.cuda.D2hBenchmark --check 2>&1)"
if [[ $? -ne 0 ]]; then
  echo "skipped: no usable CUDA GPU: $gpu_reason" | tee "$out/benchmark.txt"
  gpu=0
else
  gpu=1
  "$java" "${jvm[@]}" -cp "$app_cp" io.rtensor.cuda.D2hBenchmark \
    --baseline "$here/bin/d2h_baseline" "${bench_args[@]}" 2>&1 | tee "$out/benchmark.txt"
  bench_rc=${PIPESTATUS[0]}
  echo "== ./rtensor bench --only d2h --full"
  "$java" "${jvm[@]}" -Drtensor.root="$here" -cp "$app_cp:$(printf '%s:' "$here"/lib/bench/*.jar)" \
    io.rtensor.cli.Main bench --only d2h --full 2>&1 | tee "$out/bench-d2h.txt"
  [[ ${PIPESTATUS[0]} -eq 0 ]] || bench_rc=1
fi

echo
echo "== summary"
grep -E '^\[ +[0-9]+ (tests|containers) (found|successful|skipped|failed|aborted)' "$out/tests.txt" \
  | sed 's/^/   /'
if [[ $gpu == 1 ]]; then
  grep -E 'MiB \||D2H goals' "$out/benchmark.txt" | sed 's/^/   /'
  grep -E '^D2H into' "$out/bench-d2h.txt" | sed 's/^/   bench: /'
else
  echo "   benchmark skipped: $gpu_reason"
fi
echo "   results in $out (JUnit XML in $out/junit)"
if [[ $gpu == 0 && $require_gpu == 1 ]]; then
  echo "   RESULT: FAILED (--require-gpu, and no usable NVIDIA GPU here: $gpu_reason)"
  exit 1
fi
if [[ $tests_rc -ne 0 || $bench_rc -ne 0 ]]; then
  echo "   RESULT: FAILED (tests exit $tests_rc, benchmark exit $bench_rc)"
  exit 1
fi
if [[ $gpu == 1 ]]; then
  echo "   RESULT: OK"
else
  echo "   RESULT: SKIPPED (no NVIDIA GPU here); the bundle itself works"
fi
RUN
chmod +x "$bundle/run.sh"

tar -C "$(dirname "$bundle")" -czf "$bundle.tar.gz" "$(basename "$bundle")"
size=$(du -sb "$bundle" | cut -f1)
packed=$(stat -c %s "$bundle.tar.gz")
say "bundle: $((size / 1024 / 1024)) MiB unpacked, $((packed / 1024 / 1024)) MiB packed (limit 60 MiB)"
if (( size > limit_bytes || packed > limit_bytes )); then
  echo "run-gpu-checks: the bundle is larger than 60 MiB" >&2
  exit 1
fi

if [[ $run == 1 ]]; then
  say "running the bundle"
  "$bundle/run.sh"
  if [[ $self_test == 1 && ! -e /proc/driver/nvidia/version ]]; then
    fake="$root/native/target/fake/libfakecuda.so"
    if [[ ! -f "$fake" ]]; then
      (cd "$root" && bash native/src/test/cpp/build-fakes.sh native/src/main/cpp native/target/fake >/dev/null)
    fi
    say "self-test: the bundle's benchmark and baseline against the fake CUDA driver (not a measurement)"
    fake_java=(env RTENSOR_CUDA_LIBRARY="$fake" "$bundle/jre/bin/java" "@$bundle/jvm.args"
      -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Drtensor.root="$bundle"
      -cp "$(printf '%s:' "$bundle"/lib/app/*.jar "$bundle"/lib/bench/*.jar)")
    "${fake_java[@]}" io.rtensor.cuda.D2hBenchmark \
      --baseline "$bundle/bin/d2h_baseline" --sizes-mib 1,4 --reps 3 --chunk-mib 1
    "${fake_java[@]}" io.rtensor.cli.Main bench --only d2h --size-mib 4 --reps 3
    say "self-test passed"
  fi
fi

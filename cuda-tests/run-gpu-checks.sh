#!/usr/bin/env bash
# Packs rtensor's GPU checks into a self-contained bundle and runs it.
#
# Here (a build machine with a JDK, Maven and g++) it builds the modules, links a trimmed Java
# runtime with jlink, compiles the C++ D2H baseline and writes .rtensor/gpu-bundle/ (at most
# 60 MiB, also packed as .rtensor/gpu-bundle.tar.gz). Then it runs the bundle: on a machine without
# an NVIDIA GPU that is the skip path (tests skip with their reasons, the benchmarks are skipped,
# exit 0), followed by a self-test of the bundle against the fake CUDA driver of the native tests:
# the C++ baseline and the D2H benchmark, the device-tensor path test (two local workers, Flight),
# the CUDA IPC test (a child process exports, this one opens) and the bench rows d2h, h2d and
# gpu-to-gpu-flight and gpu-to-gpu-ipc, checked end to end (a check of the plumbing, not a
# measurement).
#
# On a GPU machine with no JDK and no network: copy the bundle (or the tarball) there and run
#   ./run.sh                        # GPU tests, the D2H benchmark beside the C++ baseline, then
#                                   # ./rtensor bench --only d2h,h2d,gpu-to-gpu-flight,
#                                   #   gpu-to-gpu-ipc --full
#   ./run.sh --sizes-mib 64,256 --reps 5   # D2H benchmark options are passed through
#   ./run.sh --require-gpu          # fail (exit 1) where no GPU is usable, a GPU test or bench row
#                                   # is skipped, or a goal is missed
# gpu-to-gpu-ray is not run there: it needs a Ray head, and the bundle carries no Ray.
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
fail() { echo "run-gpu-checks: $*" >&2; exit 1; }

for tool in jlink jdeps unzip g++; do
  command -v "$tool" >/dev/null || { echo "run-gpu-checks: $tool is required to build the bundle" >&2; exit 2; }
done

if [[ $build == 1 ]]; then
  say "building native, arrow-rtensor, core, cuda-tests and the cli (for ./rtensor bench's device rows)"
  # A fresh copy of cuda-tests' class path: copy-dependencies leaves jars it no longer copies.
  rm -rf "$root/cuda-tests/target/lib"
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

# lib/app: cuda-tests, its runtime class path (native, Arrow, the core with Flight, gRPC and Netty;
# cuda-tests/pom.xml leaves out what the bundle never loads) and its tests.
cp "$root"/cuda-tests/target/lib/*.jar "$bundle/lib/app/"
cp "$root"/cuda-tests/target/rtensor-cuda-tests-*.jar "$bundle/lib/app/"
cp "$console_jar" "$bundle/lib/junit/junit-platform-console-standalone.jar"
# lib/bench: the cli, its command-line parser, and the Ray jars its bench command refers to (Ray's
# API and rtensor's Ray module; Ray's runtime, which the device rows run without, stays out).
cp "$(ls "$root"/java/cli/target/rtensor-cli-*.jar | grep -v -- '-tests\.jar$' | head -n 1)" "$bundle/lib/bench/"
cli_cp="$root/java/cli/target/runtime-classpath.txt"
[[ -f "$cli_cp" ]] || fail "no $cli_cp: build java/cli"
for jar in picocli ray-api rtensor-ray; do
  found="$(tr ':' '\n' <"$cli_cp" | grep -E "/$jar-[0-9][^/]*\.jar$" | grep -v -- '-tests\.jar$' | head -n 1)"
  [[ -n "$found" ]] || fail "no $jar jar on the cli's class path ($cli_cp)"
  cp "$found" "$bundle/lib/bench/"
done
cp "$root/etc/jvm.args" "$bundle/jvm.args"

# A Java runtime with the modules the bundle's classes use, as jdeps finds them (the tests, Arrow
# memory, JavaCPP, and the local scheduler's worker JVMs with Flight, gRPC and Netty), less those
# only optional code uses, each library checking for them at run time: java.desktop (Jackson's
# java.beans support), jdk.jfr (Netty's JFR events), java.compiler (Error Prone's annotations); and
# java.xml for the JUnit console's XML reports. The JVM's symbol table is stripped.
classes="$(mktemp -d)"
for jar in "$bundle"/lib/app/*.jar "$bundle"/lib/bench/*.jar; do
  unzip -q -o "$jar" -x 'module-info.class' 'META-INF/*' -d "$classes" 2>/dev/null || true
done
found="$(jdeps --ignore-missing-deps --print-module-deps "$classes")" \
  || fail "jdeps could not list the modules the bundle's classes use"
rm -rf "$classes"
modules="$(tr ',' '\n' <<<"$found,java.logging,java.xml,jdk.unsupported,jdk.zipfs" \
  | grep -vxE 'java\.desktop|jdk\.jfr|java\.compiler' | sort -u | paste -sd, -)"
say "Java runtime modules: $modules"
jlink --add-modules "$modules" --strip-debug --no-man-pages --no-header-files --compress=2 \
  --output "$bundle/jre"
if command -v strip >/dev/null; then
  strip --strip-unneeded "$bundle/jre/lib/server/libjvm.so"
fi
"$bundle/jre/bin/java" -version >/dev/null 2>&1 || fail "the linked Java runtime does not start"

# The C++ baseline: rtensor's own driver declarations, dlopen, no CUDA toolkit.
g++ -std=c++17 -O2 -Wall -Wextra -Werror -static-libstdc++ -static-libgcc \
  -I"$root/native/src/main/cpp" "$root/cuda-tests/src/main/cpp/d2h_baseline.cpp" \
  -o "$bundle/bin/d2h_baseline" -ldl

cat > "$bundle/run.sh" <<'RUN'
#!/usr/bin/env bash
# rtensor GPU checks, run from this bundle: needs no JDK and no network.
# Runs the GPU tests, the D2H benchmark beside the C++ baseline, and ./rtensor bench's device rows
# (d2h, h2d, gpu-to-gpu-flight, gpu-to-gpu-ipc, --full; gpu-to-gpu-ray needs a Ray head, which the
# bundle does not carry), then prints a summary.
# --require-gpu: exit 1 where no usable NVIDIA GPU is found (a GPU CI runner), a GPU test or bench
# row is skipped, or a goal is missed, instead of reporting it and going on.
# Other arguments are passed to the D2H benchmark (--sizes-mib 1,4,..., --reps N, --streams N,
# --chunk-mib N); RTENSOR_BUNDLE_BENCH replaces the bench rows' --full (e.g. '--quick', or
# '--size-mib 256 --reps 5'). JUnit XML reports of the tests go to results/junit/, the bench's
# JSON to results/bench.json.
# Needs glibc >= 2.34 (the bundled Java runtime was linked on Debian 12).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
java="$here/jre/bin/java"
app_cp="$(printf '%s:' "$here"/lib/app/*.jar)"
app_cp="${app_cp%:}"
bench_cp="$app_cp:$(printf '%s:' "$here"/lib/bench/*.jar)"
bench_cp="${bench_cp%:}"
junit="$here/lib/junit/junit-platform-console-standalone.jar"
cache="${RTENSOR_JAVACPP_CACHE:-${TMPDIR:-/tmp}/rtensor-javacpp-$(id -u)}"
jvm=("@$here/jvm.args" "-Dorg.bytedeco.javacpp.cachedir=$cache" "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn")
out="$here/results"
mkdir -p "$out"
require_gpu=0
read -r -a bench_preset <<<"${RTENSOR_BUNDLE_BENCH:---full}"
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

# One bench row of results/bench.json (a line of its own): "name status ratio goal met".
bench_rows() {
  local line name status ratio goal met
  while IFS= read -r line; do
    [[ $line == *'"name": "'* ]] || continue
    name="$(sed -n 's/.*"name": "\([^"]*\)".*/\1/p' <<<"$line")"
    status="$(sed -n 's/.*"status": "\([^"]*\)".*/\1/p' <<<"$line")"
    ratio="$(sed -n 's/.*"ratio": \([^,}]*\).*/\1/p' <<<"$line")"
    goal="$(sed -n 's/.*"goal": \([^,}]*\).*/\1/p' <<<"$line")"
    met="$(sed -n 's/.*"met": \([^,}]*\).*/\1/p' <<<"$line")"
    echo "$name ${status:-?} ${ratio:--} ${goal:--} ${met:--}"
  done <"$1"
}

echo "== rtensor GPU checks on $(hostname) at $(date -u +%FT%TZ)"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/   gpu: /'
fi
"$java" -version 2>&1 | head -1 | sed 's/^/   java: /'

echo "== device runtimes"
"$java" "${jvm[@]}" -cp "$app_cp" io.rtensor.device.RuntimeProbe | tee "$out/probe.txt"

echo "== GPU tests"
# On the class path itself (not the launcher's own loader): the device-tensor path test starts
# worker JVMs with this JVM's class path.
"$java" "${jvm[@]}" -cp "$junit:$app_cp" org.junit.platform.console.ConsoleLauncher execute \
  --disable-banner --disable-ansi-colors --details=tree --fail-if-no-tests --reports-dir "$out/junit" \
  --select-package io.rtensor.cuda \
  2>&1 | tee "$out/tests.txt"
tests_rc=${PIPESTATUS[0]}
tests_skipped="$(grep -E '^\[ +[0-9]+ tests (skipped|aborted)' "$out/tests.txt" | awk '{s += $2} END {print s + 0}')"

echo "== D2H benchmark"
bench_rc=0
bench_missed=""
gpu_reason="$("$java" "${jvm[@]}" -cp "$app_cp" io.rtensor.cuda.D2hBenchmark --check 2>&1)"
if [[ $? -ne 0 ]]; then
  echo "skipped: no usable CUDA GPU: $gpu_reason" | tee "$out/benchmark.txt"
  gpu=0
else
  gpu=1
  "$java" "${jvm[@]}" -cp "$app_cp" io.rtensor.cuda.D2hBenchmark \
    --baseline "$here/bin/d2h_baseline" "${bench_args[@]}" 2>&1 | tee "$out/benchmark.txt"
  bench_rc=${PIPESTATUS[0]}
  if grep -q '^D2H goals: some' "$out/benchmark.txt"; then
    bench_missed="D2H benchmark"
  fi
  echo "== ./rtensor bench --only d2h,h2d,gpu-to-gpu-flight,gpu-to-gpu-ipc ${bench_preset[*]}"
  echo "   (gpu-to-gpu-ray is not run here: it needs a Ray head, and the bundle carries no Ray)"
  "$java" "${jvm[@]}" -Drtensor.root="$here" -cp "$bench_cp" io.rtensor.cli.Main \
    bench --only d2h,h2d,gpu-to-gpu-flight,gpu-to-gpu-ipc "${bench_preset[@]}" --json \
    >"$out/bench.json" 2> >(tee "$out/bench.log" >&2)
  [[ $? -eq 0 ]] || bench_rc=1
  cat "$out/bench.json"
fi

echo
echo "== summary"
grep -E '^\[ +[0-9]+ (tests|containers) (found|successful|skipped|failed|aborted)' "$out/tests.txt" \
  | sed 's/^/   /'
rows_not_measured=""
if [[ $gpu == 1 ]]; then
  grep -E 'MiB \||D2H goals' "$out/benchmark.txt" | sed 's/^/   /'
  while read -r name status ratio goal met; do
    if [[ $goal == null || $goal == - ]]; then
      echo "   bench $name: $status, ratio $ratio, no goal at this size"
    else
      echo "   bench $name: $status, ratio $ratio, goal >= $goal, met $met"
    fi
    if [[ $status != ran ]]; then
      rows_not_measured+=" $name ($status)"
    elif [[ $met == false ]]; then
      bench_missed+=" $name"
    fi
  done < <(bench_rows "$out/bench.json")
  [[ -s "$out/bench.json" ]] || rows_not_measured+=" (no bench output: see $out/bench.log)"
else
  echo "   benchmarks skipped: $gpu_reason"
fi
echo "   results in $out (JUnit XML in $out/junit, bench JSON in $out/bench.json)"
why=()
[[ $gpu == 0 ]] && why+=("no usable NVIDIA GPU here: $gpu_reason")
[[ $tests_skipped -gt 0 ]] && why+=("$tests_skipped GPU test(s) skipped")
[[ $gpu == 1 && -n $rows_not_measured ]] && why+=("bench rows not measured:$rows_not_measured")
[[ -n $bench_missed ]] && why+=("goals missed: $bench_missed")
notes="$(printf '%s; ' "${why[@]}")"
notes="${notes%; }"
if [[ $require_gpu == 1 && ${#why[@]} -gt 0 ]]; then
  echo "   RESULT: FAILED (--require-gpu: $notes)"
  exit 1
fi
if [[ $tests_rc -ne 0 || $bench_rc -ne 0 ]]; then
  echo "   RESULT: FAILED (tests exit $tests_rc, benchmark exit $bench_rc)"
  exit 1
fi
if [[ $gpu == 1 ]]; then
  echo "   RESULT: OK${notes:+ ($notes)}"
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
  fail "the bundle is larger than 60 MiB"
fi

if [[ $run == 1 ]]; then
  say "running the bundle"
  "$bundle/run.sh"
  if [[ $self_test == 1 && ! -e /proc/driver/nvidia/version ]]; then
    fake="$root/native/target/fake/libfakecuda.so"
    if [[ ! -f "$fake" ]]; then
      (cd "$root" && bash native/src/test/cpp/build-fakes.sh native/src/main/cpp native/target/fake >/dev/null)
    fi
    self="$bundle/results/self-test"
    mkdir -p "$self"
    say "self-test: the bundle against the fake CUDA driver (a check of its plumbing, not a measurement)"
    fake_java=(env RTENSOR_CUDA_LIBRARY="$fake" "$bundle/jre/bin/java" "@$bundle/jvm.args"
      -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Drtensor.root="$bundle")
    app_cp="$(printf '%s:' "$bundle"/lib/app/*.jar)"
    bench_cp="$app_cp$(printf '%s:' "$bundle"/lib/bench/*.jar)"
    "${fake_java[@]}" -cp "$app_cp" io.rtensor.cuda.D2hBenchmark \
      --baseline "$bundle/bin/d2h_baseline" --sizes-mib 1,4 --reps 3 --chunk-mib 1

    say "self-test: the device-tensor path test, its two workers on the fake driver's two devices," \
      "and the CUDA IPC test, its two processes sharing the fake driver's memory"
    "${fake_java[@]}" -Drtensor.cuda-tests.on-fake=true \
      -cp "$bundle/lib/junit/junit-platform-console-standalone.jar:$app_cp" \
      org.junit.platform.console.ConsoleLauncher execute --disable-banner --disable-ansi-colors \
      --details=tree --fail-if-no-tests --select-class io.rtensor.cuda.CudaDeviceTensorPathTest \
      --select-class io.rtensor.cuda.CudaIpcTest \
      2>&1 | tee "$self/tests.txt"
    [[ ${PIPESTATUS[0]} -eq 0 ]] || fail "self-test: the device-tensor path or CUDA IPC test failed"
    grep -qE '^\[ +3 tests successful' "$self/tests.txt" \
      || fail "self-test: the device-tensor path tests and the CUDA IPC test did not all succeed" \
        "(see $self/tests.txt)"

    say "self-test: bench --only d2h,h2d,gpu-to-gpu-flight,gpu-to-gpu-ipc,gpu-to-gpu-ray on the" \
      "fake driver"
    "${fake_java[@]}" -cp "$bench_cp" io.rtensor.cli.Main bench \
      --only d2h,h2d,gpu-to-gpu-flight,gpu-to-gpu-ipc,gpu-to-gpu-ray --size-mib 4 --reps 2 \
      --warmup 1 --json \
      >"$self/bench.json" || fail "self-test: the bench failed (its JSON: $self/bench.json)"
    cat "$self/bench.json"
    for row in d2h h2d gpu-to-gpu-flight gpu-to-gpu-ipc; do
      grep -qE "\"name\": \"$row\".*\"status\": \"checked\"" "$self/bench.json" \
        || fail "self-test: bench row $row was not checked end to end on the fake driver"
    done
    grep -qE '"name": "gpu-to-gpu-ray".*"status": "skipped", "reason": "no Ray head' "$self/bench.json" \
      || fail "self-test: bench row gpu-to-gpu-ray should be skipped for want of a Ray head"
    if grep -qE '"ratio"' "$self/bench.json"; then
      fail "self-test: a row on the fake driver reported a ratio"
    fi
    say "self-test passed"
  fi
fi

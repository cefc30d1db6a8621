package io.rtensor.jmh;

import io.rtensor.bench.D2hWorkload;
import io.rtensor.device.DeviceRuntime;
import io.rtensor.device.DeviceRuntimes;
import io.rtensor.device.RuntimeKind;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Device-to-host copies, 1 MiB to 1 GiB: into a pinned Arrow buffer (one async copy, and the
 * chunked copier) and into pageable Arrow memory through chunked staging, beside the baseline of
 * the same run: the driver's own copy, called directly ({@code cuMemcpyDtoHAsync} and {@code
 * cuStreamSynchronize}, no rtensor wrapper), into page-locked memory from {@code cuMemAllocHost}
 * (the calls the C++ baseline {@code d2h_baseline} times). Compare scores within one run, on one
 * machine. The copies are {@link D2hWorkload}'s, which {@code ./rtensor bench} runs too.
 *
 * <p>Uses the first device runtime that loads (CUDA, then Ascend, then the CPU backend, where the
 * "device" is host memory and the figures only show overheads).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(
    value = 1,
    jvmArgsAppend = {"--add-opens=java.base/java.nio=ALL-UNNAMED"})
public class D2hBenchmark {

  @Param({"1", "16", "64", "256", "1024"})
  public long sizeMib;

  private D2hWorkload d2h;

  @Setup(Level.Trial)
  public void setUp() {
    DeviceRuntime runtime = DeviceRuntimes.best();
    d2h = new D2hWorkload(runtime.device(0), sizeMib << 20);
    if (runtime.kind() == RuntimeKind.CPU) {
      System.out.println("[d2h] no device runtime loaded: measuring the CPU backend");
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    d2h.close();
  }

  /** The baseline: the driver's copy, called directly, into cuMemAllocHost memory. */
  @Benchmark
  public long baselineRawPinned() {
    return d2h.baselineRawPinned();
  }

  /** One async copy into a pinned Arrow buffer. */
  @Benchmark
  public long pinnedArrow() {
    return d2h.pinnedArrow();
  }

  /** The chunked copier into a pinned Arrow buffer. */
  @Benchmark
  public long pinnedArrowChunked() {
    return d2h.pinnedArrowChunked();
  }

  /** The chunked copier into pageable Arrow memory through page-locked staging. */
  @Benchmark
  public long pageableArrowStaged() {
    return d2h.pageableArrowStaged();
  }
}

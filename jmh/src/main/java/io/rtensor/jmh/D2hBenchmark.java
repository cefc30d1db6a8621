package io.rtensor.jmh;

import io.rtensor.device.ChunkedCopier;
import io.rtensor.device.Device;
import io.rtensor.device.DeviceBuffer;
import io.rtensor.device.DeviceRuntime;
import io.rtensor.device.DeviceRuntimes;
import io.rtensor.device.DeviceStream;
import io.rtensor.device.HostBuffer;
import io.rtensor.device.HostMemory;
import io.rtensor.device.NativeHost;
import io.rtensor.device.RuntimeKind;
import io.rtensor.device.arrow.PinnedAllocators;
import io.rtensor.device.arrow.PinnedBufferAllocator;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
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
 * the same run: a raw async copy into page-locked memory from {@code cuMemAllocHost} (the same call
 * the C++ baseline {@code d2h_baseline} times). Compare scores within one run, on one machine.
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

  private long bytes;
  private Device device;
  private DeviceBuffer source;
  private DeviceStream stream;
  private ChunkedCopier copier;
  private HostBuffer rawPinned;
  private PinnedBufferAllocator pinnedAllocator;
  private BufferAllocator pageableAllocator;
  private ArrowBuf pinned;
  private ArrowBuf pageable;

  @Setup(Level.Trial)
  public void setUp() {
    bytes = sizeMib << 20;
    DeviceRuntime runtime = DeviceRuntimes.best();
    device = runtime.device(0);
    source = device.allocate(bytes);
    device.fill(source, 0, bytes, 0x5A);
    stream = device.createStream();
    copier = ChunkedCopier.create(device);
    rawPinned = device.allocateHost(bytes);
    pinnedAllocator = PinnedAllocators.create(device, bytes + (64L << 20));
    pageableAllocator = new RootAllocator(Long.MAX_VALUE);
    pinned = pinnedAllocator.buffer(bytes);
    pageable = pageableAllocator.buffer(bytes);
    if (runtime.kind() == RuntimeKind.CPU) {
      System.out.println("[d2h] no device runtime loaded: measuring the CPU backend");
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    pinned.close();
    pageable.close();
    pinnedAllocator.close();
    pageableAllocator.close();
    rawPinned.close();
    copier.close();
    stream.close();
    source.close();
  }

  /** The baseline: one async copy into cuMemAllocHost / aclrtMallocHost memory. */
  @Benchmark
  public long baselineRawPinned() {
    device.copyToHostAsync(source, 0, rawPinned.memory(), 0, bytes, stream).close();
    return NativeHost.abiVersion();
  }

  /** One async copy into a pinned Arrow buffer. */
  @Benchmark
  public long pinnedArrow() {
    device.copyToHostAsync(source, 0, HostMemory.of(pinned), 0, bytes, stream).close();
    return pinned.memoryAddress();
  }

  /** The chunked copier into a pinned Arrow buffer. */
  @Benchmark
  public long pinnedArrowChunked() {
    copier.copyToHost(source, 0, HostMemory.of(pinned), 0, bytes);
    return pinned.memoryAddress();
  }

  /** The chunked copier into pageable Arrow memory through page-locked staging. */
  @Benchmark
  public long pageableArrowStaged() {
    copier.copyToHost(source, 0, HostMemory.of(pageable), 0, bytes);
    return pageable.memoryAddress();
  }
}

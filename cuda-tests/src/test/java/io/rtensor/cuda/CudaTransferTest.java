package io.rtensor.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.device.ChunkedCopier;
import io.rtensor.device.Device;
import io.rtensor.device.DeviceBuffer;
import io.rtensor.device.DeviceRuntime;
import io.rtensor.device.DeviceStream;
import io.rtensor.device.HostMemory;
import io.rtensor.device.NativeHost;
import io.rtensor.device.arrow.PinnedAllocators;
import io.rtensor.device.arrow.PinnedBufferAllocator;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Transport between a real NVIDIA GPU and (page-locked) Arrow memory, both ways. */
@Tag("gpu")
@Order(2)
class CudaTransferTest {
  private static final long GIB = 1L << 30;

  private DeviceRuntime cuda;
  private Device device;

  @BeforeEach
  void findGpu() {
    cuda = Gpu.cudaOrSkip();
    device = cuda.device(0);
  }

  /** Writes a position-dependent pattern into host memory (native fill, then a few words). */
  private static void pattern(ArrowBuf buf, long n, int seed) {
    for (long i = 0; i + 8 <= n; i += 8) {
      buf.setLong(i, i * 0x9E3779B97F4A7C15L + seed);
    }
    for (long i = n & ~7L; i < n; i++) {
      buf.setByte(i, (int) (i * 31 + seed));
    }
  }

  @ParameterizedTest(name = "{0} bytes")
  @ValueSource(
      longs = {1, 3, 4096, 65_537, 1L << 20, 64L << 20, (256L << 20) + 7, 1L << 30, 2 * GIB})
  void bytesArriveInPinnedArrowMemoryIntact(long n) {
    long room = n + 64;
    org.junit.jupiter.api.Assumptions.assumeTrue(
        device.memoryInfo().freeBytes() > 2 * room + (256L << 20), "not enough device memory");
    try (PinnedBufferAllocator pinned = PinnedAllocators.create(device, 2 * room + (64L << 20));
        BufferAllocator pageable = new RootAllocator(Long.MAX_VALUE);
        DeviceBuffer src = device.allocate(room);
        ArrowBuf expected = pageable.buffer(n);
        ArrowBuf out = pinned.buffer(room)) {
      assertTrue(pinned.pageLocked());
      pattern(expected, n, 7);
      long srcOffset = n % 2 == 0 ? 5 : 0;
      long dstOffset = 3;
      device.fill(src, 0, room, 0xAB);
      device.copyToDevice(HostMemory.of(expected), 0, src, srcOffset, n);
      device.copyToHost(src, srcOffset, out, dstOffset, n);
      assertEquals(
          NativeHost.checksum(expected.memoryAddress(), n),
          NativeHost.checksum(out.memoryAddress() + dstOffset, n),
          "checksum of " + n + " bytes");
      assertEquals(expected.getByte(n - 1), out.getByte(dstOffset + n - 1));
    }
  }

  @Test
  void deviceSideMemsetIsVisibleAfterD2H() {
    long n = (16L << 20) + 1;
    try (PinnedBufferAllocator pinned = PinnedAllocators.create(device, 64L << 20);
        DeviceBuffer src = device.allocate(n);
        ArrowBuf out = pinned.buffer(n)) {
      device.fill(src, 0, n, 0x11);
      device.fill(src, 1000, 24, 0x22);
      device.copyToHost(src, 0, out, 0, n);
      assertEquals(0x11, out.getByte(999));
      assertEquals(0x22, out.getByte(1000));
      assertEquals(0x22, out.getByte(1023));
      assertEquals(0x11, out.getByte(n - 1));
    }
  }

  @Test
  void chunkedCopiesToPinnedAndPageableMemoryMatch() {
    long n = (300L << 20) + 13;
    try (PinnedBufferAllocator pinned = PinnedAllocators.create(device, 1L << 30);
        BufferAllocator pageable = new RootAllocator(Long.MAX_VALUE);
        ChunkedCopier copier = ChunkedCopier.create(device, 8L << 20, 4);
        DeviceBuffer src = device.allocate(n);
        ArrowBuf expected = pageable.buffer(n);
        ArrowBuf pinnedOut = pinned.buffer(n);
        ArrowBuf pageableOut = pageable.buffer(n)) {
      pattern(expected, n, 3);
      device.copyToDevice(HostMemory.of(expected), 0, src, 0, n);
      copier.copyToHost(src, 0, HostMemory.of(pinnedOut), 0, n);
      copier.copyToHost(src, 0, HostMemory.of(pageableOut), 0, n);
      long want = NativeHost.checksum(expected.memoryAddress(), n);
      assertEquals(want, NativeHost.checksum(pinnedOut.memoryAddress(), n));
      assertEquals(want, NativeHost.checksum(pageableOut.memoryAddress(), n));
    }
  }

  @Test
  void chunkedCopiesFromPinnedAndPageableMemoryToTheDeviceMatch() {
    long n = (300L << 20) + 13;
    try (PinnedBufferAllocator pinned = PinnedAllocators.create(device, 1L << 30);
        BufferAllocator pageable = new RootAllocator(Long.MAX_VALUE);
        ChunkedCopier copier = ChunkedCopier.create(device, 8L << 20, 4);
        DeviceBuffer fromPinned = device.allocate(n);
        DeviceBuffer fromPageable = device.allocate(n);
        ArrowBuf pinnedIn = pinned.buffer(n);
        ArrowBuf pageableIn = pageable.buffer(n);
        ArrowBuf back = pageable.buffer(n)) {
      pattern(pinnedIn, n, 5);
      pattern(pageableIn, n, 5);
      long want = NativeHost.checksum(pageableIn.memoryAddress(), n);
      copier.copyToDevice(HostMemory.of(pinnedIn), 0, fromPinned, 0, n);
      copier.copyToDevice(HostMemory.of(pageableIn), 0, fromPageable, 0, n);
      device.copyToHost(fromPinned, 0, HostMemory.of(back), 0, n);
      assertEquals(want, NativeHost.checksum(back.memoryAddress(), n), "from pinned memory");
      back.setZero(0, n);
      device.copyToHost(fromPageable, 0, HostMemory.of(back), 0, n);
      assertEquals(want, NativeHost.checksum(back.memoryAddress(), n), "from pageable memory");
    }
  }

  @Test
  void fourThreadsCopyingAtOnceAllGetTheirBytes() throws Exception {
    long n = 64L << 20;
    ExecutorService threads = Executors.newFixedThreadPool(4);
    try (PinnedBufferAllocator pinned = PinnedAllocators.create(device, 1L << 30)) {
      List<Future<Boolean>> results = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        int value = 0x30 + t;
        results.add(
            threads.submit(
                () -> {
                  try (DeviceBuffer src = device.allocate(n);
                      DeviceStream stream = device.createStream();
                      ArrowBuf out = pinned.buffer(n)) {
                    for (int i = 0; i < 8; i++) {
                      device.fill(src, 0, n, value + i);
                      device.copyToHostAsync(src, 0, HostMemory.of(out), 0, n, stream).close();
                      if (out.getByte(0) != (byte) (value + i)
                          || out.getByte(n - 1) != (byte) (value + i)) {
                        return false;
                      }
                    }
                    return true;
                  }
                }));
      }
      for (Future<Boolean> f : results) {
        assertTrue(f.get());
      }
    } finally {
      threads.shutdownNow();
    }
  }

  @Test
  void thePinnedPoolReusesBlocks() {
    try (PinnedBufferAllocator pinned = PinnedAllocators.create(device, 256L << 20)) {
      for (int i = 0; i < 20; i++) {
        pinned.buffer(32L << 20).close();
      }
      assertEquals(1, pinned.pool().stats().runtimeAllocations());
      assertEquals(19, pinned.pool().stats().reuses());
    }
  }
}

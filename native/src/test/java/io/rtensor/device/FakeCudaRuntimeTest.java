package io.rtensor.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** The CUDA backend against the fake driver: the contract, error mapping and driver-call counts. */
class FakeCudaRuntimeTest extends FakeRuntimeTestBase {
  private static final int CUDA_ERROR_INVALID_VALUE = 1;
  private static final int CUDA_ERROR_OUT_OF_MEMORY = 2;
  private static final int CUDA_ERROR_NOT_INITIALIZED = 3;

  @Override
  RuntimeKind kind() {
    return RuntimeKind.CUDA;
  }

  @Override
  String asyncCopyFunction(boolean toDevice) {
    return toDevice ? "cuMemcpyHtoDAsync_v2" : "cuMemcpyDtoHAsync_v2";
  }

  @Override
  int invalidArgumentCode() {
    return CUDA_ERROR_INVALID_VALUE;
  }

  @Override
  String streamSyncFunction() {
    return "cuStreamSynchronize";
  }

  @Override
  String invalidArgumentName() {
    return "CUDA_ERROR_INVALID_VALUE";
  }

  @Test
  void loadsTheFakeDriverThroughTheOverrideProperty() {
    assertTrue(runtime().library().endsWith("libfakecuda.so"), runtime().library());
    assertEquals(12040, runtime().driverVersion());
    assertEquals(2, runtime().deviceCount());
    assertEquals("rtensor fake CUDA device 1", runtime().device(1).name());
  }

  @Test
  void primaryContextIsRetainedOncePerDeviceAndMadeCurrent() {
    long before = FakeRuntime.calls(kind(), "cuCtxSetCurrent");
    try (DeviceBuffer b = device().allocate(16)) {
      assertTrue(FakeRuntime.calls(kind(), "cuCtxSetCurrent") > before);
    }
    runtime().device(1).memoryInfo();
    long retained = FakeRuntime.calls(kind(), "cuDevicePrimaryCtxRetain");
    runtime().device(1).memoryInfo();
    try (DeviceBuffer b = device().allocate(16)) {
      assertEquals(retained, FakeRuntime.calls(kind(), "cuDevicePrimaryCtxRetain"));
    }
  }

  @Test
  void releasingDevicesGivesThePrimaryContextsBackAndTheyComeBackOnUse() {
    runtime().device(1).memoryInfo();
    long before = FakeRuntime.calls(kind(), "cuDevicePrimaryCtxRelease_v2");
    long retains = FakeRuntime.calls(kind(), "cuDevicePrimaryCtxRetain");
    runtime().releaseDevices();
    assertEquals(2, FakeRuntime.calls(kind(), "cuDevicePrimaryCtxRelease_v2") - before);
    try (DeviceBuffer b = device().allocate(64)) {
      assertEquals(retains + 1, FakeRuntime.calls(kind(), "cuDevicePrimaryCtxRetain"));
    }
  }

  @Test
  void totalMemoryComesFromCuDeviceTotalMem() {
    long before = FakeRuntime.calls(kind(), "cuDeviceTotalMem_v2");
    assertEquals(device().memoryInfo().totalBytes(), device().totalMemory());
    assertEquals(1, FakeRuntime.calls(kind(), "cuDeviceTotalMem_v2") - before);
  }

  @Test
  void outOfMemoryBecomesADeviceExceptionWithFullContext() {
    FakeRuntime.injectError(kind(), "cuMemAlloc_v2", CUDA_ERROR_OUT_OF_MEMORY, 0);
    DeviceException e = assertThrows(DeviceException.class, () -> device().allocate(12345));
    assertEquals(RuntimeKind.CUDA, e.runtime());
    assertEquals("CUDA_ERROR_OUT_OF_MEMORY", e.errorName());
    assertEquals("out of memory", e.errorText());
    assertEquals(CUDA_ERROR_OUT_OF_MEMORY, e.code());
    assertEquals(0, e.device());
    assertEquals("memAlloc", e.operation());
    assertEquals(12345, e.bytes());
    assertTrue(
        e.getMessage().contains("CUDA memAlloc failed on device 0 (12345 bytes)"), e.getMessage());
    try (DeviceBuffer b = device().allocate(12345)) {
      assertEquals(12345, b.size(), "an injected error fails one call only");
    }
  }

  @Test
  void invalidValueAndNotInitializedAreNamed() {
    try (DeviceBuffer b = device().allocate(64);
        HostBytes h = new HostBytes(64)) {
      FakeRuntime.injectError(kind(), "cuMemcpyDtoH_v2", CUDA_ERROR_INVALID_VALUE, 0);
      DeviceException e =
          assertThrows(DeviceException.class, () -> device().copyToHost(b, 0, h.memory(), 0, 64));
      assertEquals("CUDA_ERROR_INVALID_VALUE", e.errorName());
      assertEquals("memcpyDtoH", e.operation());
      assertEquals(64, e.bytes());
      FakeRuntime.injectError(kind(), "cuStreamCreate", CUDA_ERROR_NOT_INITIALIZED, 0);
      DeviceException n = assertThrows(DeviceException.class, () -> device().createStream());
      assertEquals("CUDA_ERROR_NOT_INITIALIZED", n.errorName());
      assertEquals("initialization error", n.errorText());
    }
  }

  @Test
  void anInvalidDevicePointerIsADeviceExceptionNotACrash() {
    try (HostBytes h = new HostBytes(256)) {
      DeviceBuffer bogus = device().wrap(0xdead0000L, 256);
      DeviceException e =
          assertThrows(
              DeviceException.class, () -> device().copyToHost(bogus, 0, h.memory(), 0, 256));
      assertEquals("CUDA_ERROR_INVALID_VALUE", e.errorName());
      bogus.close();
    }
  }

  @Test
  void buffersOfAnotherDeviceAreRefusedWithoutPeerAccess() {
    Device d0 = runtime().device(0);
    Device d1 = runtime().device(1);
    try (DeviceBuffer a = d0.allocate(64);
        DeviceBuffer b = d1.allocate(64);
        DeviceStream s1 = d1.createStream();
        HostBytes h = new HostBytes(64)) {
      assertThrows(IllegalArgumentException.class, () -> d0.copyOnDevice(a, 0, b, 0, 64));
      assertThrows(IllegalArgumentException.class, () -> d0.copyToHost(b, 0, h.memory(), 0, 64));
      assertThrows(
          IllegalArgumentException.class, () -> d0.copyToHostAsync(a, 0, h.memory(), 0, 64, s1));
    }
  }

  @Test
  void pinnedChunkedCopyIssuesOneDriverCopyPerChunk() {
    long chunk = 1 << 16;
    long n = 10 * chunk + 3;
    try (ChunkedCopier copier = ChunkedCopier.create(device(), chunk, 4);
        DeviceBuffer src = device().allocate(n);
        HostBuffer dst = device().allocateHost(n)) {
      assertTrue(dst.memory().pinned());
      long before = FakeRuntime.calls(kind(), "cuMemcpyDtoHAsync_v2");
      copier.copyToHost(src, 0, dst.memory(), 0, n);
      assertEquals(11, FakeRuntime.calls(kind(), "cuMemcpyDtoHAsync_v2") - before);
    }
  }

  @Test
  void pageableChunkedCopyGoesThroughStagingAndOverlapsLanes() {
    long chunk = 1 << 16;
    long n = 16 * chunk;
    try (ChunkedCopier copier = ChunkedCopier.create(device(), chunk, 4);
        DeviceBuffer src = device().allocate(n);
        HostBytes in = new HostBytes(n).fillPattern(2);
        HostBytes out = new HostBytes(n).fill(0)) {
      device().copyToDevice(in.memory(), 0, src, 0, n);
      long pinnedBefore = FakeRuntime.calls(kind(), "cuMemAllocHost_v2");
      copier.copyToHost(src, 0, out.memory(), 0, n);
      assertEquals(-1, out.firstMismatch(0, n, 0, 2));
      assertEquals(4, FakeRuntime.calls(kind(), "cuMemAllocHost_v2") - pinnedBefore, "staging");
      out.fill(0);
      // Long enough per copy that scheduling noise on a busy machine cannot hide the overlap.
      FakeRuntime.setCopyDelayMicros(kind(), 40_000);
      long start = System.nanoTime();
      try {
        copier.copyToHost(src, 0, out.memory(), 0, n);
      } finally {
        FakeRuntime.setCopyDelayMicros(kind(), 0);
      }
      long took = System.nanoTime() - start;
      long serialNanos = 16 * 40_000_000L;
      assertEquals(-1, out.firstMismatch(0, n, 0, 2));
      assertTrue(took < serialNanos * 3 / 4, "lanes overlap: " + took / 1_000_000 + " ms");
      assertEquals(
          4, FakeRuntime.calls(kind(), "cuMemAllocHost_v2") - pinnedBefore, "staging reused");
    }
  }

  @Test
  void pageableHostToDeviceLanesOverlapTheirCopies() {
    long chunk = 1 << 16;
    long n = 16 * chunk;
    try (ChunkedCopier copier = ChunkedCopier.create(device(), chunk, 4);
        DeviceBuffer dst = device().allocate(n);
        HostBytes in = new HostBytes(n).fillPattern(4);
        HostBytes out = new HostBytes(n).fill(0)) {
      // Long enough per copy that scheduling noise on a busy machine cannot hide the overlap.
      FakeRuntime.setCopyDelayMicros(kind(), 40_000);
      long start = System.nanoTime();
      try {
        copier.copyToDevice(in.memory(), 0, dst, 0, n);
      } finally {
        FakeRuntime.setCopyDelayMicros(kind(), 0);
      }
      long took = System.nanoTime() - start;
      long serialNanos = 16 * 40_000_000L;
      assertTrue(took < serialNanos * 3 / 4, "lanes overlap: " + took / 1_000_000 + " ms");
      device().copyToHost(dst, 0, out.memory(), 0, n);
      assertEquals(-1, out.firstMismatch(0, n, 0, 4));
    }
  }

  @Test
  void stagedCopiesUseTheirOwnSlotSizeAndLaneCount() {
    long slot = 4096;
    long n = 10 * slot + 5;
    try (ChunkedCopier copier = ChunkedCopier.create(device(), 1 << 16, 2, slot, 3);
        DeviceBuffer src = device().allocate(n);
        HostBytes in = new HostBytes(n).fillPattern(5);
        HostBytes out = new HostBytes(n).fill(0)) {
      assertEquals(slot, copier.stagingChunkBytes());
      assertEquals(3, copier.stagingLanes());
      device().copyToDevice(in.memory(), 0, src, 0, n);
      long pinnedBefore = FakeRuntime.calls(kind(), "cuMemAllocHost_v2");
      long copiesBefore = FakeRuntime.calls(kind(), "cuMemcpyDtoHAsync_v2");
      copier.copyToHost(src, 0, out.memory(), 0, n);
      assertEquals(-1, out.firstMismatch(0, n, 0, 5));
      assertEquals(11, FakeRuntime.calls(kind(), "cuMemcpyDtoHAsync_v2") - copiesBefore, "slots");
      assertEquals(
          3, FakeRuntime.calls(kind(), "cuMemAllocHost_v2") - pinnedBefore, "one per lane");
    }
    assertThrows(
        IllegalArgumentException.class, () -> ChunkedCopier.create(device(), 1024, 2, 0, 2));
    assertThrows(
        IllegalArgumentException.class, () -> ChunkedCopier.create(device(), 1024, 2, 1024, 65));
  }

  @Test
  void aFailedChunkLeavesNothingInFlightAndTheCopierUsable() {
    long chunk = 4096;
    long n = 20 * chunk;
    for (boolean pinned : new boolean[] {true, false}) {
      try (ChunkedCopier copier = ChunkedCopier.create(device(), chunk, 3);
          DeviceBuffer src = device().allocate(n);
          HostBuffer pinnedOut = device().allocateHost(n);
          HostBytes pageableOut = new HostBytes(n)) {
        HostMemory dst = pinned ? pinnedOut.memory() : pageableOut.memory();
        FakeRuntime.injectError(kind(), "cuMemcpyDtoHAsync_v2", CUDA_ERROR_INVALID_VALUE, 5);
        DeviceException e =
            assertThrows(DeviceException.class, () -> copier.copyToHost(src, 0, dst, 0, n));
        assertEquals("memcpyDtoHAsync", e.operation());
        assertEquals(chunk, e.bytes());
        copier.copyToHost(src, 0, dst, 0, n);
      }
    }
  }

  @Test
  void fourThreadsCopyAtOnce() throws Exception {
    long n = 1 << 18;
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<Long>> results = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        int seed = 40 + t;
        results.add(
            pool.submit(
                () -> {
                  try (DeviceBuffer b = device().allocate(n);
                      DeviceStream s = device().createStream();
                      HostBytes in = new HostBytes(n).fillPattern(seed);
                      HostBytes out = new HostBytes(n).fill(0)) {
                    for (int i = 0; i < 5; i++) {
                      device().copyToDeviceAsync(in.memory(), 0, b, 0, n, s).close();
                      device().copyToHostAsync(b, 0, out.memory(), 0, n, s).close();
                    }
                    return out.firstMismatch(0, n, 0, seed);
                  }
                }));
      }
      for (Future<Long> f : results) {
        assertEquals(-1L, f.get());
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void hostRegistrationPinsAndUnpinsExistingMemory() {
    try (HostBytes h = new HostBytes(8192)) {
      try (HostRegistration r = device().register(h.memory())) {
        assertTrue(r.memory().pinned());
        assertEquals(8192, FakeRuntime.liveBytes(kind(), FakeRuntime.REGISTERED_MEMORY));
      }
      assertEquals(0, FakeRuntime.liveBytes(kind(), FakeRuntime.REGISTERED_MEMORY));
    }
  }

  @Test
  void handleReportsNotDoneWhileTheCopyIsQueued() {
    try (DeviceBuffer b = device().allocate(4096);
        DeviceStream s = device().createStream();
        HostBytes h = new HostBytes(4096)) {
      FakeRuntime.setCopyDelayMicros(kind(), 200_000);
      try (CopyHandle handle = device().copyToHostAsync(b, 0, h.memory(), 0, 4096, s)) {
        assertFalse(handle.isDone());
        handle.await();
        assertTrue(handle.isDone());
      } finally {
        FakeRuntime.setCopyDelayMicros(kind(), 0);
      }
    }
  }

  @Test
  void hostTensorsOfDlpackLandOnTheCpuBackend() {
    long deletes = FakeRuntime.dlpackCount(kind(), FakeRuntime.DLPACK_DELETER_CALLS);
    long managed =
        FakeRuntime.dlpackMake(
            kind(), Dlpack.KDL_CPU, 0, Dlpack.KDL_INT, 64, 1, new long[] {5}, null, 8, 3);
    try (DeviceMemory m = Dlpack.importTensor(managed).memory()) {
      assertEquals(RuntimeKind.CPU, m.device().kind());
      assertEquals(40, m.size());
      HostBytes expected = new HostBytes(40).fillPattern(3);
      try (expected) {
        assertEquals(
            -1, DeviceRuntimeContract.mismatch(HostMemory.pageable(m.address(), 40), 0, 40, 0, 3));
      }
    }
    long onCpu1 =
        FakeRuntime.dlpackMake(
            kind(), Dlpack.KDL_CPU, 1, Dlpack.KDL_INT, 64, 1, new long[] {5}, null, 0, 3);
    assertThrows(DlpackException.class, () -> Dlpack.importTensor(onCpu1));
    assertEquals(deletes + 2, FakeRuntime.dlpackCount(kind(), FakeRuntime.DLPACK_DELETER_CALLS));
  }
}

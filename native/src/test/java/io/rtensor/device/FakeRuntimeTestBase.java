package io.rtensor.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Runs the contract against a fake runtime and fails any test that leaks device or pinned memory;
 * adds what only a fake can tell: how many bytes each chunked copy moved, in which direction, and
 * how many of them the host copied through staging.
 */
abstract class FakeRuntimeTestBase extends DeviceRuntimeContract {
  private long deviceBytesBefore;
  private long pinnedBytesBefore;
  private long leasesBefore;
  private long producerLiveBefore;

  abstract RuntimeKind kind();

  /** The runtime function of an asynchronous copy in that direction. */
  abstract String asyncCopyFunction(boolean toDevice);

  /** The runtime's code and name for an invalid argument. */
  abstract int invalidArgumentCode();

  abstract String invalidArgumentName();

  @Override
  DeviceRuntime runtime() {
    return DeviceRuntimes.get(kind());
  }

  @BeforeEach
  void recordLiveMemory() {
    runtime();
    FakeRuntime.reset(kind());
    deviceBytesBefore = FakeRuntime.liveBytes(kind(), FakeRuntime.DEVICE_MEMORY);
    pinnedBytesBefore = FakeRuntime.liveBytes(kind(), FakeRuntime.PINNED_MEMORY);
    leasesBefore = DeviceMemory.liveCount();
    producerLiveBefore = FakeRuntime.dlpackCount(kind(), FakeRuntime.DLPACK_LIVE);
  }

  @AfterEach
  void everythingAllocatedWasFreed() {
    FakeRuntime.reset(kind());
    assertEquals(java.util.List.of(), DeviceMemory.openReferences(), "device memory left open");
    assertEquals(leasesBefore, DeviceMemory.liveCount(), "device memory not released");
    assertEquals(
        producerLiveBefore,
        FakeRuntime.dlpackCount(kind(), FakeRuntime.DLPACK_LIVE),
        "DLPack tensors whose deleter was never called");
    assertEquals(
        0,
        FakeRuntime.dlpackCount(kind(), FakeRuntime.DLPACK_REPEATED_DELETES),
        "a DLPack deleter was called twice");
    assertEquals(
        deviceBytesBefore,
        FakeRuntime.liveBytes(kind(), FakeRuntime.DEVICE_MEMORY),
        "device memory leaked");
    assertEquals(
        pinnedBytesBefore,
        FakeRuntime.liveBytes(kind(), FakeRuntime.PINNED_MEMORY),
        "pinned memory leaked");
  }

  @Override
  void slowCopies(boolean slow) {
    FakeRuntime.setCopyDelayMicros(kind(), slow ? 20_000 : 0);
  }

  private long pinnedLive() {
    return FakeRuntime.liveBytes(kind(), FakeRuntime.PINNED_MEMORY);
  }

  /** The fake's copy counters now minus {@code before}. */
  private long[] copiedSince(long[] before) {
    long[] now = FakeRuntime.copiedBytes(kind());
    for (int i = 0; i < now.length; i++) {
      now[i] -= before[i];
    }
    return now;
  }

  /** Checks device memory against the test pattern through a synchronous copy. */
  private void assertDeviceHolds(DeviceBuffer buffer, long at, long n, long patternAt, int seed) {
    try (HostBytes out = new HostBytes(n)) {
      device().copyToHost(buffer, at, out.memory(), 0, n);
      assertEquals(-1, out.firstMismatch(0, n, patternAt, seed), "device bytes");
    }
  }

  /** The runtime function that synchronizes a stream. */
  abstract String streamSyncFunction();

  @Test
  void aRawDriverCopyIsOneAsyncCopyAndOneStreamSynchronizeOfTheRuntime() {
    assertTrue(runtime().isFake(), "the fake says so");
    long n = 3 * 4096 + 5;
    try (RawDriverCopy raw = RawDriverCopy.create(device());
        HostBuffer pinned = device().allocateHost(n);
        DeviceBuffer buffer = device().allocate(n)) {
      fillPattern(pinned.memory(), 13);
      for (boolean toDevice : new boolean[] {true, false}) {
        long copies = FakeRuntime.calls(kind(), asyncCopyFunction(toDevice));
        long syncs = FakeRuntime.calls(kind(), streamSyncFunction());
        long events = FakeRuntime.calls(kind(), "cuEventRecord");
        long[] before = FakeRuntime.copiedBytes(kind());
        if (toDevice) {
          raw.toDevice(pinned.memory(), 0, buffer, 0, n);
        } else {
          raw.toHost(buffer, 0, pinned.memory(), 0, n);
        }
        long[] copied = copiedSince(before);
        assertEquals(1, FakeRuntime.calls(kind(), asyncCopyFunction(toDevice)) - copies, "one");
        assertEquals(1, FakeRuntime.calls(kind(), streamSyncFunction()) - syncs, "one wait");
        assertEquals(events, FakeRuntime.calls(kind(), "cuEventRecord"), "no event");
        assertEquals(n, copied[toDevice ? FakeRuntime.COPIED_H2D : FakeRuntime.COPIED_D2H]);
        assertEquals(0, copied[FakeRuntime.COPIED_H2H], "no staging");
      }
      assertDeviceHolds(buffer, 0, n, 0, 13);
    }
  }

  @Test
  void aRawDriverCopyThrowsTheRuntimesError() {
    try (RawDriverCopy raw = RawDriverCopy.create(device());
        HostBytes host = new HostBytes(64);
        DeviceBuffer buffer = device().allocate(64)) {
      FakeRuntime.injectError(kind(), asyncCopyFunction(false), invalidArgumentCode(), 0);
      DeviceException e =
          assertThrows(DeviceException.class, () -> raw.toHost(buffer, 0, host.memory(), 0, 64));
      assertEquals(invalidArgumentName(), e.errorName());
      assertEquals(invalidArgumentCode(), e.code());
    }
  }

  @Test
  void pinnedHostToDeviceCopiesEveryChunkDirectlyWithNoHostCopy() {
    long chunk = 4096;
    long n = 37 * chunk + 11;
    try (ChunkedCopier copier = ChunkedCopier.create(device(), chunk, 3);
        HostBuffer src = device().allocateHost(n + 3);
        DeviceBuffer dst = device().allocate(n + 5)) {
      fillPattern(src.memory(), 31);
      long pinnedBefore = pinnedLive();
      long callsBefore = FakeRuntime.calls(kind(), asyncCopyFunction(true));
      long[] before = FakeRuntime.copiedBytes(kind());
      copier.copyToDevice(src.memory(), 3, dst, 5, n);
      long[] copied = copiedSince(before);
      assertEquals(n, copied[FakeRuntime.COPIED_H2D], "host-to-device bytes");
      assertEquals(0, copied[FakeRuntime.COPIED_H2H], "no staging copy");
      assertEquals(
          0, copied[FakeRuntime.COPIED_H2D_FROM_PAGEABLE], "every DMA reads pinned memory");
      assertEquals(38, FakeRuntime.calls(kind(), asyncCopyFunction(true)) - callsBefore, "chunks");
      assertEquals(pinnedBefore, pinnedLive(), "no staging memory");
      assertDeviceHolds(dst, 5, n, 3, 31);
    }
  }

  @Test
  void pageableHostToDeviceStagesEveryByteExactlyOnce() {
    long slot = 256;
    long n = 1000 * slot + 13;
    int lanes = 3;
    try (ChunkedCopier copier = ChunkedCopier.create(device(), 1 << 16, 2, slot, lanes);
        HostBytes src = new HostBytes(n + 3).fillPattern(17);
        DeviceBuffer dst = device().allocate(n + 5)) {
      long pinnedBefore = pinnedLive();
      long callsBefore = FakeRuntime.calls(kind(), asyncCopyFunction(true));
      long[] before = FakeRuntime.copiedBytes(kind());
      copier.copyToDevice(src.memory(), 3, dst, 5, n);
      long[] copied = copiedSince(before);
      assertEquals(n, copied[FakeRuntime.COPIED_H2H], "one staging copy per byte");
      assertEquals(n, copied[FakeRuntime.COPIED_H2D], "host-to-device bytes");
      assertEquals(
          0, copied[FakeRuntime.COPIED_H2D_FROM_PAGEABLE], "every DMA reads page-locked staging");
      assertEquals(1001, FakeRuntime.calls(kind(), asyncCopyFunction(true)) - callsBefore, "slots");
      assertEquals(
          lanes * ChunkedCopier.STAGING_SLOTS * slot,
          pinnedLive() - pinnedBefore,
          "staging: a ring of slots per lane, kept for the next copy");
      assertDeviceHolds(dst, 5, n, 3, 17);
    }
  }

  @Test
  void deviceToHostStagesPageableBytesExactlyOnceAndPinnedOnesNever() {
    long chunk = 4096;
    long n = 9 * chunk + 123;
    try (ChunkedCopier copier = ChunkedCopier.create(device(), chunk, 2);
        HostBytes in = new HostBytes(n).fillPattern(41);
        DeviceBuffer src = device().allocate(n);
        HostBuffer pinnedOut = device().allocateHost(n);
        HostBytes pageableOut = new HostBytes(n)) {
      device().copyToDevice(in.memory(), 0, src, 0, n);
      long[] before = FakeRuntime.copiedBytes(kind());
      copier.copyToHost(src, 0, pinnedOut.memory(), 0, n);
      long[] copied = copiedSince(before);
      assertEquals(n, copied[FakeRuntime.COPIED_D2H]);
      assertEquals(0, copied[FakeRuntime.COPIED_H2H], "pinned: no staging copy");
      assertEquals(-1, mismatch(pinnedOut.memory(), 0, n, 0, 41));

      before = FakeRuntime.copiedBytes(kind());
      copier.copyToHost(src, 0, pageableOut.memory(), 0, n);
      copied = copiedSince(before);
      assertEquals(n, copied[FakeRuntime.COPIED_D2H]);
      assertEquals(n, copied[FakeRuntime.COPIED_H2H], "pageable: one staging copy per byte");
      assertEquals(0, copied[FakeRuntime.COPIED_D2H_INTO_PAGEABLE], "DMAs land in staging");
      assertEquals(-1, pageableOut.firstMismatch(0, n, 0, 41));
    }
  }

  @Test
  void zeroByteChunkedCopiesMoveAndAllocateNothing() {
    try (ChunkedCopier copier = ChunkedCopier.create(device(), 4096, 2);
        HostBytes pageable = new HostBytes(64);
        HostBuffer pinned = device().allocateHost(64);
        DeviceBuffer buffer = device().allocate(64)) {
      long pinnedBefore = pinnedLive();
      long[] before = FakeRuntime.copiedBytes(kind());
      copier.copyToDevice(pageable.memory(), 64, buffer, 64, 0);
      copier.copyToDevice(pinned.memory(), 0, buffer, 0, 0);
      copier.copyToHost(buffer, 64, pageable.memory(), 64, 0);
      copier.copyToHost(buffer, 0, pinned.memory(), 0, 0);
      assertEquals(0, java.util.Arrays.stream(copiedSince(before)).sum(), "nothing copied");
      assertEquals(pinnedBefore, pinnedLive(), "no staging allocated");
    }
  }

  @ParameterizedTest(name = "toDevice={0}, pinned={1}")
  @CsvSource({"true, true", "true, false", "false, true", "false, false"})
  void aFailedChunkThrowsTheRuntimesErrorAndFreesTheStaging(boolean toDevice, boolean pinned) {
    long chunk = 4096;
    long n = 20 * chunk + 7;
    try (ChunkedCopier copier = ChunkedCopier.create(device(), chunk, 3, chunk, 3);
        DeviceBuffer buffer = device().allocate(n);
        HostBuffer pinnedHost = device().allocateHost(n);
        HostBytes pageableHost = new HostBytes(n)) {
      HostMemory host = pinned ? pinnedHost.memory() : pageableHost.memory();
      fillPattern(host, 7);
      if (!toDevice) {
        copier.copyToDevice(host, 0, buffer, 0, n);
      }
      long pinnedBefore = pinnedLive();
      FakeRuntime.injectError(
          kind(), asyncCopyFunction(toDevice), invalidArgumentCode(), /* after */ 5);
      DeviceException e =
          assertThrows(
              DeviceException.class,
              () -> {
                if (toDevice) {
                  copier.copyToDevice(host, 0, buffer, 0, n);
                } else {
                  copier.copyToHost(buffer, 0, host, 0, n);
                }
              });
      assertEquals(kind(), e.runtime());
      assertEquals(invalidArgumentName(), e.errorName());
      assertEquals(invalidArgumentCode(), e.code());
      assertEquals(toDevice ? "memcpyHtoDAsync" : "memcpyDtoHAsync", e.operation());
      assertEquals(chunk, e.bytes());
      assertEquals(
          pinnedBefore - (pinned || toDevice ? 0 : 3 * ChunkedCopier.STAGING_SLOTS * chunk),
          pinnedLive(),
          "every staging slot is freed after the failure");
      // The copier is still usable, and the retried copy is exact.
      if (toDevice) {
        device().fill(buffer, 0, n, 0);
        copier.copyToDevice(host, 0, buffer, 0, n);
        assertDeviceHolds(buffer, 0, n, 0, 7);
      } else {
        view(host).fill(0);
        copier.copyToHost(buffer, 0, host, 0, n);
        assertEquals(-1, mismatch(host, 0, n, 0, 7));
      }
    }
  }

  // ---- DLPack: ownership of imported and exported memory ----

  private int dlpackDeviceType() {
    return Dlpack.deviceType(kind());
  }

  private long produce(long[] shape, long[] strides, int seed) {
    return FakeRuntime.dlpackMake(
        kind(), dlpackDeviceType(), 0, Dlpack.KDL_FLOAT, 32, 1, shape, strides, 0, seed);
  }

  private long deleterCalls() {
    return FakeRuntime.dlpackCount(kind(), FakeRuntime.DLPACK_DELETER_CALLS);
  }

  @Test
  void anImportedTensorIsDeletedOnceWhenItsLastReferenceCloses() {
    long managed =
        FakeRuntime.dlpackMake(
            kind(), dlpackDeviceType(), 0, Dlpack.KDL_FLOAT, 32, 1, new long[] {3, 5}, null, 64, 9);
    long deletes = deleterCalls();
    Dlpack.Imported imported = Dlpack.importTensor(managed);
    DeviceMemory first = imported.memory();
    assertEquals(device(), first.device());
    assertEquals(60, first.size());
    assertEquals(Dlpack.KDL_FLOAT, imported.typeCode());
    assertEquals(32, imported.typeBits());
    assertEquals(
        java.util.List.of(3L, 5L), java.util.Arrays.stream(imported.shape()).boxed().toList());
    try (HostBytes out = new HostBytes(60)) {
      device().copyToHost(device().wrap(first.address(), 60), 0, out.memory(), 0, 60);
      assertEquals(-1, out.firstMismatch(0, 60, 0, 9), "the data after byte_offset");
    }
    DeviceMemory second = first.retain();
    first.close();
    assertEquals(deletes, deleterCalls(), "a reference is still open");
    second.close();
    assertEquals(deletes + 1, deleterCalls(), "the last reference deletes");
    second.close();
    first.close();
    assertEquals(deletes + 1, deleterCalls(), "closing again deletes nothing");
  }

  @Test
  void aRefusedTensorIsGivenBackToItsProducerOnce() {
    long[] shape = {4, 6};
    long deletes = deleterCalls();
    java.util.List<Long> refused =
        java.util.List.of(
            // Strides of a transposed (column-major) tensor.
            produce(shape, new long[] {1, 4}, 1),
            // A vector type: four float32 lanes per element.
            FakeRuntime.dlpackMake(
                kind(), dlpackDeviceType(), 0, Dlpack.KDL_FLOAT, 32, 4, shape, null, 0, 1),
            // Elements of 12 bits.
            FakeRuntime.dlpackMake(
                kind(), dlpackDeviceType(), 0, Dlpack.KDL_INT, 12, 1, shape, null, 0, 1),
            // An OpenCL buffer.
            FakeRuntime.dlpackMake(kind(), 4, 0, Dlpack.KDL_FLOAT, 32, 1, shape, null, 0, 1),
            // A device this process does not see.
            FakeRuntime.dlpackMake(
                kind(), dlpackDeviceType(), 9, Dlpack.KDL_FLOAT, 32, 1, shape, null, 0, 1),
            // A negative dimension.
            produce(new long[] {2, -3}, null, 1),
            // Rank 65.
            produce(new long[65], null, 1));
    for (long managed : refused) {
      assertThrows(DlpackException.class, () -> Dlpack.importTensor(managed));
    }
    assertEquals(deletes + refused.size(), deleterCalls(), "each given back once");
    assertThrows(DlpackException.class, () -> Dlpack.importTensor(0));
  }

  @Test
  void stridesOfARowMajorTensorAndOfUnitDimensionsAreTaken() {
    long[] shape = {2, 1, 3};
    long deletes = deleterCalls();
    for (long[] strides : new long[][] {{3, 3, 1}, {3, 99, 1}, null}) {
      try (DeviceMemory m = Dlpack.importTensor(produce(shape, strides, 2)).memory()) {
        assertEquals(24, m.size());
      }
    }
    // An empty tensor's strides say nothing.
    try (DeviceMemory m =
        Dlpack.importTensor(produce(new long[] {0, 4}, new long[] {1, 7}, 2)).memory()) {
      assertEquals(0, m.size());
    }
    assertEquals(deletes + 4, deleterCalls());
  }

  @Test
  void anExportKeepsTheMemoryUntilItsConsumerDeletesIt() {
    long n = 4 * 6 * 4;
    long deviceBytes = FakeRuntime.liveBytes(kind(), FakeRuntime.DEVICE_MEMORY);
    long leases = DeviceMemory.liveCount();
    long exported;
    try (DeviceMemory memory = DeviceMemory.allocate(device(), n);
        HostBytes in = new HostBytes(n).fillPattern(12)) {
      device().copyToDevice(in.memory(), 0, device().wrap(memory.address(), n), 0, n);
      exported = Dlpack.exportTensor(memory, 0, Dlpack.KDL_FLOAT, 32, new long[] {4, 6});
    }
    assertEquals(leases + 1, DeviceMemory.liveCount(), "the export holds the memory");
    assertEquals(deviceBytes + n, FakeRuntime.liveBytes(kind(), FakeRuntime.DEVICE_MEMORY));
    // A consumer takes it: here rtensor itself, which reads what the export describes.
    Dlpack.Imported back = Dlpack.importTensor(exported);
    try (DeviceMemory m = back.memory();
        HostBytes out = new HostBytes(n)) {
      assertEquals(device(), m.device());
      assertEquals(n, m.size());
      assertEquals(
          java.util.List.of(4L, 6L), java.util.Arrays.stream(back.shape()).boxed().toList());
      device().copyToHost(device().wrap(m.address(), n), 0, out.memory(), 0, n);
      assertEquals(-1, out.firstMismatch(0, n, 0, 12));
    }
    assertEquals(leases, DeviceMemory.liveCount(), "the consumer's delete released it");
    assertEquals(deviceBytes, FakeRuntime.liveBytes(kind(), FakeRuntime.DEVICE_MEMORY), "freed");
  }

  @Test
  void anExportDeletedWithoutImportReleasesItsReference() {
    long leases = DeviceMemory.liveCount();
    DeviceMemory memory = DeviceMemory.allocate(device(), 256);
    long a = Dlpack.exportTensor(memory, 0, Dlpack.KDL_UINT, 8, new long[] {256});
    long b = Dlpack.exportTensor(memory, 128, Dlpack.KDL_UINT, 8, new long[] {2, 64});
    memory.close();
    Dlpack.delete(a);
    assertEquals(leases + 1, DeviceMemory.liveCount(), "b still holds it");
    Dlpack.delete(b);
    assertEquals(leases, DeviceMemory.liveCount());
    assertThrows(
        IllegalStateException.class, () -> Dlpack.exportTensor(memory, 0, 1, 8, new long[] {1}));
    try (DeviceMemory other = DeviceMemory.allocate(device(), 16)) {
      assertThrows(
          IndexOutOfBoundsException.class,
          () -> Dlpack.exportTensor(other, 8, Dlpack.KDL_UINT, 8, new long[] {9}));
    }
  }
}

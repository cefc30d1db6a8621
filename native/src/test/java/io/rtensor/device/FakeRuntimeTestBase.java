package io.rtensor.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

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
  }

  @AfterEach
  void everythingAllocatedWasFreed() {
    FakeRuntime.reset(kind());
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
}

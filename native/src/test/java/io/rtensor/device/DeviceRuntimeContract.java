package io.rtensor.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The contract every device backend meets: run against the CPU backend and against the fake CUDA
 * and ACL runtimes, through the same native paths the real runtimes use.
 */
abstract class DeviceRuntimeContract {

  abstract DeviceRuntime runtime();

  Device device() {
    return runtime().device(0);
  }

  @Test
  void everyDeviceHasANameAndMemoryFigures() {
    assertTrue(runtime().deviceCount() >= 1);
    for (Device d : runtime().devices()) {
      assertFalse(d.name().isBlank(), "device name");
      MemoryInfo memory = d.memoryInfo();
      assertTrue(memory.totalBytes() > 0, "total memory");
      assertTrue(memory.freeBytes() <= memory.totalBytes(), "free <= total");
    }
  }

  @Test
  void bytesSurviveARoundTripThroughTheDevice() {
    long n = 1 << 20;
    try (HostBytes in = new HostBytes(n).fillPattern(3);
        HostBytes out = new HostBytes(n).fill(0);
        DeviceBuffer buffer = device().allocate(n)) {
      device().copyToDevice(in.memory(), 0, buffer, 0, n);
      device().copyToHost(buffer, 0, out.memory(), 0, n);
      assertEquals(-1, out.firstMismatch(0, n, 0, 3));
    }
  }

  @ParameterizedTest
  @ValueSource(longs = {1, 7, 4095, 65537})
  void unalignedOffsetsAndOddSizesCopyExactly(long n) {
    long srcOffset = 3;
    long dstOffset = 5;
    try (HostBytes in = new HostBytes(n + 16).fillPattern(9);
        HostBytes out = new HostBytes(n + 16).fill(0xEE);
        DeviceBuffer buffer = device().allocate(n + 16)) {
      device().copyToDevice(in.memory(), 1, buffer, srcOffset, n);
      device().copyToHost(buffer, srcOffset, out.memory(), dstOffset, n);
      assertEquals(-1, out.firstMismatch(dstOffset, n, 1, 9));
      assertEquals((byte) 0xEE, out.get(dstOffset - 1), "byte before the range untouched");
      assertEquals((byte) 0xEE, out.get(dstOffset + n), "byte after the range untouched");
    }
  }

  @Test
  void fillSetsDeviceBytes() {
    long n = 10_000;
    try (HostBytes out = new HostBytes(n).fill(0);
        DeviceBuffer buffer = device().allocate(n)) {
      device().fill(buffer, 0, n, 0x5A);
      device().fill(buffer, 100, 10, 0x01);
      device().copyToHost(buffer, 0, out.memory(), 0, n);
      assertEquals(0x5A, out.get(99));
      assertEquals(0x01, out.get(100));
      assertEquals(0x01, out.get(109));
      assertEquals(0x5A, out.get(110));
    }
  }

  @Test
  void deviceToDeviceCopiesSyncAndAsync() {
    long n = 70_000;
    try (HostBytes in = new HostBytes(n).fillPattern(5);
        HostBytes out = new HostBytes(n).fill(0);
        DeviceBuffer a = device().allocate(n);
        DeviceBuffer b = device().allocate(n);
        DeviceBuffer c = device().allocate(n);
        DeviceStream stream = device().createStream()) {
      device().copyToDevice(in.memory(), 0, a, 0, n);
      device().copyOnDevice(a, 0, b, 0, n);
      try (CopyHandle h = device().copyOnDeviceAsync(b, 0, c, 0, n, stream)) {
        h.await();
      }
      device().copyToHost(c, 0, out.memory(), 0, n);
      assertEquals(-1, out.firstMismatch(0, n, 0, 5));
    }
  }

  @Test
  void asyncCopiesOnOneStreamRunInOrderAndCompleteOnAwait() {
    long n = 256 * 1024;
    try (HostBytes in = new HostBytes(n).fillPattern(11);
        HostBytes out = new HostBytes(n).fill(0);
        DeviceBuffer buffer = device().allocate(n);
        DeviceStream stream = device().createStream()) {
      slowCopies(true);
      try {
        CopyHandle up = device().copyToDeviceAsync(in.memory(), 0, buffer, 0, n, stream);
        CopyHandle down = device().copyToHostAsync(buffer, 0, out.memory(), 0, n, stream);
        down.await();
        assertTrue(down.isDone());
        assertTrue(up.isDone(), "the stream ran the H2D before the D2H that was awaited");
        up.close();
        down.close();
      } finally {
        slowCopies(false);
      }
      assertEquals(-1, out.firstMismatch(0, n, 0, 11), "the D2H ran after the H2D");
    }
  }

  @Test
  void everyCopyQueuedBeforeAStreamSynchronizeIsDoneAfterIt() {
    long n = 64 * 1024;
    try (HostBytes in = new HostBytes(n).fillPattern(13);
        HostBytes out = new HostBytes(n).fill(0);
        DeviceBuffer buffer = device().allocate(n);
        DeviceStream stream = device().createStream();
        DeviceStream other = device().createStream()) {
      slowCopies(true);
      try {
        CopyHandle up = device().copyToDeviceAsync(in.memory(), 0, buffer, 0, n, stream);
        CopyHandle down = device().copyToHostAsync(buffer, 0, out.memory(), 0, n, stream);
        CopyHandle elsewhere = device().copyOnDeviceAsync(buffer, 0, buffer, 0, 0, other);
        stream.synchronize();
        assertTrue(up.isDone(), "first copy");
        assertTrue(down.isDone(), "last copy");
        assertEquals(-1, out.firstMismatch(0, n, 0, 13));
        other.synchronize();
        assertTrue(
            elsewhere.isDone(), "a copy on another stream, once that stream is synchronized");
        up.close();
        down.close();
        elsewhere.close();
      } finally {
        slowCopies(false);
      }
    }
  }

  /** Makes the fake runtimes' copies slow, so ordering mistakes show; no-op on the CPU. */
  void slowCopies(boolean slow) {}

  @Test
  void closingACopyHandleWaitsForTheCopy() {
    long n = 64 * 1024;
    try (HostBytes out = new HostBytes(n).fill(0);
        DeviceBuffer buffer = device().allocate(n);
        DeviceStream stream = device().createStream()) {
      device().fill(buffer, 0, n, 0x33);
      slowCopies(true);
      try {
        device().copyToHostAsync(buffer, 0, out.memory(), 0, n, stream).close();
      } finally {
        slowCopies(false);
      }
      assertEquals(0x33, out.get(n - 1));
    }
  }

  @Test
  void eventsMeasureTimeBetweenTwoPointsOfAStream() throws InterruptedException {
    if (!runtime().supportsEvents()) {
      assertThrows(UnsupportedOperationException.class, () -> device().createEvent());
      return;
    }
    try (DeviceStream stream = device().createStream();
        DeviceEvent start = device().createEvent();
        DeviceEvent end = device().createEvent();
        DeviceBuffer buffer = device().allocate(1 << 16);
        HostBytes out = new HostBytes(1 << 16)) {
      long wallStart = System.nanoTime();
      start.record(stream);
      device().copyToHostAsync(buffer, 0, out.memory(), 0, 1 << 16, stream).close();
      // The host waits between the two records, so the stream reaches `end` at least this late.
      Thread.sleep(60);
      end.record(stream);
      end.synchronize();
      double wallMillis = (System.nanoTime() - wallStart) / 1e6;
      assertTrue(end.isDone());
      float elapsed = end.elapsedMillisSince(start);
      assertTrue(
          elapsed >= 30 && elapsed <= wallMillis + 1,
          "elapsed " + elapsed + " ms between records 60 ms apart, within " + wallMillis + " ms");
    }
  }

  @Test
  void wrappedMemoryIsNotFreedByTheWrapper() {
    try (DeviceBuffer owner = device().allocate(4096);
        HostBytes out = new HostBytes(4096)) {
      device().fill(owner, 0, 4096, 7);
      DeviceBuffer view = device().wrap(owner.address(), 4096);
      assertFalse(view.owned());
      view.close();
      assertTrue(view.isClosed());
      device().copyToHost(owner, 0, out.memory(), 0, 4096);
      assertEquals(7, out.get(4095));
    }
  }

  @Test
  void javaSideMistakesAreRejectedBeforeNativeCode() {
    Device d = device();
    try (DeviceBuffer buffer = d.allocate(1024);
        HostBytes host = new HostBytes(1024);
        DeviceStream stream = d.createStream()) {
      HostMemory h = host.memory();
      assertThrows(NullPointerException.class, () -> d.copyToHost(null, 0, h, 0, 1));
      assertThrows(IllegalArgumentException.class, () -> d.copyToHost(buffer, -1, h, 0, 1));
      assertThrows(IllegalArgumentException.class, () -> d.copyToHost(buffer, 0, h, -1, 1));
      assertThrows(IllegalArgumentException.class, () -> d.copyToHost(buffer, 0, h, 0, -1));
      assertThrows(IndexOutOfBoundsException.class, () -> d.copyToHost(buffer, 1, h, 0, 1024));
      assertThrows(IndexOutOfBoundsException.class, () -> d.copyToHost(buffer, 0, h, 1000, 100));
      assertThrows(
          IndexOutOfBoundsException.class, () -> d.copyToDevice(h, 0, buffer, Long.MAX_VALUE, 2));
      assertThrows(
          IndexOutOfBoundsException.class, () -> d.copyOnDevice(buffer, 0, buffer, 1, 1024));
      assertThrows(IndexOutOfBoundsException.class, () -> d.fill(buffer, 1020, 5, 0));
      assertThrows(IllegalArgumentException.class, () -> d.allocate(0));
      assertThrows(IllegalArgumentException.class, () -> d.wrap(0, 16));
      assertThrows(IllegalArgumentException.class, () -> HostMemory.pageable(0, 16));
      assertThrows(IllegalArgumentException.class, () -> runtime().device(-1));
      assertThrows(IllegalArgumentException.class, () -> runtime().device(runtime().deviceCount()));
      assertThrows(NullPointerException.class, () -> d.copyToHostAsync(buffer, 0, h, 0, 1, null));
    }
    DeviceBuffer closed = d.allocate(64);
    closed.close();
    try (HostBytes host = new HostBytes(64)) {
      assertThrows(IllegalStateException.class, () -> d.copyToHost(closed, 0, host.memory(), 0, 1));
      assertThrows(IllegalStateException.class, () -> d.fill(closed, 0, 1, 0));
    }
    DeviceStream closedStream = d.createStream();
    closedStream.close();
    try (DeviceBuffer buffer = d.allocate(64);
        HostBytes host = new HostBytes(64)) {
      assertThrows(
          IllegalStateException.class,
          () -> d.copyToHostAsync(buffer, 0, host.memory(), 0, 1, closedStream));
    }
  }

  @Test
  void rawDriverCopiesMoveBytesBothWaysAndCheckRangesFirst() {
    long n = 70_001;
    try (RawDriverCopy raw = RawDriverCopy.create(device());
        HostBytes in = new HostBytes(n + 8).fillPattern(23);
        HostBytes out = new HostBytes(n + 8).fill(0xEE);
        DeviceBuffer buffer = device().allocate(n + 4)) {
      assertEquals(device(), raw.device());
      raw.toDevice(in.memory(), 1, buffer, 3, n);
      raw.toHost(buffer, 3, out.memory(), 5, n);
      assertEquals(-1, out.firstMismatch(5, n, 1, 23));
      assertEquals((byte) 0xEE, out.get(4), "byte before the range untouched");
      assertEquals((byte) 0xEE, out.get(5 + n), "byte after the range untouched");
      raw.toHost(buffer, 0, out.memory(), 0, 0);
      HostMemory h = out.memory();
      assertThrows(IndexOutOfBoundsException.class, () -> raw.toHost(buffer, 5, h, 0, n));
      assertThrows(IndexOutOfBoundsException.class, () -> raw.toDevice(h, 10, buffer, 0, n));
      assertThrows(IllegalArgumentException.class, () -> raw.toHost(buffer, -1, h, 0, 1));
      assertThrows(NullPointerException.class, () -> raw.toDevice(null, 0, buffer, 0, 1));
    }
    RawDriverCopy closed = RawDriverCopy.create(device());
    closed.close();
    closed.close();
    try (DeviceBuffer buffer = device().allocate(64);
        HostBytes host = new HostBytes(64)) {
      assertThrows(
          IllegalStateException.class, () -> closed.toHost(buffer, 0, host.memory(), 0, 1));
    }
  }

  @Test
  void zeroByteCopiesDoNothing() {
    try (DeviceBuffer buffer = device().allocate(16);
        HostBytes host = new HostBytes(16);
        DeviceStream stream = device().createStream()) {
      device().copyToHost(buffer, 16, host.memory(), 16, 0);
      try (CopyHandle h = device().copyToHostAsync(buffer, 0, host.memory(), 0, 0, stream)) {
        h.await();
        assertEquals(0, h.bytes());
      }
    }
  }

  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void chunkedCopiesAreExactAtEveryChunkBoundary(boolean pinned) {
    long chunk = 4096;
    long[] sizes = {1, chunk - 1, chunk, chunk + 1, 2 * chunk, 3 * chunk + 5, 11 * chunk + 77};
    try (ChunkedCopier copier = ChunkedCopier.create(device(), chunk, 3);
        DeviceBuffer src = device().allocate(12 * chunk + 200);
        HostBytes in = new HostBytes(12 * chunk + 200).fillPattern(21);
        HostBuffer pinnedOut = device().allocateHost(12 * chunk + 200);
        HostBytes pageableOut = new HostBytes(12 * chunk + 200)) {
      device().copyToDevice(in.memory(), 0, src, 0, src.size());
      HostMemory dst = pinned ? pinnedOut.memory() : pageableOut.memory();
      for (long n : sizes) {
        for (long offset : new long[] {0, 13}) {
          view(dst).fill(0);
          copier.copyToHost(src, offset, dst, offset + 1, n);
          assertEquals(-1, mismatch(dst, offset + 1, n, offset, 21), "size " + n + " at " + offset);
          assertEquals(0, view(dst).get(offset), "byte before the range untouched");
          assertEquals(0, view(dst).get(offset + 1 + n), "byte after the range untouched");
        }
      }
      assertEquals(3, copier.chunkCount(2 * chunk + 1));
    }
  }

  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void chunkedHostToDeviceCopiesAreExactAtEveryChunkBoundary(boolean pinned) {
    long chunk = 4096;
    long[] sizes = {1, chunk - 1, chunk, chunk + 1, 2 * chunk, 3 * chunk + 5, 11 * chunk + 77};
    long size = 12 * chunk + 200;
    try (ChunkedCopier copier = ChunkedCopier.create(device(), chunk, 3);
        DeviceBuffer dst = device().allocate(size);
        HostBuffer pinnedIn = device().allocateHost(size);
        HostBytes pageableIn = new HostBytes(size);
        HostBytes out = new HostBytes(size)) {
      HostMemory src = pinned ? pinnedIn.memory() : pageableIn.memory();
      fillPattern(src, 23);
      for (long n : sizes) {
        for (long offset : new long[] {0, 13}) {
          device().fill(dst, 0, size, 0);
          copier.copyToDevice(src, offset, dst, offset + 1, n);
          device().copyToHost(dst, 0, out.memory(), 0, size);
          assertEquals(
              -1, out.firstMismatch(offset + 1, n, offset, 23), "size " + n + " at " + offset);
          assertEquals(0, out.get(offset), "byte before the range untouched");
          assertEquals(0, out.get(offset + 1 + n), "byte after the range untouched");
        }
      }
    }
  }

  @Test
  void chunkedHostToDeviceCopiesRejectBadRanges() {
    try (ChunkedCopier copier = ChunkedCopier.create(device(), 1024, 2);
        DeviceBuffer dst = device().allocate(50);
        HostBytes in = new HostBytes(100)) {
      assertThrows(
          IndexOutOfBoundsException.class, () -> copier.copyToDevice(in.memory(), 0, dst, 0, 100));
      assertThrows(
          IndexOutOfBoundsException.class, () -> copier.copyToDevice(in.memory(), 90, dst, 0, 20));
      assertThrows(NullPointerException.class, () -> copier.copyToDevice(null, 0, dst, 0, 1));
      copier.copyToDevice(in.memory(), 100, dst, 50, 0);
      copier.close();
      assertThrows(
          IllegalStateException.class, () -> copier.copyToDevice(in.memory(), 0, dst, 0, 10));
    }
  }

  /** Fills host memory with the test pattern of {@link HostBytes}. */
  static void fillPattern(HostMemory memory, int seed) {
    org.bytedeco.javacpp.BytePointer p = view(memory);
    for (long i = 0; i < memory.size(); i++) {
      p.put(i, HostBytes.pattern(i, seed));
    }
  }

  /** A JavaCPP view of host memory, for reading and clearing it in tests. */
  static org.bytedeco.javacpp.BytePointer view(HostMemory memory) {
    return new org.bytedeco.javacpp.BytePointer() {
      {
        address = memory.address();
        capacity = memory.size();
        limit = memory.size();
      }
    };
  }

  /** Checks host memory at an address against the test pattern. */
  static long mismatch(HostMemory memory, long from, long n, long patternOffset, int seed) {
    org.bytedeco.javacpp.BytePointer p = view(memory);
    for (long i = 0; i < n; i++) {
      if (p.get(from + i) != HostBytes.pattern(patternOffset + i, seed)) {
        return from + i;
      }
    }
    return -1;
  }

  @Test
  void chunkedCopierRejectsBadSettingsAndRanges() {
    assertThrows(IllegalArgumentException.class, () -> ChunkedCopier.create(device(), 0, 2));
    assertThrows(IllegalArgumentException.class, () -> ChunkedCopier.create(device(), 1024, 0));
    try (ChunkedCopier copier = ChunkedCopier.create(device(), 1024, 2);
        DeviceBuffer src = device().allocate(100);
        HostBytes out = new HostBytes(50)) {
      assertThrows(
          IndexOutOfBoundsException.class, () -> copier.copyToHost(src, 0, out.memory(), 0, 100));
      copier.close();
      assertThrows(
          IllegalStateException.class, () -> copier.copyToHost(src, 0, out.memory(), 0, 10));
    }
  }
}

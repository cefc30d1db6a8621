package io.rtensor.device.arrow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.device.ChunkedCopier;
import io.rtensor.device.Device;
import io.rtensor.device.DeviceBuffer;
import io.rtensor.device.DeviceRuntimes;
import io.rtensor.device.HostMemory;
import io.rtensor.device.RuntimeKind;
import io.rtensor.device.internal.DeviceOps;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.OutOfMemoryException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Arrow buffers in page-locked memory, as direct DMA targets, pooled and capped. */
class PinnedAllocatorTest {

  private static Device device(RuntimeKind kind) {
    return DeviceRuntimes.get(kind).device(0);
  }

  private static long calls(RuntimeKind kind, String function) {
    return DeviceOps.fake_call_count(kind.ordinal(), function);
  }

  @ParameterizedTest
  @EnumSource(RuntimeKind.class)
  void anArrowBufferIsFilledFromTheDeviceWithOneCopy(RuntimeKind kind) {
    Device d = device(kind);
    long n = 100_003;
    try (PinnedBufferAllocator allocator = PinnedAllocators.create(d, 64L << 20);
        DeviceBuffer src = d.allocate(n);
        ArrowBuf buf = allocator.buffer(n)) {
      assertEquals(kind != RuntimeKind.CPU, allocator.pageLocked());
      assertEquals(kind != RuntimeKind.CPU, HostMemory.of(buf).pinned());
      d.fill(src, 0, n, 0x42);
      d.fill(src, n - 3, 3, 0x17);
      d.copyToHost(src, 0, buf, 0, n);
      assertEquals(0x42, buf.getByte(0));
      assertEquals(0x42, buf.getByte(n - 4));
      assertEquals(0x17, buf.getByte(n - 1));
    }
  }

  @Test
  void oneDriverCopyFillsAPinnedArrowBuffer() {
    Device d = device(RuntimeKind.CUDA);
    try (PinnedBufferAllocator allocator = PinnedAllocators.create(d, 64L << 20);
        DeviceBuffer src = d.allocate(1 << 20);
        ArrowBuf buf = allocator.buffer(1 << 20)) {
      long before = calls(RuntimeKind.CUDA, "cuMemcpyDtoH_v2");
      d.copyToHost(src, 0, buf, 0, 1 << 20);
      assertEquals(1, calls(RuntimeKind.CUDA, "cuMemcpyDtoH_v2") - before);
    }
  }

  @Test
  void chunkedCopiesIntoAPinnedArrowBufferNeedNoStaging() {
    Device d = device(RuntimeKind.CUDA);
    try (PinnedBufferAllocator allocator = PinnedAllocators.create(d, 64L << 20);
        ChunkedCopier copier = ChunkedCopier.create(d, 1 << 16, 2);
        DeviceBuffer src = d.allocate(1 << 20);
        ArrowBuf buf = allocator.buffer(1 << 20)) {
      d.fill(src, 0, 1 << 20, 9);
      long pinnedBefore = calls(RuntimeKind.CUDA, "cuMemAllocHost_v2");
      copier.copyToHost(src, 0, HostMemory.of(buf), 0, 1 << 20);
      assertEquals(0, calls(RuntimeKind.CUDA, "cuMemAllocHost_v2") - pinnedBefore);
      assertEquals(9, buf.getByte((1 << 20) - 1));
    }
  }

  @Test
  void repeatedAllocationsReuseTheRuntimesPinnedBlocks() {
    Device d = device(RuntimeKind.CUDA);
    try (PinnedBufferAllocator allocator = PinnedAllocators.create(d, 64L << 20)) {
      long before = calls(RuntimeKind.CUDA, "cuMemAllocHost_v2");
      for (int i = 0; i < 50; i++) {
        try (ArrowBuf buf = allocator.buffer(1 << 20)) {
          buf.setByte(0, i);
        }
      }
      assertEquals(1, calls(RuntimeKind.CUDA, "cuMemAllocHost_v2") - before);
      PinnedMemoryPool.Stats stats = allocator.pool().stats();
      assertEquals(1, stats.runtimeAllocations());
      assertEquals(49, stats.reuses());
      assertEquals(0, stats.bytesInUse());
      assertEquals(1 << 20, stats.bytesCached());
      assertEquals(0, allocator.getAllocatedMemory());
    }
  }

  @Test
  void closingTheAllocatorFreesEveryPinnedBlock() {
    Device d = device(RuntimeKind.CUDA);
    long live = DeviceOps.fake_live_bytes(DeviceOps.BACKEND_CUDA, 1);
    PinnedBufferAllocator allocator = PinnedAllocators.create(d, 64L << 20);
    allocator.buffer(5000).close();
    allocator.buffer(3 << 20).close();
    assertTrue(DeviceOps.fake_live_bytes(DeviceOps.BACKEND_CUDA, 1) > live);
    allocator.close();
    assertEquals(live, DeviceOps.fake_live_bytes(DeviceOps.BACKEND_CUDA, 1));
    assertEquals(2, allocator.pool().stats().runtimeFrees());
  }

  @Test
  void theCapBoundsPinnedMemoryAndCachedBlocksAreEvictedFirst() {
    Device d = device(RuntimeKind.CUDA);
    try (PinnedBufferAllocator allocator = PinnedAllocators.create(d, 4L << 20)) {
      allocator.buffer(2 << 20).close();
      assertEquals(2 << 20, allocator.pool().stats().bytesCached());
      try (ArrowBuf big = allocator.buffer(3 << 20)) {
        assertEquals(0, allocator.pool().stats().bytesCached(), "cached block evicted for room");
        assertThrows(OutOfMemoryException.class, () -> allocator.buffer(2 << 20));
        assertTrue(big.capacity() >= 3 << 20);
      }
    }
  }

  @Test
  void aLeakedBufferFailsTheAllocatorsClose() {
    Device d = device(RuntimeKind.CUDA);
    PinnedBufferAllocator allocator = PinnedAllocators.create(d, 8L << 20);
    ArrowBuf leaked = allocator.buffer(4096);
    IllegalStateException e = assertThrows(IllegalStateException.class, allocator::close);
    assertTrue(e.getMessage().contains("Memory leaked"), e.getMessage());
    assertEquals(4096, allocator.pool().stats().bytesInUse(), "the leaked block stays accounted");
    assertEquals(1, leaked.refCnt());
  }

  @Test
  void theDefaultFactoryPinsThroughTheFirstLoadedRuntime() {
    try (PinnedBufferAllocator allocator = PinnedAllocators.create(16L << 20)) {
      assertEquals(RuntimeKind.CUDA, allocator.pool().device().kind());
      assertTrue(allocator.pageLocked());
    }
  }

  @Test
  void childAllocatorsHandOutPinnedMemoryToo() {
    Device d = device(RuntimeKind.CUDA);
    try (PinnedBufferAllocator root = PinnedAllocators.create(d, 16L << 20);
        org.apache.arrow.memory.BufferAllocator child =
            root.newChildAllocator("tensor", 0, 8L << 20);
        ArrowBuf buf = child.buffer(4096)) {
      assertTrue(HostMemory.of(buf).pinned());
      assertEquals(4096, root.pool().stats().bytesInUse());
    }
  }

  @Test
  void sizeClassesArePowersOfTwoThenWholeMebibytes() {
    assertEquals(4096, PinnedMemoryPool.sizeClass(1));
    assertEquals(8192, PinnedMemoryPool.sizeClass(4097));
    assertEquals(1 << 20, PinnedMemoryPool.sizeClass((1 << 20) - 1));
    assertEquals(2 << 20, PinnedMemoryPool.sizeClass((1 << 20) + 1));
    assertFalse(PinnedMemoryPool.sizeClass(3 << 20) > (3 << 20));
  }
}

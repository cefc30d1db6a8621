package io.rtensor.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.OutOfMemoryException;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class BlockPoolTest {
  private static final long MIB = 1 << 20;
  private BufferAllocator root;

  @BeforeEach
  void open() {
    root = new RootAllocator();
  }

  @AfterEach
  void close() {
    root.close();
  }

  @Test
  void aFreedBlockIsHandedOutAgain() {
    try (BlockPool pool = new BlockPool()) {
      long first;
      try (ArrowBuf a = pool.buffer(root, 16 * MIB)) {
        first = a.memoryAddress();
        a.setLong(16 * MIB - 8, 42);
        assertEquals(16 * MIB, a.capacity());
        assertEquals(16 * MIB, root.getAllocatedMemory(), "accounted to the allocator");
      }
      assertEquals(0, root.getAllocatedMemory());
      assertEquals(16 * MIB, pool.idleBytes());
      try (ArrowBuf b = pool.buffer(root, 16 * MIB)) {
        assertEquals(first, b.memoryAddress());
        assertEquals(42, b.getLong(16 * MIB - 8), "the same block, not fresh memory");
        assertEquals(0, pool.idleBytes());
      }
      assertEquals(1, pool.reusedBlocks());
      assertEquals(1, pool.freshBlocks());
    }
  }

  @Test
  void blocksAreSizedInGranulesAndMatchedBySize() {
    try (BlockPool pool = new BlockPool()) {
      long odd = 17 * MIB + 5;
      long address;
      try (ArrowBuf a = pool.buffer(root, odd)) {
        address = a.memoryAddress();
        assertEquals(17 * MIB + BlockPool.GRANULE, a.capacity());
        assertEquals(a.capacity(), root.getAllocatedMemory());
      }
      try (ArrowBuf other = pool.buffer(root, 20 * MIB)) {
        assertNotEquals(address, other.memoryAddress(), "another size takes a new block");
      }
      try (ArrowBuf same = pool.buffer(root, 17 * MIB + 1000)) {
        assertEquals(address, same.memoryAddress(), "same granule, same block");
      }
    }
  }

  @Test
  void keptBlocksStayWithinTheBound() {
    try (BlockPool pool = new BlockPool(40 * MIB)) {
      List<ArrowBuf> bufs = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        bufs.add(pool.buffer(root, 16 * MIB));
      }
      bufs.forEach(ArrowBuf::close);
      assertEquals(32 * MIB, pool.idleBytes(), "two of four 16 MiB blocks fit in 40 MiB");
      assertEquals(0, root.getAllocatedMemory());
      pool.trim();
      assertEquals(0, pool.idleBytes());
      pool.buffer(root, 16 * MIB).close();
      assertEquals(16 * MIB, pool.idleBytes(), "a trimmed pool keeps blocks again");
    }
  }

  @Test
  void keepingNothingFreesEveryBlock() {
    try (BlockPool pool = new BlockPool(0)) {
      pool.buffer(root, 4 * MIB).close();
      pool.buffer(root, 4 * MIB).close();
      assertEquals(0, pool.idleBytes());
      assertEquals(0, pool.reusedBlocks());
    }
  }

  @Test
  void smallRequestsAreLeftToTheAllocator() {
    try (BlockPool pool = new BlockPool()) {
      try (ArrowBuf b = pool.buffer(root, BlockPool.MIN_BLOCK - 1)) {
        assertEquals(
            BlockPool.MIN_BLOCK, root.getAllocatedMemory(), "Arrow's power-of-two rounding");
      }
      assertEquals(0, pool.freshBlocks());
      assertEquals(0, pool.idleBytes());
    }
  }

  @Test
  void theAllocatorsLimitHoldsAndARefusedBlockIsKept() {
    try (BlockPool pool = new BlockPool();
        BufferAllocator small = root.newChildAllocator("small", 0, 8 * MIB)) {
      assertThrows(OutOfMemoryException.class, () -> pool.buffer(small, 9 * MIB));
      assertEquals(0, small.getAllocatedMemory());
      assertEquals(9 * MIB, pool.idleBytes(), "the refused block went back to the pool");
      try (ArrowBuf ok = pool.buffer(small, 8 * MIB)) {
        assertEquals(8 * MIB, small.getAllocatedMemory());
      }
    }
  }

  @Test
  void aClosedAllocatorIsRefusedAndNothingLeaks() {
    BufferAllocator child = root.newChildAllocator("closed", 0, Long.MAX_VALUE);
    child.close();
    try (BlockPool pool = new BlockPool(0)) {
      assertThrows(RuntimeException.class, () -> pool.buffer(child, 2 * MIB));
      assertEquals(0, pool.idleBytes());
    }
  }

  @Test
  void closingThePoolFreesKeptBlocksAndLeavesBuffersInUseValid() {
    BlockPool pool = new BlockPool();
    pool.buffer(root, 2 * MIB).close();
    ArrowBuf open = pool.buffer(root, 4 * MIB);
    open.setLong(0, 7);
    pool.close();
    assertEquals(0, pool.idleBytes());
    assertEquals(7, open.getLong(0));
    open.close();
    assertEquals(0, pool.idleBytes(), "a closed pool frees released blocks at once");
    assertEquals(0, root.getAllocatedMemory());
  }

  @Test
  void eightThreadsAtOnceNeverShareABlock() throws Exception {
    try (BlockPool pool = new BlockPool()) {
      ExecutorService threads = Executors.newFixedThreadPool(8);
      try {
        List<Future<?>> done = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
          long seed = t;
          done.add(
              threads.submit(
                  () -> {
                    for (int i = 0; i < 50; i++) {
                      long size = (1 + (seed + i) % 3) * MIB;
                      long mark = seed * 1000 + i;
                      try (ArrowBuf b = pool.buffer(root, size)) {
                        b.setLong(0, mark);
                        b.setLong(size - 8, mark);
                        Thread.yield();
                        if (b.getLong(0) != mark || b.getLong(size - 8) != mark) {
                          throw new AssertionError("two buffers were given the same block");
                        }
                      }
                    }
                    return null;
                  }));
        }
        for (Future<?> f : done) {
          f.get();
        }
      } finally {
        threads.shutdown();
      }
      assertEquals(0, root.getAllocatedMemory());
      assertTrue(pool.reusedBlocks() > 0);
      assertTrue(pool.idleBytes() <= pool.maxIdleBytes());
    }
  }

  @Test
  void aNegativeBoundIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> new BlockPool(-1));
  }
}

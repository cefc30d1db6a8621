package io.rtensor.transport.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.tensor.ColumnSpec;
import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.wire.DecodeLimits;
import io.rtensor.wire.ShardCodec;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Shards registered in a store to be written at their first read ({@link ShardStore#putDeferred}):
 * written once however many read them, their source kept until they are removed, a failed write
 * leaving nothing behind and the shard readable later.
 */
class ShardStoreDeferredTest {
  private static final List<ColumnSpec> COLUMNS =
      List.of(ColumnSpec.of("tensor", DType.INT32, Shape.of(4, 8)));
  private static final long ROWS = 4;
  private static final long BYTES = 4 * 8 * 4;

  private RootAllocator root;
  private ShardStore store;

  @BeforeEach
  void open() {
    root = new RootAllocator();
    store = new ShardStore("test:1", root, 1 << 20, DecodeLimits.DEFAULT);
  }

  @AfterEach
  void close() {
    store.close();
    root.close(); // throws on a leaked buffer
  }

  /** A column writer that fills each byte with its index and counts its writes. */
  private static final class Filler implements ShardCodec.ColumnWriter {
    final AtomicInteger writes = new AtomicInteger();
    volatile RuntimeException failure;
    volatile CountDownLatch gate;

    @Override
    public void write(int column, ArrowBuf target, long offset, long length) {
      writes.incrementAndGet();
      CountDownLatch g = gate;
      if (g != null) {
        try {
          g.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      RuntimeException f = failure;
      if (f != null) {
        throw f;
      }
      for (long i = 0; i < length; i++) {
        target.setByte(offset + i, (byte) i);
      }
    }
  }

  /** A source that counts its closes. */
  private static final class Source implements AutoCloseable {
    final AtomicInteger closes = new AtomicInteger();

    @Override
    public void close() {
      closes.incrementAndGet();
    }
  }

  private static void assertFilled(TensorBatch batch) {
    Tensor t = batch.tensor("tensor");
    assertEquals(Shape.of(4, 8), t.shape());
    byte[] bytes = t.toByteArray();
    for (int i = 0; i < bytes.length; i++) {
      assertEquals((byte) i, bytes[i], "byte " + i);
    }
  }

  @Test
  void aDeferredShardIsWrittenAtItsFirstReadOnceAndItsSourceClosedWhenRemoved() {
    Filler filler = new Filler();
    Source source = new Source();
    store.putDeferred("a", COLUMNS, ROWS, filler, source);
    assertEquals(0, filler.writes.get(), "nothing written at the put");
    assertEquals(1, store.stats().entries());
    assertEquals(0, store.stats().bytes());
    assertEquals(List.of(), store.missing(List.of("a")), "a deferred shard is held");

    try (BufferAllocator reader = root.newChildAllocator("reader", 0, Long.MAX_VALUE)) {
      try (TensorBatch first = store.get("a", reader)) {
        assertFilled(first);
      }
      try (TensorBatch second = store.get("a", reader)) {
        assertFilled(second);
      }
    }
    assertEquals(1, filler.writes.get(), "written once");
    assertTrue(store.stats().bytes() > BYTES);
    assertEquals(0, source.closes.get(), "the source is kept while the shard is");

    assertEquals(1, store.remove(List.of("a")));
    assertEquals(1, source.closes.get(), "closed by the remove");
    assertEquals(0, store.stats().entries());
    assertEquals(0, store.remove(List.of("a")), "removed once");
    assertEquals(1, source.closes.get());
  }

  @Test
  void aDeferredShardRemovedUnreadIsNeverWritten() {
    Filler filler = new Filler();
    Source source = new Source();
    List<String> removed = Collections.synchronizedList(new ArrayList<>());
    store.onRemoved(removed::addAll);
    store.putDeferred("b", COLUMNS, ROWS, filler, source);
    assertEquals(1, store.remove(List.of("b")));
    assertEquals(List.of("b"), removed, "listeners hear of it like any shard");
    assertEquals(0, filler.writes.get());
    assertEquals(1, source.closes.get());
    assertNull(store.retain(List.of("b")).get(0));
  }

  @Test
  void concurrentFirstReadsWriteTheShardOnce() throws Exception {
    Filler filler = new Filler();
    filler.gate = new CountDownLatch(1);
    store.putDeferred("c", COLUMNS, ROWS, filler, new Source());
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<ArrowBuf>> reads = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        reads.add(pool.submit(() -> store.retain(List.of("c")).get(0)));
      }
      Thread.sleep(200); // every reader is in: one writes, the others wait for it
      filler.gate.countDown();
      ArrowBuf first = reads.get(0).get(10, TimeUnit.SECONDS);
      for (Future<ArrowBuf> r : reads) {
        ArrowBuf b = r.get(10, TimeUnit.SECONDS);
        assertNotNull(b);
        assertEquals(first.memoryAddress(), b.memoryAddress(), "one stored buffer");
        b.close();
      }
    } finally {
      pool.shutdownNow();
    }
    assertEquals(1, filler.writes.get(), "written once by four readers");
    store.remove(List.of("c"));
  }

  @Test
  void aRemoveDuringTheFirstWriteClosesTheSourceOnlyAfterTheWrite() throws Exception {
    Filler filler = new Filler();
    filler.gate = new CountDownLatch(1);
    Source source = new Source();
    store.putDeferred("r", COLUMNS, ROWS, filler, source);
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      Future<java.util.List<ArrowBuf>> read = pool.submit(() -> store.retain(List.of("r")));
      while (filler.writes.get() == 0) {
        Thread.sleep(5); // the reader is writing the shard (held at the gate)
      }
      Future<Long> removal = pool.submit(() -> store.remove(List.of("r")));
      Thread.sleep(200);
      assertEquals(0, source.closes.get(), "the source is not closed under a write");
      filler.gate.countDown();
      assertEquals(1L, removal.get(10, TimeUnit.SECONDS));
      assertEquals(1, source.closes.get());
      ArrowBuf b = read.get(10, TimeUnit.SECONDS).get(0);
      assertNull(b, "removed before the write was stored: the reader gets nothing");
    } finally {
      pool.shutdownNow();
    }
    assertEquals(0, store.stats().entries());
    assertEquals(0, root.getAllocatedMemory(), "the written buffer was freed, not stored");
  }

  @Test
  void aFailedWriteStoresNothingAndTheNextReadWritesIt() {
    Filler filler = new Filler();
    Source source = new Source();
    store.putDeferred("d", COLUMNS, ROWS, filler, source);
    filler.failure = new IllegalStateException("device lost");
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> store.retain(List.of("d")));
    assertEquals("device lost", e.getMessage());
    assertEquals(1, store.stats().entries(), "still held");
    assertEquals(0, store.stats().bytes(), "nothing half written is kept");
    assertEquals(0, root.getAllocatedMemory(), "the buffer of the failed write is freed");
    assertEquals(0, source.closes.get());

    filler.failure = null;
    try (BufferAllocator reader = root.newChildAllocator("reader", 0, Long.MAX_VALUE);
        TensorBatch b = store.get("d", reader)) {
      assertFilled(b);
    }
    store.remove(List.of("d"));
    assertEquals(1, source.closes.get());
  }

  @Test
  void aWriteTheCapRefusesIsTypedAndKeepsTheShard() {
    try (ShardStore small = new ShardStore("small:1", root, BYTES, DecodeLimits.DEFAULT)) {
      Source source = new Source();
      small.putDeferred("e", COLUMNS, ROWS, new Filler(), source);
      ShardStore.StoreFullException full =
          assertThrows(ShardStore.StoreFullException.class, () -> small.retain(List.of("e")));
      assertTrue(full.getMessage().contains("is full"), full.getMessage());
      assertEquals(1, small.stats().entries());
      assertEquals(0, source.closes.get());
    }
  }

  @Test
  void aTakenIdIsRefusedAndTheSourceStaysTheCallers() {
    Source first = new Source();
    store.putDeferred("f", COLUMNS, ROWS, new Filler(), first);
    Source second = new Source();
    assertThrows(
        IllegalArgumentException.class,
        () -> store.putDeferred("f", COLUMNS, ROWS, new Filler(), second));
    assertEquals(0, second.closes.get());
    try (BufferAllocator a = new RootAllocator();
        TensorBatch batch = TensorBatch.of("tensor", Tensor.of(a, new int[32], Shape.of(4, 8)))) {
      assertThrows(IllegalArgumentException.class, () -> store.put("f", batch));
    }
    store.remove(List.of("f"));
    assertEquals(1, first.closes.get());
  }

  @Test
  void closingTheStoreClosesTheSourcesOfItsDeferredShards() {
    Source read = new Source();
    Source unread = new Source();
    store.putDeferred("g", COLUMNS, ROWS, new Filler(), read);
    store.putDeferred("h", COLUMNS, ROWS, new Filler(), unread);
    store.retain(List.of("g")).get(0).close();
    store.close();
    assertEquals(1, read.closes.get());
    assertEquals(1, unread.closes.get());
    assertFalse(root.getAllocatedMemory() > 0, "the written shard is freed");
  }
}

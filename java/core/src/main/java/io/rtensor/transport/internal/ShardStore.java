package io.rtensor.transport.internal;

import io.rtensor.tensor.ColumnSpec;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.transport.StoreStats;
import io.rtensor.wire.DecodeLimits;
import io.rtensor.wire.ShardCodec;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.OutOfMemoryException;

/**
 * The shards one process serves: each an encoded Arrow IPC stream in a buffer of one capped
 * allocator. A put that would pass the cap is refused ({@link StoreFullException}) and nothing
 * stored is touched; a stream that is not a valid shard is refused before it is stored.
 *
 * <p>The cap counts what the allocator accounts, rounding included: give the store a root with a
 * fine rounding policy ({@link io.rtensor.transport.FlightShardServerMain#newRootAllocator()}).
 */
public final class ShardStore implements AutoCloseable {
  private final String location;
  private final BufferAllocator allocator;
  private final DecodeLimits limits;
  private final Memory memory;
  private final Map<String, ArrowBuf> shards = new HashMap<>();
  // Shards kept outside the store until their first read, and what each keeps alive until removed.
  private final Map<String, Deferred> deferred = new HashMap<>();
  private final Map<String, AutoCloseable> sources = new HashMap<>();
  private final List<Consumer<Collection<String>>> removalListeners = new CopyOnWriteArrayList<>();
  private boolean closed;

  /** The cap refused a put. */
  public static final class StoreFullException extends RuntimeException {
    public StoreFullException(String message) {
      super(message);
    }
  }

  /** Where a stored shard's buffer comes from, accounted to the store's allocator. */
  public interface Memory {
    ArrowBuf allocate(BufferAllocator allocator, long size);
  }

  /** A store whose buffers come from a child of {@code parent} limited to {@code capBytes}. */
  public ShardStore(String location, BufferAllocator parent, long capBytes, DecodeLimits limits) {
    this(location, parent, capBytes, limits, BufferAllocator::buffer);
  }

  /** As above, each stored buffer allocated by {@code memory} (see {@link SharedShardMemory}). */
  public ShardStore(
      String location, BufferAllocator parent, long capBytes, DecodeLimits limits, Memory memory) {
    this.location = location;
    this.allocator = parent.newChildAllocator("shard-store " + location, 0, capBytes);
    this.limits = limits;
    this.memory = memory;
  }

  public void onRemoved(Consumer<Collection<String>> listener) {
    removalListeners.add(listener);
  }

  /** Encodes and stores {@code batch} under {@code id} (the batch stays the caller's). */
  public void put(String id, TensorBatch batch) {
    FlightWire.checkId(id);
    long size = ShardCodec.encodedSize(batch);
    ArrowBuf buf = allocate(size);
    try {
      ShardCodec.encodeInto(batch, buf);
      insert(Map.of(id, buf));
    } catch (RuntimeException e) {
      buf.close();
      throw e;
    }
  }

  /**
   * Stores under {@code id} the shard of {@code columns} and {@code rows} rows that {@code body}
   * writes: the framing is written here and each column's bytes by {@code body}, straight into the
   * stored buffer. A failure of {@code body} stores nothing and frees the buffer.
   */
  public void put(String id, List<ColumnSpec> columns, long rows, ShardCodec.ColumnWriter body) {
    FlightWire.checkId(id);
    ArrowBuf buf = encode(columns, rows, body);
    try {
      insert(Map.of(id, buf));
    } catch (RuntimeException e) {
      buf.close();
      throw e;
    }
  }

  /**
   * A buffer under the cap holding the shard of {@code columns} and {@code rows} rows: the framing
   * written here, each column's bytes by {@code body}. Freed again if either fails.
   */
  private ArrowBuf encode(List<ColumnSpec> columns, long rows, ShardCodec.ColumnWriter body) {
    ArrowBuf buf = allocate(ShardCodec.encodedSize(columns, rows));
    try {
      ShardCodec.encodeInto(columns, rows, buf, body);
      return buf;
    } catch (RuntimeException e) {
      buf.close();
      throw e;
    }
  }

  /**
   * Registers under {@code id} a shard whose bytes stay in {@code source} (a tensor in device
   * memory) until the shard is first read: then the framing is written here and {@code body} writes
   * each column straight into a stored buffer, once; later reads share that buffer. {@code source}
   * is kept until the shard is removed (or the store closed) and then closed, so memory handed to
   * others by its address (a CUDA IPC handle) stays valid as long as the shard. Counted as an entry
   * with no bytes until it is written; the cap applies when it is.
   *
   * @throws IllegalArgumentException if {@code id} is taken (nothing is kept, {@code source} stays
   *     the caller's to close)
   */
  public void putDeferred(
      String id,
      List<ColumnSpec> columns,
      long rows,
      ShardCodec.ColumnWriter body,
      AutoCloseable source) {
    FlightWire.checkId(id);
    ShardCodec.encodedSize(columns, rows); // validates the layout now, not at the first read
    synchronized (this) {
      checkOpen();
      if (shards.containsKey(id) || deferred.containsKey(id)) {
        throw new IllegalArgumentException("shard " + id + " is already stored at " + location);
      }
      deferred.put(id, new Deferred(List.copyOf(columns), rows, body));
      sources.put(id, source);
    }
  }

  /** A registered shard not written yet. */
  private record Deferred(List<ColumnSpec> columns, long rows, ShardCodec.ColumnWriter body) {}

  /**
   * What a shard server answers a reader whose request wrote a deferred shard and failed ({@link
   * #retain}): {@code failure} is what the write threw.
   */
  public static String writeFailure(RuntimeException failure) {
    return "a shard could not be written for sending: " + failure;
  }

  /**
   * Writes the deferred shards among {@code ids} into stored buffers. Each is written once, outside
   * the store's lock (other reads and puts go on); concurrent readers of the same shard wait for
   * that one write. A write that fails (the device lost, the cap full) stores nothing, leaves the
   * shard deferred and throws.
   */
  private void materialize(List<String> ids) {
    List<Map.Entry<String, Deferred>> pending = new ArrayList<>();
    synchronized (this) {
      for (String id : ids) {
        Deferred d = deferred.get(id);
        if (d != null) {
          pending.add(Map.entry(id, d));
        }
      }
    }
    for (Map.Entry<String, Deferred> e : pending) {
      Deferred d = e.getValue();
      synchronized (d) {
        synchronized (this) {
          if (deferred.get(e.getKey()) != d) {
            continue; // written by a reader before us, or removed
          }
        }
        ArrowBuf buf = encode(d.columns(), d.rows(), d.body());
        boolean kept;
        synchronized (this) {
          kept = !closed && deferred.remove(e.getKey(), d);
          if (kept) {
            shards.put(e.getKey(), buf);
          }
        }
        if (!kept) {
          buf.close();
        }
      }
    }
  }

  /**
   * Validates and stores received shards, all or none. Each row's bytes are copied once into this
   * store's allocator.
   *
   * @throws io.rtensor.wire.WireFormatException if a row is not a valid shard
   * @throws StoreFullException if the cap refuses them
   * @throws IllegalArgumentException if an id is taken
   */
  public void putAll(List<FlightWire.Row> rows) {
    Map<String, ArrowBuf> copies = new HashMap<>();
    try {
      for (FlightWire.Row row : rows) {
        if (copies.containsKey(row.id())) {
          throw new IllegalArgumentException("shard id " + row.id() + " appears twice in one put");
        }
        // Validation only: the decoded tensors are slices of the received bytes.
        try (TensorBatch ignored =
            ShardCodec.decode(row.data(), row.offset(), row.length(), allocator, limits)) {
          // valid
        }
        ArrowBuf copy = allocate(row.length());
        copies.put(row.id(), copy);
        copy.setBytes(0, row.data(), row.offset(), row.length());
        copy.writerIndex(row.length());
      }
      insert(copies);
    } catch (RuntimeException e) {
      copies.values().forEach(ArrowBuf::close);
      throw e;
    }
  }

  private ArrowBuf allocate(long size) {
    try {
      return memory.allocate(allocator, size);
    } catch (OutOfMemoryException e) {
      throw new StoreFullException(
          "shard store at "
              + location
              + " is full: a shard of "
              + size
              + " bytes does not fit its cap of "
              + allocator.getLimit()
              + " bytes ("
              + allocator.getAllocatedMemory()
              + " in use); clear shards first");
    }
  }

  private synchronized void insert(Map<String, ArrowBuf> add) {
    checkOpen();
    for (String id : add.keySet()) {
      if (shards.containsKey(id) || deferred.containsKey(id)) {
        throw new IllegalArgumentException("shard " + id + " is already stored at " + location);
      }
    }
    shards.putAll(add);
  }

  /**
   * The stored streams of {@code ids}, each with one reference the caller releases, in order.
   * Deferred shards among them are written first ({@link #putDeferred}).
   *
   * @return null entries for ids not stored
   * @throws RuntimeException what writing a deferred shard threw (a {@link
   *     io.rtensor.device.DeviceException} for a failed device copy, {@link StoreFullException})
   */
  public List<ArrowBuf> retain(List<String> ids) {
    synchronized (this) {
      if (deferred.isEmpty()) {
        return retainStored(ids); // no deferred shard: one lock, as for any read
      }
    }
    materialize(ids);
    synchronized (this) {
      return retainStored(ids);
    }
  }

  private List<ArrowBuf> retainStored(List<String> ids) {
    checkOpen();
    List<ArrowBuf> out = new ArrayList<>(ids.size());
    for (String id : ids) {
      ArrowBuf b = shards.get(id);
      if (b != null) {
        b.getReferenceManager().retain();
      }
      out.add(b);
    }
    return out;
  }

  /** The ids of {@code ids} this store lacks (a deferred shard it has). */
  public synchronized List<String> missing(List<String> ids) {
    return ids.stream().filter(id -> !shards.containsKey(id) && !deferred.containsKey(id)).toList();
  }

  /** Decodes a stored shard into {@code target} (tensors share the stored bytes), or null. */
  public TensorBatch get(String id, BufferAllocator target) {
    ArrowBuf b = retain(List.of(id)).get(0);
    if (b == null) {
      return null;
    }
    try {
      return ShardCodec.decode(b, 0, b.writerIndex(), target, limits);
    } finally {
      b.close();
    }
  }

  /**
   * Removes {@code ids} (closing the sources of deferred shards); returns how many were stored.
   *
   * @throws RuntimeException the first failure to close a source, after every id was removed
   */
  public long remove(Collection<String> ids) {
    List<String> removed = new ArrayList<>();
    List<AutoCloseable> released = new ArrayList<>();
    synchronized (this) {
      for (String id : ids) {
        ArrowBuf b = shards.remove(id);
        Deferred d = deferred.remove(id);
        AutoCloseable source = sources.remove(id);
        if (b != null) {
          b.close();
        }
        if (source != null) {
          released.add(afterWrite(d, source));
        }
        if (b != null || d != null) {
          removed.add(id);
        }
      }
    }
    RuntimeException failure = closeAll(released);
    if (!removed.isEmpty()) {
      removalListeners.forEach(l -> l.accept(removed));
    }
    if (failure != null) {
      throw failure;
    }
    return removed.size();
  }

  /**
   * {@code source}, closed only once a write of the deferred shard {@code d} in progress ends (a
   * write holds {@code d}'s monitor), so the memory a write reads is never freed under it.
   */
  private static AutoCloseable afterWrite(Deferred d, AutoCloseable source) {
    if (d == null) {
      return source;
    }
    return () -> {
      synchronized (d) {
        source.close();
      }
    };
  }

  /** Closes each source; returns the first failure (others suppressed in it), or null. */
  private static RuntimeException closeAll(Collection<AutoCloseable> sources) {
    RuntimeException first = null;
    for (AutoCloseable c : sources) {
      try {
        c.close();
      } catch (Exception e) {
        RuntimeException r =
            e instanceof RuntimeException re
                ? re
                : new IllegalStateException("closing a deferred shard's source failed", e);
        if (first == null) {
          first = r;
        } else {
          first.addSuppressed(r);
        }
      }
    }
    return first;
  }

  /** Entries (deferred ones included) and the bytes of those written. */
  public synchronized StoreStats stats() {
    long bytes = 0;
    for (ArrowBuf b : shards.values()) {
      bytes += b.writerIndex();
    }
    return new StoreStats(location, shards.size() + deferred.size(), bytes, allocator.getLimit());
  }

  /** Bytes the cap leaves free now (what a put may still add). */
  public long freeBytes() {
    return Math.max(0, allocator.getLimit() - allocator.getAllocatedMemory());
  }

  public DecodeLimits limits() {
    return limits;
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("shard store at " + location + " is closed");
    }
  }

  @Override
  public void close() {
    List<AutoCloseable> released;
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      shards.values().forEach(ArrowBuf::close);
      shards.clear();
      released = new ArrayList<>();
      sources.forEach((id, source) -> released.add(afterWrite(deferred.get(id), source)));
      deferred.clear();
      sources.clear();
    }
    RuntimeException failure = closeAll(released);
    allocator.close();
    if (failure != null) {
      throw failure;
    }
  }
}

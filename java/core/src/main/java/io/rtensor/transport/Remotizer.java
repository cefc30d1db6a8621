package io.rtensor.transport;

import io.rtensor.handle.DeviceNode;
import io.rtensor.handle.RTensor;
import io.rtensor.tensor.DeviceCopiers;
import io.rtensor.tensor.DeviceTensor;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import java.lang.reflect.Array;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;
import org.apache.arrow.memory.BufferAllocator;

/**
 * Turns tensors in a nested value into {@link RTensor} handles ({@link #remotize}) and back ({@link
 * #localize}), through one {@link DataPlane} and this process's {@link FetchCache}.
 *
 * <p>A value is walked through {@link Map}s, {@link List}s and object arrays; {@link Tensor}s,
 * {@link DeviceTensor}s and {@link TensorBatch}es become handles (one shard each; a device tensor
 * comes back from {@link #localize} as a host tensor), every other leaf is returned as it is and
 * null stays null. Maps keep their iteration order, lists and arrays their length.
 */
public final class Remotizer {
  private final DataPlane plane;
  private final FetchCache cache;
  private final BufferAllocator allocator;
  private final DeviceCopiers copiers;

  /**
   * A remotizer over {@code plane}, caching fetched shards in {@code cache} (null: no cache, every
   * localization fetches) and decoding them into {@code allocator}. It owns none of the three.
   */
  public Remotizer(DataPlane plane, FetchCache cache, BufferAllocator allocator) {
    this(plane, cache, allocator, null);
  }

  /**
   * As {@link #Remotizer(DataPlane, FetchCache, BufferAllocator)}, copying device tensors to the
   * store with {@code copiers} (null: one synchronous copy each), which it does not own either.
   */
  public Remotizer(
      DataPlane plane, FetchCache cache, BufferAllocator allocator, DeviceCopiers copiers) {
    this.plane = Objects.requireNonNull(plane, "plane");
    this.cache = cache;
    this.allocator = Objects.requireNonNull(allocator, "allocator");
    this.copiers = copiers;
  }

  /** The data plane. */
  public DataPlane plane() {
    return plane;
  }

  /** The fetch cache, or null. */
  public FetchCache cache() {
    return cache;
  }

  /**
   * {@link #remotize(Object, DataPlane)} through this remotizer's plane, device tensors copied by
   * its device copiers.
   */
  public Object remotize(Object value) {
    return remotize(value, plane, copiers, false);
  }

  /**
   * {@link #remotize(Object)}; with {@code keepOnDevice}, each {@link DeviceTensor} stays in its
   * device memory (a reference to it is kept) until its shard is cleared, on a plane that {@link
   * DataPlane#defersPuts() defers puts}: it is copied to the host only when a process first fetches
   * it, and a CUDA tensor's handle also names its memory by a CUDA IPC handle ({@link
   * RTensor#onDevice}), so a process on the same node can copy it device to device without the host
   * at all ({@link DeviceIpc}). On other planes, or for memory the driver cannot export, it is
   * stored as {@link #remotize(Object)} stores it, or fetched through the deferred copy.
   */
  public Object remotize(Object value, boolean keepOnDevice) {
    return remotize(value, plane, copiers, keepOnDevice);
  }

  /**
   * The same structure with every tensor and batch stored in {@code store} as a shard and replaced
   * by its handle. The tensors stay the caller's (their bytes are copied into the store). A {@link
   * DeviceTensor} is stored with one device-to-host copy into the store's memory ({@link
   * DataPlane#put(ShardWriter)}). If storing one fails, the shards this call stored before it are
   * cleared again and the failure is thrown: a {@link io.rtensor.device.DeviceException} for a
   * failed device copy, {@link ShardStoreFullException} for a full store.
   */
  public static Object remotize(Object value, DataPlane store) {
    return remotize(value, store, null, false);
  }

  private static Object remotize(
      Object value, DataPlane store, DeviceCopiers copiers, boolean keepOnDevice) {
    List<RTensor> stored = new ArrayList<>();
    try {
      return walk(
          value,
          leaf -> {
            if (leaf instanceof Tensor t) {
              try (TensorBatch one = TensorBatch.of(RTensor.TENSOR_COLUMN, t.share())) {
                RTensor batchHandle = store.put(one);
                stored.add(batchHandle);
                return RTensor.ofTensor(batchHandle.shardId(), batchHandle.location(), t);
              }
            }
            if (leaf instanceof DeviceTensor t && keepOnDevice && store.defersPuts()) {
              DeviceTensor kept = t.share();
              RTensor batchHandle = store.putDeferred(new DeviceTensorShard(kept, copiers), kept);
              stored.add(batchHandle);
              RTensor handle =
                  RTensor.ofTensor(
                      batchHandle.shardId(), batchHandle.location(), t.dtype(), t.shape());
              byte[] ipc = DeviceIpc.export(t);
              return ipc == null ? handle : handle.onDevice(ipc, DeviceNode.id());
            }
            if (leaf instanceof DeviceTensor t) {
              RTensor batchHandle = store.put(new DeviceTensorShard(t, copiers));
              stored.add(batchHandle);
              return RTensor.ofTensor(
                  batchHandle.shardId(), batchHandle.location(), t.dtype(), t.shape());
            }
            if (leaf instanceof TensorBatch b) {
              RTensor handle = store.put(b);
              stored.add(handle);
              return handle;
            }
            return leaf;
          });
    } catch (RuntimeException e) {
      if (!stored.isEmpty()) {
        try {
          store.clear(stored);
        } catch (RuntimeException clearFailure) {
          e.addSuppressed(clearFailure);
        }
      }
      throw e;
    }
  }

  /**
   * The same structure with every handle replaced by its tensor or batch, which the caller owns and
   * closes. Every handle is collected first; the shards not cached are fetched in one concurrent
   * batch grouped by location; repeated localizations of a shard share its cached memory (no copy).
   *
   * @throws io.rtensor.transport.MissingShardsException listing the shards no location has
   * @throws FetchCacheFullException if caching the fetched shards would pass the cache's cap
   */
  public Object localize(Object value) {
    return localize(value, Mode.OWNED);
  }

  /**
   * Like {@link #localize(Object)}, for a caller that only reads: the tensors and batches returned
   * are read-only ({@link Tensor#isReadOnly()}) and the caller closes them. The shards not cached
   * are fetched with {@link DataPlane#fetchReadOnly}, so a plane that can hand out the stored bytes
   * in place (the Ray object store plane maps its objects) copies nothing.
   */
  public Object localizeReadOnly(Object value) {
    return localize(value, Mode.READ_ONLY);
  }

  /**
   * Like {@link #localize(Object)}, but the tensors and batches returned are the cache's own: the
   * caller must not close them, and they stay valid until their shards are cleared from this
   * process's cache. Needs a cache. This is what a worker hands to its engines.
   */
  public Object localizeBorrowed(Object value) {
    if (cache == null) {
      throw new IllegalStateException("borrowed localization needs a fetch cache");
    }
    return localize(value, Mode.BORROWED);
  }

  /** What a localization hands out. */
  private enum Mode {
    /** The caller's own references, writable (a copy where the shard is read-only). */
    OWNED,
    /** The cache's own tensors and batches. */
    BORROWED,
    /** The caller's own read-only views. */
    READ_ONLY
  }

  private Object localize(Object value, Mode mode) {
    boolean owned = mode != Mode.BORROWED;
    List<RTensor> handles = collectHandles(value);
    if (handles.isEmpty()) {
      return walk(value, leaf -> leaf);
    }
    Map<String, RTensor> misses = new LinkedHashMap<>();
    for (RTensor h : handles) {
      if (cache == null || cache.lookup(h.shardId()) == null) {
        misses.putIfAbsent(h.shardId(), h);
      }
    }
    Map<String, TensorBatch> fetched =
        misses.isEmpty()
            ? Map.of()
            : mode == Mode.READ_ONLY
                ? plane.fetchReadOnly(misses.values(), allocator)
                : plane.fetch(misses.values(), allocator);
    if (cache != null) {
      cache.putAll(fetched);
      fetched = Map.of();
    }
    Map<String, TensorBatch> uncached = fetched;
    List<Object> created = new ArrayList<>();
    try {
      Object out =
          walk(
              value,
              leaf -> {
                if (!(leaf instanceof RTensor h)) {
                  return leaf;
                }
                TensorBatch shard =
                    cache != null ? cache.peek(h.shardId()) : uncached.get(h.shardId());
                if (shard == null) {
                  throw new IllegalStateException(
                      "shard " + h.shardId() + " was cleared while it was being localized");
                }
                Object local =
                    h.kind() == RTensor.Kind.TENSOR
                        ? handOut(tensorOf(shard, h), mode)
                        : handOut(shard, mode);
                if (owned) {
                  created.add(local);
                }
                return local;
              });
      return out;
    } catch (RuntimeException e) {
      for (Object o : created) {
        if (o instanceof Tensor t) {
          t.close();
        } else if (o instanceof TensorBatch b) {
          b.close();
        }
      }
      throw e;
    } finally {
      uncached.values().forEach(TensorBatch::close);
    }
  }

  private static Tensor tensorOf(TensorBatch shard, RTensor handle) {
    Tensor t = shard.tensors().get(RTensor.TENSOR_COLUMN);
    if (t == null || shard.size() != 1) {
      throw new IllegalStateException(
          "shard " + handle.shardId() + " holds columns " + shard.names() + ", not one tensor");
    }
    return t;
  }

  private Tensor handOut(Tensor t, Mode mode) {
    return switch (mode) {
      case BORROWED -> t;
      case READ_ONLY -> t.readOnlyView();
      case OWNED -> t.isReadOnly() ? t.copy(allocator) : t.share();
    };
  }

  private TensorBatch handOut(TensorBatch batch, Mode mode) {
    return switch (mode) {
      case BORROWED -> batch;
      case READ_ONLY -> batch.readOnlyView();
      case OWNED -> map(batch, t -> t.isReadOnly() ? t.copy(allocator) : t.share());
    };
  }

  /** A batch of {@code each} of {@code batch}'s tensors (new references, closed on a failure). */
  private static TensorBatch map(TensorBatch batch, Function<Tensor, Tensor> each) {
    LinkedHashMap<String, Tensor> shared = new LinkedHashMap<>();
    try {
      batch.tensors().forEach((name, t) -> shared.put(name, each.apply(t)));
      return TensorBatch.of(shared);
    } catch (RuntimeException e) {
      shared.values().forEach(Tensor::close);
      throw e;
    }
  }

  /** Every handle in {@code value}, in walk order (duplicates kept). */
  public static List<RTensor> collectHandles(Object value) {
    List<RTensor> out = new ArrayList<>();
    walk(
        value,
        leaf -> {
          if (leaf instanceof RTensor h) {
            out.add(h);
          }
          return leaf;
        });
    return out;
  }

  /** Location key to the distinct shard ids of the handles in {@code value}. */
  public static Map<String, List<String>> collectShards(Object value) {
    Map<String, Set<String>> distinct = new LinkedHashMap<>();
    for (RTensor h : collectHandles(value)) {
      distinct.computeIfAbsent(h.location().key(), k -> new LinkedHashSet<>()).add(h.shardId());
    }
    Map<String, List<String>> out = new LinkedHashMap<>();
    distinct.forEach((location, ids) -> out.put(location, new ArrayList<>(ids)));
    return out;
  }

  /**
   * Removes shards {@code shardIds} at {@code location} and evicts them from this process's cache.
   * Consumer workers that localized them drain their own caches when the clear reaches them.
   */
  public ClearResult clear(String location, Collection<String> shardIds) {
    if (cache != null) {
      cache.evict(shardIds);
    }
    return plane.clear(location, shardIds);
  }

  /** Clears every shard that {@code value}'s handles name; returns location to result. */
  public Map<String, ClearResult> clearAll(Object value) {
    List<RTensor> handles = collectHandles(value);
    if (cache != null) {
      cache.evict(handles.stream().map(RTensor::shardId).toList());
    }
    return plane.clear(handles);
  }

  /** {@link #clearAll}, counted: the number of shards removed from their stores. */
  public long clearCounted(Object value) {
    return clearAll(value).values().stream().mapToLong(ClearResult::cleared).sum();
  }

  /** The distinct shard ids of {@code value}'s handles, in the order first met. */
  public static List<String> shardIds(Object value) {
    return collectHandles(value).stream().map(RTensor::shardId).distinct().toList();
  }

  // ---------------------------------------------------------------- structure walk

  /**
   * {@code value} with each leaf replaced by {@code leaf} of it, through the maps, lists and arrays
   * that remotize and localize walk (rebuilt, the input left as it is; null stays null).
   */
  public static Object mapLeaves(Object value, Function<Object, Object> leaf) {
    return walk(value, leaf);
  }

  private static Object walk(Object value, Function<Object, Object> leaf) {
    if (value == null) {
      return null;
    }
    if (value instanceof Map<?, ?> map) {
      Map<Object, Object> out = new LinkedHashMap<>();
      map.forEach((k, v) -> out.put(k, walk(v, leaf)));
      return out;
    }
    if (value instanceof List<?> list) {
      List<Object> out = new ArrayList<>(list.size());
      for (Object v : list) {
        out.add(walk(v, leaf));
      }
      return out;
    }
    if (value instanceof Object[] array) {
      Object[] outs = new Object[array.length];
      for (int i = 0; i < array.length; i++) {
        outs[i] = walk(array[i], leaf);
      }
      return retype(array.getClass().getComponentType(), outs);
    }
    return leaf.apply(value);
  }

  /**
   * An array of the input's component type where the results fit it; for arrays of tensors, batches
   * or handles, an array of the results' common class (else {@code Object[]}).
   */
  private static Object[] retype(Class<?> component, Object[] outs) {
    Class<?> target = component;
    if (component == Tensor.class
        || component == DeviceTensor.class
        || component == TensorBatch.class
        || component == RTensor.class) {
      Class<?> common = null;
      for (Object o : outs) {
        if (o != null) {
          common = common == null || common == o.getClass() ? o.getClass() : Object.class;
        }
      }
      target = common == null ? component : common;
    }
    for (Object o : outs) {
      if (o != null && !target.isInstance(o)) {
        target = Object.class;
        break;
      }
    }
    if (target == Object.class) {
      return outs;
    }
    Object[] typed = (Object[]) Array.newInstance(target, outs.length);
    System.arraycopy(outs, 0, typed, 0, outs.length);
    return typed;
  }
}

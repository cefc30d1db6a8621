package io.rtensor.transport.ray;

import io.ray.api.ObjectRef;
import io.ray.api.Ray;
import io.ray.api.exception.RayException;
import io.ray.api.exception.RayTimeoutException;
import io.ray.runtime.object.ObjectRefImpl;
import io.rtensor.device.arrow.PinnedBufferAllocator;
import io.rtensor.handle.RTensor;
import io.rtensor.handle.ShardLocation;
import io.rtensor.memory.BlockPool;
import io.rtensor.memory.BulkCopier;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.transport.ClearResult;
import io.rtensor.transport.DataPlane;
import io.rtensor.transport.DataPlaneException;
import io.rtensor.transport.DataPlaneKind;
import io.rtensor.transport.FetchTimeoutException;
import io.rtensor.transport.MissingShardsException;
import io.rtensor.transport.ShardWriter;
import io.rtensor.transport.StoreStats;
import io.rtensor.transport.ray.RayCoreObjects.Fetched;
import io.rtensor.transport.ray.RayCoreObjects.RayCoreException;
import io.rtensor.wire.DecodeLimits;
import io.rtensor.wire.ShardCodec;
import io.rtensor.wire.WireFormatException;
import java.lang.ref.SoftReference;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.IntFunction;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.ForeignAllocation;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Ray object store as a data plane: a shard is one object put with {@code Ray.put(byte[])},
 * which Ray's Java runtime stores with {@code RAW} metadata and the bytes as they are (no Java
 * serialization pass): the shard's Arrow IPC stream. Python's {@code ray.get} returns those bytes
 * and {@code pyarrow.ipc.open_stream} reads them; Python's {@code ray.put(bytes)} is stored the
 * same way, so Java localizes shards that Python produced.
 *
 * <p>Ownership. The process that calls {@link #put} owns the object (Ray's owner is that process's
 * core worker). The object stays readable while (1) the owner process is alive (if it dies, gets
 * fail with an owner-died error) and (2) some reference to it is alive: this plane keeps every
 * {@link ObjectRef} it put, or fetched through a handle, until {@link #clear}; a {@link RTensor}
 * holds the {@code ObjectRef} itself, so when it is passed to another process inside a task
 * argument or result, Ray's borrowing protocol registers that process as a borrower and the object
 * outlives the owner's local references until the borrower drops its handle. Raw object ids would
 * lose the owner; handles therefore never carry only the id. {@link #clear} frees the objects
 * through {@code Ray.internal().free} (all copies, cluster-wide) whoever still holds references.
 *
 * <p>Copies. How the bytes reach the object store is {@link ObjectAccess}: by default ({@link
 * ObjectAccess#AUTO}) through this process's Ray core worker directly ({@link
 * ObjectAccess#CORE_WORKER}): a put creates the plasma object, encodes the shard straight into its
 * memory (one copy of the tensor bytes) and seals it; a get maps the objects and copies each once
 * into Arrow memory, which the decoded tensors slice. Large copies run on several threads ({@link
 * BulkCopier}), as Python's {@code ray.put} does its copy into plasma. The objects are the ones
 * {@code Ray.put} and {@code Ray.get} make and read, with the same reference counting. That path is
 * bound to the Ray build it was checked against (Ray 2.39.0); elsewhere {@code AUTO} takes Ray's
 * Java API ({@link ObjectAccess#JAVA_API}), which copies each object through the Java heap: a put
 * encodes into a {@code byte[]} that {@code Ray.put} copies twice (out of the heap, into plasma), a
 * get copies each object into a new {@code byte[]} that the decode copies again. Large put arrays
 * are kept (softly, one per plane) and reused by the next put of a shard of the same length.
 *
 * <p>Fetching many shards is one get of many references, bounded by the plane's get timeout (the
 * {@code getTimeoutMillis} of the constructors; the schedulers pass their {@code shardGetTimeout},
 * 5 minutes by default). Ray's get reports no progress while it waits, so that timeout is the only
 * deadline: a get that has not answered by then is probed object by object (at most {@value
 * #PROBE_BUDGET_MILLIS} ms in all), and objects that still do not answer (their owner alive but not
 * answering, for example stopped) fail the fetch with {@link FetchTimeoutException} naming them and
 * their owners' addresses; objects Ray reports gone are {@link MissingShardsException}.
 */
public final class RayObjectStorePlane implements DataPlane {
  private static final Logger LOG = LoggerFactory.getLogger(RayObjectStorePlane.class);

  /** The fallback to the Java API is a warning once per process, then a debug line. */
  private static final AtomicBoolean FALLBACK_WARNED = new AtomicBoolean();

  /**
   * Environment for a process that runs this plane, set when it starts (a Ray actor's runtime
   * environment): glibc then asks for transparent huge pages for large allocations. On the Java API
   * path every large put and fetch lands in freshly mapped memory (the copy Ray's JNI makes of a
   * put's array; the array a get returns), and with 4 KiB pages faulting in 64 MiB costs more CPU
   * than copying it; the first blocks of this plane's pool are faulted in the same way. Harmless
   * where the kernel has transparent huge pages off or glibc is older than 2.35 (the tunable is
   * then ignored).
   */
  public static final Map<String, String> WORKER_ENV =
      Map.of("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1");

  /** Most time all probes of one failed batch get wait together (see {@code failureOf}). */
  static final long PROBE_BUDGET_MILLIS = 3_000;

  /** Shards at least this large are encoded into a kept array (see the class comment). */
  static final int MIN_STAGED_BYTES = 1 << 20;

  /** How a plane moves bytes in and out of the object store. */
  public enum ObjectAccess {
    /**
     * Through this process's core worker, in place: one copy per put and per get. Needs the Ray
     * build the native path was checked against ({@link RayCoreObjects#unavailableReason()}).
     */
    CORE_WORKER,
    /** Through {@code Ray.put(byte[])} and {@code Ray.get}: works with any Ray, copies more. */
    JAVA_API,
    /** {@link #CORE_WORKER} where it is available, else {@link #JAVA_API}. */
    AUTO
  }

  private final DecodeLimits limits;
  private final long getTimeoutMillis;
  private final ObjectAccess access;
  private final Map<String, ObjectRef<byte[]>> refs = new ConcurrentHashMap<>();
  private final Map<String, Long> ownedBytes = new ConcurrentHashMap<>();
  private final List<Consumer<Collection<String>>> listeners = new CopyOnWriteArrayList<>();
  private final AtomicReference<SoftReference<byte[]>> staging = new AtomicReference<>();
  private final BlockPool blocks = new BlockPool();

  /** A plane in this Ray process (Ray must be initialized: a driver or an actor). */
  public RayObjectStorePlane() {
    this(DecodeLimits.DEFAULT, 300_000);
  }

  /** A plane checking fetched shards against {@code limits}, waiting at most {@code ms} a get. */
  public RayObjectStorePlane(DecodeLimits limits, long getTimeoutMillis) {
    this(limits, getTimeoutMillis, ObjectAccess.AUTO);
  }

  /**
   * A plane checking fetched shards against {@code limits}, waiting at most {@code ms} a get, that
   * moves bytes as {@code access} says.
   *
   * @throws IllegalStateException if Ray is not initialized, or {@code access} is {@link
   *     ObjectAccess#CORE_WORKER} and that path is not available here (the message says why)
   */
  public RayObjectStorePlane(DecodeLimits limits, long getTimeoutMillis, ObjectAccess access) {
    this.limits = Objects.requireNonNull(limits, "limits");
    if (getTimeoutMillis <= 0) {
      // Ray reads a negative timeout as "wait forever": every get here has a deadline.
      throw new IllegalArgumentException("getTimeoutMillis must be > 0, got " + getTimeoutMillis);
    }
    this.getTimeoutMillis = getTimeoutMillis;
    Objects.requireNonNull(access, "access");
    if (!Ray.isInitialized()) {
      throw new IllegalStateException(
          "Ray is not initialized in this process: connect (RayConnection) or run in an actor");
    }
    String unavailable =
        access == ObjectAccess.JAVA_API ? "not asked for" : RayCoreObjects.unavailableReason();
    if (access == ObjectAccess.CORE_WORKER && unavailable != null) {
      throw new IllegalStateException(
          "the core worker path is not available in this process: " + unavailable);
    }
    this.access = unavailable == null ? ObjectAccess.CORE_WORKER : ObjectAccess.JAVA_API;
    if (access == ObjectAccess.AUTO && unavailable != null) {
      String message =
          "the Ray object store plane falls back to Ray's Java API, which copies every shard"
              + " through the Java heap: the core worker path is not available here ({})";
      if (FALLBACK_WARNED.compareAndSet(false, true)) {
        LOG.warn(message, unavailable);
      } else {
        LOG.debug(message, unavailable);
      }
    } else {
      LOG.debug("the Ray object store plane goes through {}", this.access);
    }
  }

  /**
   * How this plane moves bytes: {@link ObjectAccess#CORE_WORKER} or {@link ObjectAccess#JAVA_API}.
   */
  public ObjectAccess access() {
    return access;
  }

  /** The shard id of an object reference: its object id in hex. */
  public static String idOf(ObjectRef<?> ref) {
    return ((ObjectRefImpl<?>) ref).getId().toString();
  }

  /**
   * A handle to a shard something else put (for example a Python producer's {@code bytes} object),
   * described by the caller: a batch of {@code rows} rows with {@code columns}.
   */
  public static RTensor handleOf(ObjectRef<byte[]> ref, TensorBatch description) {
    return RTensor.ofBatch(idOf(ref), ShardLocation.rayObject(ref), description);
  }

  @Override
  public DataPlaneKind kind() {
    return DataPlaneKind.RAY_OBJECT_STORE;
  }

  @Override
  public String putLocation() {
    return ShardLocation.RAY_OBJECT_STORE;
  }

  @Override
  public RTensor put(TensorBatch batch) {
    ObjectRef<byte[]> ref;
    long size;
    if (access == ObjectAccess.CORE_WORKER) {
      size = ShardCodec.encodedSize(batch);
      ref = create(size, memory -> ShardCodec.encodeInto(batch, memory, BulkCopier.shared()));
    } else {
      byte[] bytes = ShardCodec.encode(batch, this::stagingArray);
      try {
        ref = Ray.put(bytes);
      } finally {
        keepStagingArray(bytes);
      }
      size = bytes.length;
    }
    String id = idOf(ref);
    refs.put(id, ref);
    ownedBytes.put(id, size);
    return RTensor.ofBatch(id, ShardLocation.rayObject(ref), batch);
  }

  /**
   * Stores the shard {@code shard} writes as one object, its bytes written straight into the
   * object's memory (the CPU writes the framing, {@code shard} each column: for a device tensor one
   * DMA into the object, see {@link io.rtensor.tensor.DeviceCopiers.PageableTarget}). Through Ray's
   * Java API ({@link ObjectAccess#JAVA_API}) it is written into temporary host memory first.
   */
  @Override
  public RTensor put(ShardWriter shard) {
    if (access != ObjectAccess.CORE_WORKER) {
      return DataPlane.super.put(shard);
    }
    long size = ShardCodec.encodedSize(shard.columns(), shard.rows());
    ObjectRef<byte[]> ref =
        create(size, memory -> ShardCodec.encodeInto(shard.columns(), shard.rows(), memory, shard));
    String id = idOf(ref);
    refs.put(id, ref);
    ownedBytes.put(id, size);
    return RTensor.ofBatch(id, ShardLocation.rayObject(ref), shard.columns(), shard.rows());
  }

  /** An object of {@code size} bytes that {@code write} fills in place (the core worker path). */
  private static ObjectRef<byte[]> create(long size, Consumer<ArrowBuf> write) {
    try {
      return RayCoreObjects.put(size, write);
    } catch (RayCoreException e) {
      throw new DataPlaneException(
          ShardLocation.RAY_OBJECT_STORE,
          "the object store refused a shard of " + size + " bytes: " + e.getMessage(),
          e);
    }
  }

  /**
   * An array of exactly {@code length} bytes to encode a shard into: the kept one where it has that
   * length, else a new one.
   */
  private byte[] stagingArray(int length) {
    if (length >= MIN_STAGED_BYTES) {
      SoftReference<byte[]> kept = staging.getAndSet(null);
      byte[] array = kept == null ? null : kept.get();
      if (array != null && array.length == length) {
        return array;
      }
    }
    return new byte[length];
  }

  /** Keeps a large array that {@code Ray.put} has copied (it keeps no reference) for reuse. */
  private void keepStagingArray(byte[] array) {
    if (array.length >= MIN_STAGED_BYTES) {
      staging.set(new SoftReference<>(array));
    }
  }

  @Override
  public Map<String, TensorBatch> fetch(Collection<RTensor> handles, BufferAllocator allocator) {
    Map<String, ObjectRef<byte[]>> wanted = wanted(handles);
    List<String> ids = new ArrayList<>(wanted.keySet());
    List<ObjectRef<byte[]>> list = new ArrayList<>(wanted.values());
    Map<String, TensorBatch> out =
        access == ObjectAccess.CORE_WORKER
            ? fetchInPlace(ids, list, f -> decodeCopied(f, allocator))
            : fetchThroughJava(ids, list, allocator);
    wanted.forEach(refs::putIfAbsent); // keep them alive (and freeable) until cleared
    return out;
  }

  /**
   * {@link DataPlane#fetchReadOnly}: on the core worker path the objects are mapped, not copied.
   * Each decoded batch's tensors are read-only views of the object's memory in this process's
   * mapping of the object store, and hold the object (Ray keeps it, even past a {@link #clear},
   * until they are all closed). Python's {@code ray.get} of a numpy array reads plasma the same
   * way. Not the default: a reader that keeps the tensors long keeps the object store's memory, and
   * the tensors cannot be written. On the Java API path this is {@link #fetch} with read-only
   * views.
   */
  @Override
  public Map<String, TensorBatch> fetchReadOnly(
      Collection<RTensor> handles, BufferAllocator allocator) {
    if (access != ObjectAccess.CORE_WORKER) {
      return DataPlane.super.fetchReadOnly(handles, allocator);
    }
    Map<String, ObjectRef<byte[]>> wanted = wanted(handles);
    List<String> ids = new ArrayList<>(wanted.keySet());
    Map<String, TensorBatch> out =
        fetchInPlace(ids, new ArrayList<>(wanted.values()), f -> decodeMapped(f, allocator));
    wanted.forEach(refs::putIfAbsent);
    return out;
  }

  private Map<String, ObjectRef<byte[]>> wanted(Collection<RTensor> handles) {
    Map<String, ObjectRef<byte[]>> wanted = new LinkedHashMap<>();
    for (RTensor h : handles) {
      ObjectRef<byte[]> ref = objectRefOf(h.location());
      if (ref == null) {
        throw new IllegalArgumentException(h + " is not a Ray object-store shard");
      }
      wanted.putIfAbsent(h.shardId(), ref);
    }
    return wanted;
  }

  /**
   * Gets {@code list} through the core worker and decodes each object with {@code decodeOne}, which
   * owns the object it is given (it closes it, or hands it to what it returns); the objects not yet
   * handed over are released on any failure.
   */
  private Map<String, TensorBatch> fetchInPlace(
      List<String> ids, List<ObjectRef<byte[]>> list, Function<Fetched, TensorBatch> decodeOne) {
    List<Fetched> got;
    try {
      got = RayCoreObjects.get(list, getTimeoutMillis);
    } catch (RayCoreException e) {
      throw failureOf(ids, list, e, this::probeInPlace);
    }
    Fetched[] held = got.toArray(new Fetched[0]);
    try {
      List<String> missing = new ArrayList<>();
      for (int i = 0; i < ids.size(); i++) {
        if (got.get(i).isError()) {
          missing.add(ids.get(i));
        } else if (!got.get(i).isBytes()) {
          throw new DataPlaneException(
              ShardLocation.RAY_OBJECT_STORE,
              "object " + ids.get(i) + " is not a shard (its metadata is not RAW)");
        }
      }
      if (!missing.isEmpty()) {
        throw new MissingShardsException(Map.of(ShardLocation.RAY_OBJECT_STORE, missing));
      }
      return decodeAll(
          ids,
          i -> {
            Fetched f = held[i];
            held[i] = null;
            return decodeOne.apply(f);
          });
    } finally {
      for (Fetched f : held) {
        if (f != null) {
          f.close();
        }
      }
    }
  }

  /** Decodes an object from a copy of it, released as soon as it is copied. */
  private TensorBatch decodeCopied(Fetched f, BufferAllocator allocator) {
    try (f) {
      return decodeCopy(f.address(), f.size(), allocator);
    }
  }

  /**
   * Decodes an object in place: its memory becomes Arrow memory accounted to {@code allocator} that
   * releases the object once the last tensor over it is closed; the tensors are read-only views.
   */
  private TensorBatch decodeMapped(Fetched f, BufferAllocator allocator) {
    ArrowBuf mapped;
    try {
      mapped = allocator.wrapForeignAllocation(new MappedObject(f));
    } catch (RuntimeException | Error e) {
      f.close();
      throw e;
    }
    try (mapped;
        TensorBatch decoded = ShardCodec.decode(mapped, 0, f.size(), allocator, limits)) {
      return decoded.readOnlyView();
    }
  }

  /** An object's memory in this process's mapping of the object store, lent to Arrow. */
  private static final class MappedObject extends ForeignAllocation {
    private final Fetched object;

    MappedObject(Fetched object) {
      super(Math.max(object.size(), 1), object.address());
      this.object = object;
    }

    @Override
    protected void release0() {
      // After Ray shut down in this process the core worker that holds the mapping is gone; the
      // object went with it.
      if (Ray.isInitialized()) {
        object.close();
      }
    }
  }

  /** What a probe of one object after a failed batch get found. */
  private enum Answer {
    /** The object answered with its bytes. */
    PRESENT,
    /** Ray answered with an error object: freed, lost, or its owner died. */
    MISSING,
    /** No answer within the wait: typically its owner is alive but not answering (stopped). */
    UNANSWERED
  }

  /** Probes one object, waiting at most {@code millis}. */
  private interface Prober {
    Answer probe(ObjectRef<byte[]> ref, long millis);
  }

  /** One object through the core worker, waiting at most {@code millis}. */
  private Answer probeInPlace(ObjectRef<byte[]> ref, long millis) {
    try {
      List<Fetched> one = RayCoreObjects.get(List.of(ref), millis);
      boolean there = !one.get(0).isError();
      one.forEach(Fetched::close);
      return there ? Answer.PRESENT : Answer.MISSING;
    } catch (RayCoreException e) {
      return Answer.UNANSWERED;
    }
  }

  /** One object through Ray's Java API, waiting at most {@code millis}. */
  private static Answer probeThroughJava(ObjectRef<byte[]> ref, long millis) {
    try {
      Ray.get(ref, millis);
      return Answer.PRESENT;
    } catch (RayTimeoutException e) {
      return Answer.UNANSWERED;
    } catch (RayException e) {
      return Answer.MISSING;
    }
  }

  /**
   * The error for a batch get that failed after waiting its timeout: each object is probed briefly
   * (what is there answers at once; all probes together wait at most {@link #PROBE_BUDGET_MILLIS}),
   * and the objects that still do not answer make it a {@link FetchTimeoutException} naming them
   * and their owners; else the objects Ray reports gone make it a {@link MissingShardsException};
   * else it is the get's own failure.
   */
  private RuntimeException failureOf(
      List<String> ids, List<ObjectRef<byte[]>> refs, RuntimeException failure, Prober prober) {
    long deadline = System.nanoTime() + Math.min(getTimeoutMillis, PROBE_BUDGET_MILLIS) * 1_000_000;
    List<String> missing = new ArrayList<>();
    List<String> unanswered = new ArrayList<>();
    java.util.Set<String> owners = new java.util.LinkedHashSet<>();
    for (int i = 0; i < ids.size(); i++) {
      long left = Math.max(1, (deadline - System.nanoTime()) / 1_000_000);
      switch (prober.probe(refs.get(i), Math.min(left, 1_000))) {
        case MISSING -> missing.add(ids.get(i));
        case UNANSWERED -> {
          unanswered.add(ids.get(i));
          owners.add(ownerOf(refs.get(i)));
        }
        case PRESENT -> {}
      }
    }
    if (!unanswered.isEmpty()) {
      return new FetchTimeoutException(
          ShardLocation.RAY_OBJECT_STORE,
          unanswered,
          java.time.Duration.ofMillis(getTimeoutMillis),
          "no answer from the object store within the get timeout of "
              + getTimeoutMillis
              + " ms: the owner(s) "
              + owners
              + " may be stopped or unreachable"
              + (missing.isEmpty() ? "" : "; missing besides: " + missing));
    }
    return missingOr(missing, ids, failure);
  }

  /**
   * Where Ray says the owner of {@code ref} is ({@code ip:port worker <id>}), or "unknown" where it
   * cannot say. Read from this process's own reference table: no call to the owner.
   */
  static String ownerOf(ObjectRef<?> ref) {
    try {
      Object runtime = Ray.internal();
      java.lang.reflect.Method store = runtime.getClass().getMethod("getObjectStore");
      Object objectStore = store.invoke(runtime);
      if (objectStore instanceof io.ray.runtime.object.ObjectStore os) {
        io.ray.runtime.generated.Common.Address a =
            os.getOwnerAddress(((ObjectRefImpl<?>) ref).getId());
        StringBuilder worker = new StringBuilder();
        for (byte b : a.getWorkerId().toByteArray()) {
          worker.append(String.format("%02x", b));
        }
        return a.getIpAddress() + ":" + a.getPort() + " worker " + worker;
      }
    } catch (ReflectiveOperationException | RuntimeException e) {
      // below
    }
    return "unknown";
  }

  /** The error for a failed batch get: the missing shards, or the failure where none is missing. */
  private static RuntimeException missingOr(
      List<String> missing, List<String> ids, RuntimeException failure) {
    if (missing.isEmpty()) {
      return new DataPlaneException(
          ShardLocation.RAY_OBJECT_STORE,
          "getting " + ids.size() + " shards failed: " + failure.getMessage(),
          failure);
    }
    return new MissingShardsException(Map.of(ShardLocation.RAY_OBJECT_STORE, missing));
  }

  private Map<String, TensorBatch> fetchThroughJava(
      List<String> ids, List<ObjectRef<byte[]>> list, BufferAllocator allocator) {
    List<byte[]> bytes;
    try {
      bytes = Ray.get(list, getTimeoutMillis);
    } catch (RayException e) {
      throw failureOf(ids, list, e, RayObjectStorePlane::probeThroughJava);
    }
    return decodeAll(
        ids,
        i -> {
          TensorBatch batch = decode(bytes.get(i), allocator);
          bytes.set(i, null);
          return batch;
        });
  }

  /**
   * Decodes shard {@code i} of {@code ids} with {@code decodeOne} for each; on any failure closes
   * what was decoded, an invalid shard becoming a {@link DataPlaneException}.
   */
  private static Map<String, TensorBatch> decodeAll(
      List<String> ids, IntFunction<TensorBatch> decodeOne) {
    Map<String, TensorBatch> out = new LinkedHashMap<>();
    try {
      for (int i = 0; i < ids.size(); i++) {
        out.put(ids.get(i), decodeOne.apply(i));
      }
      return out;
    } catch (RuntimeException | Error e) {
      out.values().forEach(TensorBatch::close);
      if (e instanceof WireFormatException invalid) {
        throw new DataPlaneException(
            ShardLocation.RAY_OBJECT_STORE,
            "an object is not a valid shard: " + invalid.getMessage(),
            invalid);
      }
      throw e;
    }
  }

  /**
   * Decodes {@code length} bytes at {@code address} (an object's memory) from a copy: into a block
   * of {@link #blocks} for a large object, else into memory of {@code allocator}; the tensors slice
   * the copy.
   */
  private TensorBatch decodeCopy(long address, long length, BufferAllocator allocator) {
    try (ArrowBuf buf =
        length >= BlockPool.MIN_BLOCK && !pageLocked(allocator)
            ? blocks.buffer(allocator, length)
            : allocator.buffer(Math.max(length, 1))) {
      BulkCopier.shared().copy(buf.memoryAddress(), address, length);
      return ShardCodec.decode(buf, 0, length, allocator, limits);
    }
  }

  /**
   * Whether {@code allocator} hands out page-locked memory (a worker with a device): its fetches
   * land there, not in the pool's pageable blocks, so that a host-to-device copy from them is a
   * direct DMA.
   */
  private static boolean pageLocked(BufferAllocator allocator) {
    return allocator.getRoot() instanceof PinnedBufferAllocator pinned && pinned.pageLocked();
  }

  /**
   * Decodes one fetched object. A large one is copied whole into a block of {@link #blocks} and
   * decoded in place (its tensors slice the block), so a step's fetches reuse the memory of the
   * previous step's instead of faulting in fresh pages.
   */
  private TensorBatch decode(byte[] bytes, BufferAllocator allocator) {
    if (bytes.length < BlockPool.MIN_BLOCK || pageLocked(allocator)) {
      return ShardCodec.decode(bytes, allocator, limits);
    }
    try (ArrowBuf buf = blocks.buffer(allocator, bytes.length)) {
      buf.setBytes(0, bytes);
      return ShardCodec.decode(buf, 0, bytes.length, allocator, limits);
    }
  }

  @Override
  public Map<String, ClearResult> clear(Collection<RTensor> handles) {
    for (RTensor h : handles) {
      if (h.location().objectRef() != null) {
        refs.putIfAbsent(h.shardId(), objectRefOf(h.location()));
      }
    }
    return DataPlane.super.clear(handles);
  }

  /**
   * Frees the objects of {@code shardIds} that this plane knows (it put them, fetched them or was
   * handed their handles in {@link #clear(Collection)}); other ids are ignored. Ray deletes freed
   * objects asynchronously: a fetch racing the clear on a node whose store still holds a copy may
   * read it for a short while after this returns; later fetches fail with {@link
   * io.rtensor.transport.MissingShardsException}.
   */
  @Override
  public ClearResult clear(String locationKey, Collection<String> shardIds) {
    List<ObjectRef<?>> free = new ArrayList<>();
    List<String> freed = new ArrayList<>();
    for (String id : shardIds) {
      ObjectRef<byte[]> ref = refs.remove(id);
      ownedBytes.remove(id);
      if (ref != null) {
        free.add(ref);
        freed.add(id);
      }
    }
    if (!free.isEmpty()) {
      // Asks the raylets to delete the objects and returns; it does not wait on their owners.
      Ray.internal().free(free, false);
    }
    listeners.forEach(l -> l.accept(List.copyOf(shardIds)));
    return new ClearResult(freed.size(), stats(locationKey));
  }

  /**
   * Forgets the references of {@code shardIds} (they were freed by whoever cleared them), so this
   * process does not keep a reference and a size per cleared shard.
   */
  @Override
  public void release(Collection<String> shardIds) {
    for (String id : shardIds) {
      refs.remove(id);
      ownedBytes.remove(id);
    }
  }

  /** The objects this plane put and has not freed. */
  @Override
  public StoreStats stats(String locationKey) {
    long bytes = ownedBytes.values().stream().mapToLong(Long::longValue).sum();
    return new StoreStats(ShardLocation.RAY_OBJECT_STORE, ownedBytes.size(), bytes, -1);
  }

  @Override
  public void onShardsRemoved(Consumer<Collection<String>> listener) {
    listeners.add(listener);
  }

  /** Drops this plane's references (objects nobody else references are then released by Ray). */
  @Override
  public void close() {
    refs.clear();
    ownedBytes.clear();
    staging.set(null);
    blocks.close();
  }

  /** The Ray reference a handle of this plane carries. */
  @SuppressWarnings("unchecked")
  private static ObjectRef<byte[]> objectRefOf(ShardLocation location) {
    if (!(location.objectRef() instanceof ObjectRef<?> ref)) {
      throw new IllegalArgumentException("not a Ray object-store location: " + location);
    }
    return (ObjectRef<byte[]>) ref;
  }
}

package io.rtensor.transport.ray;

import io.ray.api.ObjectRef;
import io.ray.api.Ray;
import io.ray.api.id.ObjectId;
import io.ray.runtime.object.ObjectRefImpl;
import io.rtensor.raycore.RayCoreOps;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.ReferenceManager;

/**
 * Ray objects written and read in place through the core worker of this process ({@link
 * RayCoreOps}), in place of {@code Ray.put(byte[])} and {@code Ray.get}, which copy every object
 * through the Java heap. The objects are the same as those: {@code RAW} metadata, the bytes as they
 * are, owned by this process with the reference counting of {@code Ray.put} (the {@link ObjectRef}
 * returned holds the one local reference; Ray drops it when the reference is collected), so
 * Python's {@code ray.get} and Java's {@code Ray.get} read them, and {@link #get} reads theirs.
 *
 * <p>Available only where Ray's Java runtime runs in this process with the Ray build whose layouts
 * {@code rtensor_ray_core.h} was checked against; {@link #unavailableReason()} says why not.
 */
public final class RayCoreObjects {
  private static final int ID_BYTES = ObjectId.LENGTH;

  /** Bound at first use, which {@link #unavailableReason()} makes wait until Ray is up. */
  private static final class Binding {
    static final String UNAVAILABLE = bind();

    private static String bind() {
      try {
        int code = RayCoreOps.bind_api();
        return code == RayCoreOps.BOUND ? null : RayCoreOps.error_text();
      } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
        return "the native library did not load: " + e;
      }
    }
  }

  private RayCoreObjects() {}

  /** Null where objects can be created and read in place in this process, else why not. */
  public static String unavailableReason() {
    if (!Ray.isInitialized()) {
      return "Ray is not initialized in this process";
    }
    return Binding.UNAVAILABLE;
  }

  private static void requireAvailable() {
    String why = unavailableReason();
    if (why != null) {
      throw new IllegalStateException("Ray objects cannot be created in place here: " + why);
    }
  }

  /**
   * Creates an object of {@code size} bytes, has {@code writer} fill it (the buffer it gets spans
   * the object's memory and is valid only during the call), and seals it. If {@code writer} throws,
   * the object is sealed and freed and the exception propagates.
   *
   * @throws RayCoreException if Ray refuses the object (for example the object store is full)
   */
  public static ObjectRef<byte[]> put(long size, Consumer<ArrowBuf> writer) {
    requireAvailable();
    byte[] id = new byte[ID_BYTES];
    long[] created = new long[2];
    // No deadline of ours: creating waits only while Ray's object store makes room (spilling,
    // eviction), which Ray bounds itself (its grace period, then a fallback allocation on disk or
    // ObjectStoreFull, a RayCoreException here); it never waits on another worker.
    if (RayCoreOps.create_object(size, id, created) != 0) {
      throw new RayCoreException(RayCoreOps.error_text());
    }
    // The local reference Ray added is the ObjectRef's (as Ray.put's own are): it is dropped when
    // the reference is collected.
    ObjectRef<byte[]> ref = new ObjectRefImpl<>(new ObjectId(id), byte[].class, true);
    try {
      writer.accept(new ArrowBuf(ReferenceManager.NO_OP, null, size, created[1]));
    } catch (Throwable e) {
      // An unsealed object cannot be dropped: seal it, then free it.
      RayCoreOps.seal_object(created[0]);
      Ray.internal().free(List.of(ref), false);
      throw e;
    }
    if (RayCoreOps.seal_object(created[0]) != 0) {
      throw new RayCoreException(RayCoreOps.error_text());
    }
    return ref;
  }

  /** One object of a {@link #get}. */
  public static final class Fetched implements AutoCloseable {
    private final int kind;
    private final long handle;
    private final long address;
    private final long sizeOrError;
    private boolean released;

    Fetched(int kind, long handle, long address, long sizeOrError) {
      this.kind = kind;
      this.handle = handle;
      this.address = address;
      this.sizeOrError = sizeOrError;
    }

    /** Whether the object is {@code RAW} bytes (else a Ray error object or not bytes). */
    public boolean isBytes() {
      return kind == RayCoreOps.OBJECT_BYTES;
    }

    /** Whether Ray answered with an error object (freed, lost, owner died). */
    public boolean isError() {
      return kind == RayCoreOps.OBJECT_ERROR;
    }

    /** The object's bytes, readable until {@link #close()}. */
    public long address() {
      requireBytes();
      return address;
    }

    /** The number of bytes at {@link #address()}. */
    public long size() {
      requireBytes();
      return sizeOrError;
    }

    private void requireBytes() {
      if (!isBytes() || released) {
        throw new IllegalStateException(
            released ? "the object was released" : "the object is not RAW bytes");
      }
    }

    /** Releases the object: its memory may be unmapped from then on. */
    @Override
    public void close() {
      if (!released) {
        released = true;
        RayCoreOps.release_object(handle);
      }
    }
  }

  /**
   * Gets {@code refs} in one call, waiting at most {@code timeoutMillis} (negative: no limit): the
   * objects in order, each to be closed. Every reference must be one this process owns or was
   * handed by Ray (inside a task argument or result), as for {@code Ray.get}.
   *
   * @throws RayCoreException if the get fails as a whole (for example it timed out); nothing is
   *     held
   */
  public static List<Fetched> get(List<? extends ObjectRef<?>> refs, long timeoutMillis) {
    requireAvailable();
    int n = refs.size();
    byte[] ids = new byte[n * ID_BYTES];
    for (int i = 0; i < n; i++) {
      byte[] id = ((ObjectRefImpl<?>) refs.get(i)).getId().getBytes();
      System.arraycopy(id, 0, ids, i * ID_BYTES, ID_BYTES);
    }
    int[] kinds = new int[n];
    long[] out = new long[3 * n];
    if (RayCoreOps.get_objects(ids, n, timeoutMillis < 0 ? -1 : timeoutMillis, kinds, out) != 0) {
      throw new RayCoreException(RayCoreOps.error_text());
    }
    List<Fetched> fetched = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      fetched.add(new Fetched(kinds[i], out[3 * i], out[3 * i + 1], out[3 * i + 2]));
    }
    return fetched;
  }

  /** Ray refused a create, seal or get; the message is Ray's status. */
  public static final class RayCoreException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    RayCoreException(String message) {
      super(message);
    }
  }
}

package io.rtensor.bench;

import io.ray.api.ActorHandle;
import io.ray.api.ObjectRef;
import io.ray.api.Ray;
import io.ray.api.runtimeenv.RuntimeEnv;
import io.ray.api.runtimeenv.types.RuntimeEnvName;
import io.rtensor.memory.BlockPool;
import io.rtensor.memory.BulkCopier;
import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.transport.Remotizer;
import io.rtensor.transport.ray.RayCoreObjects;
import io.rtensor.transport.ray.RayObjectStorePlane;
import io.rtensor.wire.DecodeLimits;
import io.rtensor.wire.ShardCodec;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * The Java actors of {@link RayPutGetWorkload}: put shards, localize them, free them; and the timed
 * phases that {@code RayObjectStoreBreakdown} (jmh module) reports.
 */
public class BenchShardActor {
  private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();
  private final BufferAllocator allocator = new RootAllocator();
  private final RayObjectStorePlane plane = new RayObjectStorePlane();
  private final BlockPool blocks = new BlockPool();
  private final Remotizer remotizer = new Remotizer(plane, null, allocator);
  private Tensor payload;
  private List<Object> previous;
  private byte[] staged;

  public BenchShardActor() {}

  /** An actor started as the plane's workers are ({@link RayObjectStorePlane#WORKER_ENV}). */
  public static ActorHandle<BenchShardActor> start(boolean workerEnv) {
    return start(workerEnv, null);
  }

  /**
   * As {@link #start(boolean)}, on the node with IP {@code nodeIp} (Ray's {@code node:<ip>}
   * resource) unless it is null.
   */
  public static ActorHandle<BenchShardActor> start(boolean workerEnv, String nodeIp) {
    RuntimeEnv env = Ray.internal().createRuntimeEnv();
    env.set(RuntimeEnvName.ENV_VARS, workerEnv ? RayObjectStorePlane.WORKER_ENV : Map.of());
    var creator = Ray.actor(BenchShardActor::new).setRuntimeEnv(env);
    if (nodeIp != null) {
      creator.setResource("node:" + nodeIp, 0.01);
    }
    return creator.remote();
  }

  private Tensor payload(long bytes) {
    if (payload == null || payload.byteSize() != bytes) {
      if (payload != null) {
        payload.close();
      }
      payload = Tensor.allocate(allocator, DType.UINT8, Shape.of(bytes));
    }
    return payload;
  }

  /**
   * {@code count} uint8 shards of {@code bytes} bytes each, as handles; first frees the shards of
   * the previous call (a step's shards live until the next step, as a Python producer's references
   * do until its driver drops them), so a round trip of put, get and free needs no third call.
   */
  @SuppressWarnings("unchecked")
  public List<Object> produce(int count, long bytes) {
    if (previous != null) {
      remotizer.clearCounted(previous);
      previous = null;
    }
    Tensor t = payload(bytes);
    List<Object> out = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      out.add(t);
    }
    previous = (List<Object>) remotizer.remotize(out);
    return previous;
  }

  /**
   * Localizes the handles in one batch, read-only (it only reads their sizes: on the core worker
   * path the objects are mapped, as Python's {@code ray.get} maps them); returns the bytes.
   */
  public long consume(List<Object> handles) {
    long n = 0;
    for (Object o : (List<?>) remotizer.localizeReadOnly(handles)) {
      n += ((Tensor) o).byteSize();
      ((Tensor) o).close();
    }
    return n;
  }

  /** Frees the shards. */
  public long clear(List<Object> handles) {
    return remotizer.clearCounted(handles);
  }

  /** Nothing: an actor call's own cost. */
  public long noop() {
    return 0;
  }

  /**
   * Encodes and puts {@code count} shards of {@code bytes} bytes, timing each phase: element 0 is
   * {@code long[] {create, encode, seal}} wall then this thread's CPU ns, the rest the object
   * references. With {@code coreWorker} as the plane does by default (create the object, encode
   * into its memory, seal; see {@link RayObjectStorePlane.ObjectAccess}); else through Ray's Java
   * API (encode into a reused array, {@code Ray.put}; create is then 0).
   */
  public List<Object> timedPut(int count, long bytes, boolean coreWorker) {
    Tensor t = payload(bytes);
    long[] wall = new long[3];
    long[] cpu = new long[3];
    List<Object> out = new ArrayList<>(count + 1);
    out.add(null);
    for (int i = 0; i < count; i++) {
      long c0 = CPU.getCurrentThreadCpuTime();
      long t0 = System.nanoTime();
      try (TensorBatch batch = TensorBatch.of("tensor", t.share())) {
        if (coreWorker) {
          long[] mark = new long[4];
          out.add(
              RayCoreObjects.put(
                  ShardCodec.encodedSize(batch),
                  memory -> {
                    mark[0] = System.nanoTime();
                    mark[1] = CPU.getCurrentThreadCpuTime();
                    ShardCodec.encodeInto(batch, memory, BulkCopier.shared());
                    mark[2] = System.nanoTime();
                    mark[3] = CPU.getCurrentThreadCpuTime();
                  }));
          long t3 = System.nanoTime();
          long c3 = CPU.getCurrentThreadCpuTime();
          add(wall, t0, mark[0], mark[2], t3);
          add(cpu, c0, mark[1], mark[3], c3);
        } else {
          byte[] b =
              ShardCodec.encode(
                  batch, n -> staged != null && staged.length == n ? staged : new byte[n]);
          long t2 = System.nanoTime();
          long c2 = CPU.getCurrentThreadCpuTime();
          out.add(Ray.put(b));
          staged = b.length >= (1 << 20) ? b : null;
          add(wall, t0, t0, t2, System.nanoTime());
          add(cpu, c0, c0, c2, CPU.getCurrentThreadCpuTime());
        }
      }
    }
    out.set(0, new long[] {wall[0], wall[1], wall[2], cpu[0], cpu[1], cpu[2]});
    return out;
  }

  private static void add(long[] phases, long t0, long t1, long t2, long t3) {
    phases[0] += t1 - t0;
    phases[1] += t2 - t1;
    phases[2] += t3 - t2;
  }

  /**
   * Gets the objects in one call, decodes and closes them: {@code {get, decode, close}} wall then
   * this thread's CPU ns. With {@code coreWorker} as the plane does by default (map the objects,
   * copy each into Arrow memory, a reused block for a large one, and decode it there); else {@code
   * Ray.get} and a decode of each array.
   */
  @SuppressWarnings("unchecked")
  public long[] timedGet(List<Object> refs, boolean coreWorker) {
    List<ObjectRef<byte[]>> list = new ArrayList<>(refs.size());
    refs.forEach(r -> list.add((ObjectRef<byte[]>) r));
    long c0 = CPU.getCurrentThreadCpuTime();
    long t0 = System.nanoTime();
    List<TensorBatch> decoded = new ArrayList<>(list.size());
    long t1;
    long c1;
    if (coreWorker) {
      List<RayCoreObjects.Fetched> got = RayCoreObjects.get(list, -1);
      t1 = System.nanoTime();
      c1 = CPU.getCurrentThreadCpuTime();
      for (RayCoreObjects.Fetched f : got) {
        try (f;
            ArrowBuf copy =
                f.size() >= BlockPool.MIN_BLOCK
                    ? blocks.buffer(allocator, f.size())
                    : allocator.buffer(f.size())) {
          BulkCopier.shared().copy(copy.memoryAddress(), f.address(), f.size());
          decoded.add(ShardCodec.decode(copy, 0, f.size(), allocator, DecodeLimits.DEFAULT));
        }
      }
    } else {
      List<byte[]> got = Ray.get(list);
      t1 = System.nanoTime();
      c1 = CPU.getCurrentThreadCpuTime();
      for (int i = 0; i < got.size(); i++) {
        decoded.add(ShardCodec.decode(got.get(i), allocator));
        got.set(i, null);
      }
    }
    long t2 = System.nanoTime();
    long c2 = CPU.getCurrentThreadCpuTime();
    decoded.forEach(TensorBatch::close);
    long t3 = System.nanoTime();
    long c3 = CPU.getCurrentThreadCpuTime();
    return new long[] {t1 - t0, t2 - t1, t3 - t2, c1 - c0, c2 - c1, c3 - c2};
  }

  /** Frees objects by reference; returns the nanoseconds {@code Ray.internal().free} took. */
  @SuppressWarnings("unchecked")
  public long free(List<Object> refs) {
    List<ObjectRef<?>> list = new ArrayList<>(refs.size());
    refs.forEach(r -> list.add((ObjectRef<?>) r));
    long t0 = System.nanoTime();
    Ray.internal().free(list, false);
    return System.nanoTime() - t0;
  }
}

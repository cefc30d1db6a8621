package io.rtensor.bench;

import io.ray.api.ActorHandle;
import io.ray.api.ObjectRef;
import io.ray.api.Ray;
import io.ray.api.runtimeenv.RuntimeEnv;
import io.ray.api.runtimeenv.types.RuntimeEnvName;
import io.rtensor.rtensor.Remotizer;
import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.transport.RayObjectStorePlane;
import io.rtensor.wire.ShardCodec;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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
  private final Remotizer remotizer = new Remotizer(plane, null, allocator);
  private Tensor payload;
  private byte[] staged;

  public BenchShardActor() {}

  /** An actor started as the plane's workers are ({@link RayObjectStorePlane#WORKER_ENV}). */
  public static ActorHandle<BenchShardActor> start(boolean workerEnv) {
    RuntimeEnv env = Ray.internal().createRuntimeEnv();
    env.set(RuntimeEnvName.ENV_VARS, workerEnv ? RayObjectStorePlane.WORKER_ENV : Map.of());
    return Ray.actor(BenchShardActor::new).setRuntimeEnv(env).remote();
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

  /** {@code count} uint8 shards of {@code bytes} bytes each, as handles. */
  @SuppressWarnings("unchecked")
  public List<Object> produce(int count, long bytes) {
    Tensor t = payload(bytes);
    List<Object> out = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      out.add(t);
    }
    return (List<Object>) remotizer.remotize(out);
  }

  /** Localizes the handles in one batch; returns the bytes. */
  public long consume(List<Object> handles) {
    long n = 0;
    for (Object o : (List<?>) remotizer.localize(handles)) {
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
   * Encodes and puts {@code count} shards of {@code bytes} bytes as the plane does, timing each
   * phase: element 0 is {@code long[] {encode, Ray.put}} wall then this thread's CPU ns, the rest
   * the object references. With {@code reuse}, a large array is reused as the plane does; else each
   * shard gets a new one.
   */
  public List<Object> timedPut(int count, long bytes, boolean reuse) {
    Tensor t = payload(bytes);
    if (!reuse) {
      staged = null;
    }
    long encode = 0;
    long put = 0;
    long encodeCpu = 0;
    long putCpu = 0;
    List<Object> out = new ArrayList<>(count + 1);
    out.add(null);
    for (int i = 0; i < count; i++) {
      long c0 = CPU.getCurrentThreadCpuTime();
      long t0 = System.nanoTime();
      byte[] b;
      try (TensorBatch batch = TensorBatch.of("tensor", t.share())) {
        b =
            ShardCodec.encode(
                batch, n -> staged != null && staged.length == n ? staged : new byte[n]);
      }
      long t1 = System.nanoTime();
      long c1 = CPU.getCurrentThreadCpuTime();
      out.add(Ray.put(b));
      long t2 = System.nanoTime();
      long c2 = CPU.getCurrentThreadCpuTime();
      encodeCpu += c1 - c0;
      putCpu += c2 - c1;
      staged = b.length >= (1 << 20) ? b : null;
      encode += t1 - t0;
      put += t2 - t1;
    }
    out.set(0, new long[] {encode, put, encodeCpu, putCpu});
    return out;
  }

  /**
   * Gets the objects in one {@code Ray.get}, decodes and closes them: {get, decode, close} wall
   * then this thread's CPU ns.
   */
  @SuppressWarnings("unchecked")
  public long[] timedGet(List<Object> refs) {
    List<ObjectRef<byte[]>> list = new ArrayList<>(refs.size());
    refs.forEach(r -> list.add((ObjectRef<byte[]>) r));
    long c0 = CPU.getCurrentThreadCpuTime();
    long t0 = System.nanoTime();
    List<byte[]> got = Ray.get(list);
    long t1 = System.nanoTime();
    long c1 = CPU.getCurrentThreadCpuTime();
    List<TensorBatch> decoded = new ArrayList<>(got.size());
    for (int i = 0; i < got.size(); i++) {
      decoded.add(ShardCodec.decode(got.get(i), allocator));
      got.set(i, null);
    }
    long t2 = System.nanoTime();
    long c2 = CPU.getCurrentThreadCpuTime();
    decoded.forEach(TensorBatch::close);
    long t3 = System.nanoTime();
    long c3 = CPU.getCurrentThreadCpuTime();
    return new long[] {t1 - t0, t2 - t1, t3 - t2, c1 - c0, c2 - c1, c3 - c2};
  }

  /** Frees objects by reference. */
  @SuppressWarnings("unchecked")
  public long free(List<Object> refs) {
    List<ObjectRef<?>> list = new ArrayList<>(refs.size());
    refs.forEach(r -> list.add((ObjectRef<?>) r));
    Ray.internal().free(list, false);
    return list.size();
  }
}

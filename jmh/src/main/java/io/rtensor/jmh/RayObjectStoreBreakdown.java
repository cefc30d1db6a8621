package io.rtensor.jmh;

import io.ray.api.ActorHandle;
import io.rtensor.bench.BenchShardActor;
import io.rtensor.scheduler.ray.RayConnection;
import java.util.ArrayList;
import java.util.List;

/**
 * Where the time of {@link RayObjectStoreBenchmark}'s round trip goes: a no-op actor call, then per
 * repetition the producer's create, encode and seal time (or encode and {@code Ray.put}), the
 * consumer's get, decode and close time, each actor call as the driver sees it, and the free.
 *
 * <p>Run (Ray head env exported): {@code java @etc/jvm.args -cp "jmh/target/classes:$(cat
 * jmh/target/runtime-classpath.txt)" io.rtensor.jmh.RayObjectStoreBreakdown COUNT BYTES REPS}, for
 * example {@code 1 67108864 8} or {@code 10000 4096 3}. Flags after those: {@code java-api} puts
 * and gets through Ray's Java API instead of the core worker path; {@code plain} starts the actors
 * without {@link io.rtensor.transport.ray.RayObjectStorePlane#WORKER_ENV}.
 */
public final class RayObjectStoreBreakdown {
  private RayObjectStoreBreakdown() {}

  public static void main(String[] args) throws Exception {
    int count = Integer.parseInt(args[0]);
    long bytes = Long.parseLong(args[1]);
    int reps = Integer.parseInt(args[2]);
    try (RayConnection c = RayConnection.builder().connect()) {
      List<String> flags = List.of(args).subList(3, args.length);
      boolean workerEnv = !flags.contains("plain");
      boolean javaApi = flags.contains("java-api");
      ActorHandle<BenchShardActor> producer = BenchShardActor.start(workerEnv);
      ActorHandle<BenchShardActor> consumer = BenchShardActor.start(workerEnv);
      for (int r = 0; r < reps; r++) {
        long t0 = System.nanoTime();
        producer.task(BenchShardActor::noop).remote().get();
        consumer.task(BenchShardActor::noop).remote().get();
        long t1 = System.nanoTime();
        boolean coreWorker = !javaApi;
        List<Object> out =
            producer.task(BenchShardActor::timedPut, count, bytes, coreWorker).remote().get();
        long t2 = System.nanoTime();
        long[] put = (long[]) out.get(0);
        List<Object> refs = new ArrayList<>(out.subList(1, out.size()));
        long[] get = consumer.task(BenchShardActor::timedGet, refs, coreWorker).remote().get();
        long t3 = System.nanoTime();
        long freeNanos = producer.task(BenchShardActor::free, refs).remote().get();
        long t4 = System.nanoTime();
        System.out.printf(
            "%s 2 no-op calls %.1f | put call %.1f (create %.1f/%.1f, encode %.1f/%.1f, seal or"
                + " Ray.put %.1f/%.1f) | get call %.1f (get %.1f/%.1f, decode %.1f/%.1f, close"
                + " %.1f/%.1f) | free call %.1f (free %.1f)  [ms, phases wall/CPU]%n",
            coreWorker ? "core worker" : "Java API",
            (t1 - t0) / 1e6,
            (t2 - t1) / 1e6,
            put[0] / 1e6,
            put[3] / 1e6,
            put[1] / 1e6,
            put[4] / 1e6,
            put[2] / 1e6,
            put[5] / 1e6,
            (t3 - t2) / 1e6,
            get[0] / 1e6,
            get[3] / 1e6,
            get[1] / 1e6,
            get[4] / 1e6,
            get[2] / 1e6,
            get[5] / 1e6,
            (t4 - t3) / 1e6,
            freeNanos / 1e6);
      }
      producer.kill();
      consumer.kill();
    }
  }
}

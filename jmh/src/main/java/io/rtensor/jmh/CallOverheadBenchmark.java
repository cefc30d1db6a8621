package io.rtensor.jmh;

import io.ray.api.ActorHandle;
import io.ray.api.Ray;
import io.ray.api.concurrencygroup.ConcurrencyGroupBuilder;
import io.rtensor.scheduler.CallOptions;
import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.SchedulingSpec;
import io.rtensor.scheduler.local.LocalScheduler;
import io.rtensor.scheduler.ray.RayConnection;
import io.rtensor.scheduler.ray.RayScheduler;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.Callable;

/**
 * The cost of a no-op engine call through each scheduler beside its transport's raw round trip, in
 * the same run: median of N calls after a warm-up, calls of the two kinds interleaved.
 *
 * <ul>
 *   <li>LocalScheduler.callEngine vs a raw control-endpoint ping to the same worker.
 *   <li>RayScheduler.callEngine vs a raw Ray actor call of a no-op method (when {@code
 *       RTENSOR_RAY_ADDRESS} names a head).
 * </ul>
 *
 * <pre>java @etc/jvm.args -cp ... io.rtensor.jmh.CallOverheadBenchmark [calls] [warmup]</pre>
 */
public final class CallOverheadBenchmark {
  private CallOverheadBenchmark() {}

  public static void main(String[] args) throws Exception {
    int calls = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
    int warmup = args.length > 1 ? Integer.parseInt(args[1]) : 2_000;
    CallOptions options = CallOptions.DEFAULT.withMaxRetries(0);
    System.out.printf(
        "machine: %s, %d cores, Java %s%n",
        System.getProperty("os.arch"),
        Runtime.getRuntime().availableProcessors(),
        System.getProperty("java.version"));

    try (LocalScheduler local = LocalScheduler.builder().build()) {
      String id =
          local
              .createWorkers(Job.builder("bench").task(SchedulingSpec.builder().build()).build())
              .get(0)
              .id();
      local.createEngine(id, NoopEngine.class.getName(), null);
      report(
          "local",
          "LocalScheduler.callEngine(noop)",
          () -> local.callEngine(id, "noop", null, options),
          "raw control ping (same Flight endpoint)",
          () -> local.rawControlPing(id, Duration.ofSeconds(30)),
          calls,
          warmup);
    }

    if (System.getenv("RTENSOR_RAY_ADDRESS") == null) {
      System.out.println("ray: skipped (RTENSOR_RAY_ADDRESS is not set; scripts/ray-head env)");
      return;
    }
    try (RayConnection connection = RayConnection.builder().connect();
        RayScheduler ray = RayScheduler.builder().build()) {
      String id =
          ray.createWorkers(
                  Job.builder("bench").task(SchedulingSpec.builder().cpu(0.5).build()).build())
              .get(0)
              .id();
      ray.createEngine(id, NoopEngine.class.getName(), null);
      ActorHandle<NoopActor> actor = Ray.actor(NoopActor::new).remote();
      report(
          "ray",
          "RayScheduler.callEngine(noop)",
          () -> ray.callEngine(id, "noop", null, options),
          "raw Ray actor call noop()",
          () -> actor.task(NoopActor::noop).remote().get(30_000),
          calls,
          warmup);
      actor.kill();
      // The same raw call to an actor laid out as a worker's: a default group of one thread, where
      // a call alone goes, and a concurrent group for the rest.
      ActorHandle<NoopActor> grouped =
          Ray.actor(NoopActor::new)
              .setConcurrencyGroups(
                  new ConcurrencyGroupBuilder<NoopActor>()
                      .setName(RayScheduler.CONCURRENT_GROUP)
                      .setMaxConcurrency(RayScheduler.ACTOR_CONCURRENCY)
                      .addMethod(NoopActor::ping)
                      .build())
              .remote();
      report(
          "ray-grouped",
          "RayScheduler.callEngine(noop)",
          () -> ray.callEngine(id, "noop", null, options),
          "raw Ray actor call noop() to an actor with a worker's concurrency groups",
          () -> grouped.task(NoopActor::noop).remote().get(30_000),
          calls,
          warmup);
      grouped.kill();
    }
  }

  private static void report(
      String label,
      String subjectName,
      Callable<Object> subject,
      String baselineName,
      Callable<Object> baseline,
      int calls,
      int warmup)
      throws Exception {
    for (int i = 0; i < warmup; i++) {
      subject.call();
      baseline.call();
    }
    long[] subjectNanos = new long[calls];
    long[] baselineNanos = new long[calls];
    for (int i = 0; i < calls; i++) {
      long t0 = System.nanoTime();
      baseline.call();
      long t1 = System.nanoTime();
      subject.call();
      long t2 = System.nanoTime();
      baselineNanos[i] = t1 - t0;
      subjectNanos[i] = t2 - t1;
    }
    double subjectMedian = median(subjectNanos) / 1e3;
    double baselineMedian = median(baselineNanos) / 1e3;
    System.out.printf(
        "%s: %s median %.1f us; %s median %.1f us; ratio %.2f (%d calls after %d warm-up)%n",
        label,
        subjectName,
        subjectMedian,
        baselineName,
        baselineMedian,
        subjectMedian / baselineMedian,
        calls,
        warmup);
  }

  private static double median(long[] values) {
    long[] sorted = values.clone();
    Arrays.sort(sorted);
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
  }
}

package io.rtensor.cli;

import io.rtensor.cli.demo.DemoRolloutEngine;
import io.rtensor.cli.demo.DemoTrainEngine;
import io.rtensor.device.DeviceRuntimes;
import io.rtensor.device.RuntimeKind;
import io.rtensor.handle.RTensor;
import io.rtensor.host.WorkerMemory;
import io.rtensor.scheduler.CallOptions;
import io.rtensor.scheduler.DeviceType;
import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.Scheduler;
import io.rtensor.scheduler.SchedulingSpec;
import io.rtensor.scheduler.Worker;
import io.rtensor.scheduler.local.LocalScheduler;
import io.rtensor.scheduler.ray.RayConnection;
import io.rtensor.scheduler.ray.RayScheduler;
import io.rtensor.transport.DataPlaneKind;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code ./rtensor demo}: single-controller training steps on the embedded default (the local
 * scheduler and Flight) or on Ray. Rollout workers generate trajectory batches; the controller
 * holds only their RTensor handles and routes each data-parallel piece to its training worker,
 * which fetches it straight from the rollout worker and reduces it; the controller checks every
 * reduction against what the rollout side reported, then clears the shards.
 */
@Command(
    name = "demo",
    description = {
      "Run single-controller training steps: rollout -> handles -> training, verified.",
      "Exit 0 only when every step verified and every clear left the stores empty."
    },
    sortOptions = false)
final class DemoCommand implements Callable<Integer> {
  @ParentCommand private Main main;
  @Spec private CommandSpec spec;
  @Mixin private HelpOption help;
  @Mixin private RayOptions ray;

  @Option(
      names = "--scheduler",
      paramLabel = "local|ray",
      converter = SchedulerChoice.class,
      description = "where workers run (default ${DEFAULT-VALUE}: child JVMs here)",
      defaultValue = "local")
  private String schedulerName;

  @Option(
      names = "--data-plane",
      paramLabel = "flight|object-store",
      converter = DataPlaneChoice.class,
      description = "how shards move (default: flight locally, object-store on Ray)")
  private DataPlaneKind dataPlane;

  @Option(
      names = "--device",
      paramLabel = "cpu|cuda|npu",
      converter = DeviceChoice.class,
      description = "device of each worker (default ${DEFAULT-VALUE})",
      defaultValue = "cpu")
  private DeviceType device;

  @Option(
      names = "--rollout",
      paramLabel = "N",
      converter = Converters.PositiveInt.class,
      description = "rollout workers (default ${DEFAULT-VALUE})",
      defaultValue = "2")
  private int rollout;

  @Option(
      names = "--train",
      paramLabel = "M",
      converter = Converters.PositiveInt.class,
      description = "training workers (default ${DEFAULT-VALUE})",
      defaultValue = "2")
  private int train;

  @Option(
      names = "--batch",
      paramLabel = "B",
      converter = Converters.PositiveInt.class,
      description = "trajectories per rollout batch (default ${DEFAULT-VALUE})",
      defaultValue = "64")
  private int batch;

  @Option(
      names = "--seq",
      paramLabel = "T",
      converter = Converters.PositiveInt.class,
      description = "tokens per trajectory (default ${DEFAULT-VALUE})",
      defaultValue = "256")
  private int seq;

  @Option(
      names = "--hidden",
      paramLabel = "H",
      converter = Converters.NonNegativeInt.class,
      description =
          "also send bfloat16 hidden states [B, T, H], 0 for none (default ${DEFAULT-VALUE}: 32"
              + " MiB a rollout batch, so the transfer hop measures the plane, not call overhead)",
      defaultValue = "1024")
  private int hidden;

  @Option(
      names = "--steps",
      paramLabel = "S",
      converter = Converters.PositiveInt.class,
      description = "training steps (default ${DEFAULT-VALUE})",
      defaultValue = "5")
  private int steps;

  static final class SchedulerChoice implements ITypeConverter<String> {
    @Override
    public String convert(String value) {
      return Converters.oneOf(value, Map.of("local", "local", "ray", "ray"));
    }
  }

  static final class DataPlaneChoice implements ITypeConverter<DataPlaneKind> {
    @Override
    public DataPlaneKind convert(String value) {
      Map<String, DataPlaneKind> choices = new LinkedHashMap<>();
      choices.put("flight", DataPlaneKind.FLIGHT);
      choices.put("object-store", DataPlaneKind.RAY_OBJECT_STORE);
      return Converters.oneOf(value, choices);
    }
  }

  static final class DeviceChoice implements ITypeConverter<DeviceType> {
    @Override
    public DeviceType convert(String value) {
      Map<String, DeviceType> choices = new LinkedHashMap<>();
      choices.put("cpu", DeviceType.CPU);
      choices.put("cuda", DeviceType.GPU);
      choices.put("npu", DeviceType.NPU);
      return Converters.oneOf(value, choices);
    }
  }

  /** The checks that involve several options: a usage error before anything starts. */
  private void validate() {
    if (batch < train) {
      throw new ParameterException(
          spec.commandLine(),
          "--batch " + batch + " cannot be split across " + train + " training workers");
    }
    if (schedulerName.equals("local") && dataPlane == DataPlaneKind.RAY_OBJECT_STORE) {
      throw new ParameterException(
          spec.commandLine(), "the object-store data plane needs --scheduler ray");
    }
    if (dataPlane == null) {
      dataPlane =
          schedulerName.equals("ray")
              ? DataPlaneKind.defaultForRay()
              : DataPlaneKind.defaultForLocal();
    }
  }

  @Override
  public Integer call() {
    validate();
    ray.applyLogging();
    PrintStream out = main.out();
    PrintStream err = main.err();
    RayConnection connection = null;
    Scheduler workers = null;
    try {
      if (schedulerName.equals("ray")) {
        connection = ray.connect();
        workers = RayScheduler.builder().dataPlane(dataPlane).build();
      } else {
        workers =
            LocalScheduler.builder()
                .devices(DeviceType.GPU, deviceCount(RuntimeKind.CUDA))
                .devices(DeviceType.NPU, deviceCount(RuntimeKind.ASCEND))
                .build();
      }
      return runSteps(workers, out, err);
    } finally {
      if (workers != null) {
        workers.close();
      }
      if (connection != null) {
        connection.close();
      }
    }
  }

  private static int deviceCount(RuntimeKind kind) {
    return DeviceRuntimes.find(kind).map(r -> r.deviceCount()).orElse(0);
  }

  private int runSteps(Scheduler scheduler, PrintStream out, PrintStream err) {
    SchedulingSpec.Builder task = SchedulingSpec.builder().cpu(0.5);
    if (device != DeviceType.CPU) {
      task.devices(1, device);
    }
    out.printf(
        "rtensor demo: %d rollout -> %d train workers, %s scheduler, %s data plane, %s,"
            + " batch %d x %d%s, %d steps%n",
        rollout,
        train,
        schedulerName,
        dataPlane == DataPlaneKind.FLIGHT ? "flight" : "object-store",
        device == DeviceType.CPU ? "cpu" : device.name().toLowerCase(),
        batch,
        seq,
        hidden > 0 ? " (hidden " + hidden + ")" : "",
        steps);
    long setup = System.nanoTime();
    List<Worker> rolloutWorkers =
        scheduler.createWorkers(
            Job.builder("rollout").replicas(rollout).task(task.build()).build());
    List<Worker> trainWorkers =
        scheduler.createWorkers(Job.builder("actor").replicas(train).task(task.build()).build());
    for (Worker w : rolloutWorkers) {
      scheduler.createEngine(w.id(), DemoRolloutEngine.class.getName(), "rollout");
    }
    for (Worker w : trainWorkers) {
      scheduler.createEngine(w.id(), DemoTrainEngine.class.getName(), "train");
    }
    out.printf("workers up in %.1f s%n", (System.nanoTime() - setup) / 1e9);

    CallOptions options = CallOptions.DEFAULT.withTimeout(Duration.ofMinutes(10)).withMaxRetries(0);
    long heapBefore = WorkerMemory.liveHeapBytes();
    long shards = 0;
    long bytes = 0;
    long generateNanos = 0;
    long trainNanos = 0;
    long clearNanos = 0;
    int verified = 0;
    List<Worker> everyone = new ArrayList<>(rolloutWorkers);
    everyone.addAll(trainWorkers);
    List<MemorySample> samples = new ArrayList<>();
    for (int step = 1; step <= steps; step++) {
      long t0 = System.nanoTime();
      List<CompletableFuture<Object>> generated = new ArrayList<>();
      for (Worker w : rolloutWorkers) {
        generated.add(
            scheduler.callEngineAsync(
                w.id(), "generate", "rollout", options, step, batch, seq, hidden, train));
      }
      List<List<?>> pieces = new ArrayList<>();
      List<List<?>> reports = new ArrayList<>();
      for (CompletableFuture<Object> f : generated) {
        // Each call ends by its own timeout (options), so these joins do too.
        Map<?, ?> result = (Map<?, ?>) f.join();
        pieces.add((List<?>) result.get("pieces"));
        reports.add((List<?>) result.get("reports"));
      }
      long t1 = System.nanoTime();
      List<CompletableFuture<Object>> trained = new ArrayList<>();
      for (int j = 0; j < trainWorkers.size(); j++) {
        List<Object> mine = new ArrayList<>();
        for (List<?> fromRollout : pieces) {
          RTensor handle = (RTensor) fromRollout.get(j);
          mine.add(handle);
          shards++;
          bytes += handle.byteSize();
        }
        trained.add(
            scheduler.callEngineAsync(
                trainWorkers.get(j).id(), "trainStep", "train", options, mine));
      }
      boolean ok = true;
      for (int j = 0; j < trained.size(); j++) {
        List<?> got = (List<?>) trained.get(j).join();
        for (int k = 0; k < rolloutWorkers.size(); k++) {
          Object expected = reports.get(k).get(j);
          if (!expected.equals(got.get(k))) {
            ok = false;
            err.printf(
                "%nstep %d: train/%d piece from rollout/%d differs:%n  sent %s%n  got  %s%n",
                step, j, k, expected, got.get(k));
          }
        }
      }
      long t2 = System.nanoTime();
      scheduler.clearShards(pieces);
      long t3 = System.nanoTime();
      generateNanos += t1 - t0;
      trainNanos += t2 - t1;
      clearNanos += t3 - t2;
      verified += ok ? 1 : 0;
      if (sampleAt(step, steps)) {
        samples.add(MemorySample.read(step, scheduler, everyone));
      }
      progress(err, step, steps, verified);
    }
    err.println();

    out.println();
    out.printf(
        "  %-34s %8s %14s %10s %10s %10s%n", "hop", "shards", "bytes", "time s", "ms/step", "GB/s");
    out.printf(
        "  %-34s %8s %14s %10.2f %10.1f %10s%n",
        "generate (rollout workers)",
        "-",
        "-",
        generateNanos / 1e9,
        generateNanos / 1e6 / steps,
        "-");
    out.printf(
        "  %-34s %8d %14d %10.2f %10.1f %10s%n",
        "rollout -> train (fetch + reduce)",
        shards,
        bytes,
        trainNanos / 1e9,
        trainNanos / 1e6 / steps,
        rate(bytes, trainNanos));
    out.printf(
        "  %-34s %8d %14s %10.2f %10.1f %10s%n",
        "clear (stores and caches)", shards, "-", clearNanos / 1e9, clearNanos / 1e6 / steps, "-");
    out.println();
    boolean drained = printMemory(out, heapBefore, samples);
    boolean all = verified == steps && drained;
    out.println(
        all
            ? "verified"
            : verified != steps
                ? "NOT verified: " + (steps - verified) + " step(s) differ"
                : "NOT verified: shards or Arrow memory left behind after a clear");
    return all ? 0 : 1;
  }

  /** GB/s to three significant digits: a hop that moved bytes never reads 0.00. */
  static String rate(long bytes, long nanos) {
    if (bytes == 0 || nanos <= 0) {
      return "-";
    }
    return String.format(java.util.Locale.ROOT, "%.3g", bytes / (nanos / 1e9) / 1e9);
  }

  /** Memory is read after step 1 and at each quarter of the run (a read costs a collection). */
  private static boolean sampleAt(int step, int steps) {
    return step == 1 || step == steps || (steps >= 4 && step % Math.max(1, steps / 4) == 0);
  }

  /** The controller's heap and the sum over the workers after one step's clear. */
  private record MemorySample(
      int step,
      long controllerHeap,
      long workerHeap,
      long workerArrow,
      long storedShards,
      long storedBytes,
      long cachedShards,
      long cachedBytes) {
    static MemorySample read(int step, Scheduler scheduler, List<Worker> workers) {
      long heap = 0;
      long arrow = 0;
      long stored = 0;
      long storedBytes = 0;
      long cached = 0;
      long cachedBytes = 0;
      for (Worker w : workers) {
        WorkerMemory m = scheduler.workerMemory(w.id());
        heap += m.heapUsedBytes();
        arrow += m.arrowBytes();
        stored += m.storedShards();
        storedBytes += m.storedBytes();
        cached += m.cachedShards();
        cachedBytes += m.cachedBytes();
      }
      return new MemorySample(
          step,
          WorkerMemory.liveHeapBytes(),
          heap,
          arrow,
          stored,
          storedBytes,
          cached,
          cachedBytes);
    }
  }

  /** Prints the samples; true when stores, caches and workers' Arrow memory were empty in all. */
  private static boolean printMemory(PrintStream out, long heapBefore, List<MemorySample> samples) {
    out.printf(
        "memory after each sampled step's clear (controller heap before the steps: %.1f MiB)%n",
        heapBefore / 1048576.0);
    out.printf(
        "  %6s %16s %16s %14s %16s %16s%n",
        "step",
        "controller heap",
        "workers' heap",
        "workers' Arrow",
        "stored shards",
        "cached shards");
    boolean empty = true;
    for (MemorySample m : samples) {
      out.printf(
          "  %6d %12.1f MiB %12.1f MiB %14d %16s %16s%n",
          m.step(),
          m.controllerHeap() / 1048576.0,
          m.workerHeap() / 1048576.0,
          m.workerArrow(),
          m.storedShards() + " / " + m.storedBytes() + " B",
          m.cachedShards() + " / " + m.cachedBytes() + " B");
      empty &= m.workerArrow() == 0 && m.storedShards() == 0 && m.cachedShards() == 0;
    }
    if (samples.size() >= 2) {
      // From the second sample on: the first includes one-time growth (classes, JIT, pools).
      MemorySample from = samples.get(1);
      MemorySample to = samples.get(samples.size() - 1);
      out.printf(
          "  from step %d to %d: controller heap %+.1f MiB, workers' heap %+.1f MiB%n",
          from.step(),
          to.step(),
          (to.controllerHeap() - from.controllerHeap()) / 1048576.0,
          (to.workerHeap() - from.workerHeap()) / 1048576.0);
    }
    out.println(
        empty
            ? "  shard stores, fetch caches and workers' Arrow memory empty after every sampled clear"
            : "  NOT empty after a clear: shards or Arrow memory left behind (see the table)");
    return empty;
  }

  private static void progress(PrintStream err, int step, int steps, int verified) {
    int width = 30;
    int done = (int) ((long) step * width / steps);
    err.printf(
        "\r[%s%s] step %d/%d, %d verified",
        "#".repeat(done), ".".repeat(width - done), step, steps, verified);
    err.flush();
  }
}

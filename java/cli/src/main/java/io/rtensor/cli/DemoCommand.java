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
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * {@code ./rtensor demo}: single-controller training steps on the embedded default (the local
 * scheduler and Flight) or on Ray. Rollout workers generate trajectory batches; the controller
 * holds only their RTensor handles and routes each data-parallel piece to its training worker,
 * which fetches it straight from the rollout worker and reduces it; the controller checks every
 * reduction against what the rollout side reported, then clears the shards.
 */
final class DemoCommand implements Main.Command {
  private static final String USAGE =
      """
      usage: ./rtensor demo [options]
        --scheduler local|ray          where workers run (default local: child JVMs here)
        --ray-address HOST:PORT        the Ray head (default: RTENSOR_RAY_ADDRESS)
        --data-plane flight|object-store
                                       how shards move (default: flight locally,
                                       object-store on Ray)
        --device cpu|cuda|npu          device of each worker (default cpu)
        --rollout N                    rollout workers (default 2)
        --train M                      training workers (default 2)
        --batch B                      trajectories per rollout batch (default 64)
        --seq T                        tokens per trajectory (default 256)
        --hidden H                     also send bfloat16 hidden states [B, T, H] (default 0)
        --steps S                      training steps (default 5)
      Exit 0 only when every step verified and every clear left the stores empty.""";

  @Override
  public String summary() {
    return "run single-controller training steps: rollout -> handles -> training, verified";
  }

  private static final class Options {
    String scheduler = "local";
    String rayAddress;
    DataPlaneKind dataPlane;
    DeviceType device = DeviceType.CPU;
    int rollout = 2;
    int train = 2;
    int batch = 64;
    int seq = 256;
    int hidden;
    int steps = 5;
  }

  private static Options parse(String[] args) throws Main.UsageException {
    Options o = new Options();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      switch (a) {
        case "--scheduler" -> {
          o.scheduler = value(args, ++i, a);
          if (!o.scheduler.equals("local") && !o.scheduler.equals("ray")) {
            throw new Main.UsageException("--scheduler is local or ray, got " + o.scheduler);
          }
        }
        case "--ray-address" -> o.rayAddress = value(args, ++i, a);
        case "--data-plane" -> {
          String v = value(args, ++i, a);
          o.dataPlane =
              switch (v) {
                case "flight" -> DataPlaneKind.FLIGHT;
                case "object-store" -> DataPlaneKind.RAY_OBJECT_STORE;
                default ->
                    throw new Main.UsageException(
                        "--data-plane is flight or object-store, got " + v);
              };
        }
        case "--device" -> {
          String v = value(args, ++i, a);
          o.device =
              switch (v) {
                case "cpu" -> DeviceType.CPU;
                case "cuda" -> DeviceType.GPU;
                case "npu" -> DeviceType.NPU;
                default -> throw new Main.UsageException("--device is cpu, cuda or npu, got " + v);
              };
        }
        case "--rollout" -> o.rollout = positive(args, ++i, a);
        case "--train" -> o.train = positive(args, ++i, a);
        case "--batch" -> o.batch = positive(args, ++i, a);
        case "--seq" -> o.seq = positive(args, ++i, a);
        case "--hidden" -> o.hidden = nonNegative(args, ++i, a);
        case "--steps" -> o.steps = positive(args, ++i, a);
        default -> throw new Main.UsageException("unknown option " + a);
      }
    }
    if (o.batch < o.train) {
      throw new Main.UsageException(
          "--batch " + o.batch + " cannot be split across " + o.train + " training workers");
    }
    if (o.scheduler.equals("local") && o.dataPlane == DataPlaneKind.RAY_OBJECT_STORE) {
      throw new Main.UsageException("the object-store data plane needs --scheduler ray");
    }
    if (o.dataPlane == null) {
      o.dataPlane =
          o.scheduler.equals("ray")
              ? DataPlaneKind.defaultForRay()
              : DataPlaneKind.defaultForLocal();
    }
    return o;
  }

  @Override
  public int run(String[] args, PrintStream out, PrintStream err) throws Exception {
    for (String a : args) {
      if (a.equals("-h") || a.equals("--help")) {
        out.println(USAGE);
        return 0;
      }
    }
    Options o = parse(args);
    RayConnection ray = null;
    Scheduler scheduler = null;
    try {
      if (o.scheduler.equals("ray")) {
        RayConnection.Builder connection = RayConnection.builder();
        if (o.rayAddress != null) {
          connection.address(o.rayAddress);
        }
        ray = connection.connect();
        scheduler = RayScheduler.builder().dataPlane(o.dataPlane).build();
      } else {
        scheduler =
            LocalScheduler.builder()
                .devices(DeviceType.GPU, deviceCount(RuntimeKind.CUDA))
                .devices(DeviceType.NPU, deviceCount(RuntimeKind.ASCEND))
                .build();
      }
      return runSteps(o, scheduler, out, err);
    } finally {
      if (scheduler != null) {
        scheduler.close();
      }
      if (ray != null) {
        ray.close();
      }
    }
  }

  private static int deviceCount(RuntimeKind kind) {
    return DeviceRuntimes.find(kind).map(r -> r.deviceCount()).orElse(0);
  }

  private int runSteps(Options o, Scheduler scheduler, PrintStream out, PrintStream err) {
    SchedulingSpec.Builder spec = SchedulingSpec.builder().cpu(0.5);
    if (o.device != DeviceType.CPU) {
      spec.devices(1, o.device);
    }
    out.printf(
        "rtensor demo: %d rollout -> %d train workers, %s scheduler, %s data plane, %s,"
            + " batch %d x %d%s, %d steps%n",
        o.rollout,
        o.train,
        o.scheduler,
        o.dataPlane == DataPlaneKind.FLIGHT ? "flight" : "object-store",
        o.device == DeviceType.CPU ? "cpu" : o.device.name().toLowerCase(),
        o.batch,
        o.seq,
        o.hidden > 0 ? " (hidden " + o.hidden + ")" : "",
        o.steps);
    long setup = System.nanoTime();
    List<Worker> rollout =
        scheduler.createWorkers(
            Job.builder("rollout").replicas(o.rollout).task(spec.build()).build());
    List<Worker> train =
        scheduler.createWorkers(Job.builder("actor").replicas(o.train).task(spec.build()).build());
    for (Worker w : rollout) {
      scheduler.createEngine(w.id(), DemoRolloutEngine.class.getName(), "rollout");
    }
    for (Worker w : train) {
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
    List<Worker> everyone = new ArrayList<>(rollout);
    everyone.addAll(train);
    List<MemorySample> samples = new ArrayList<>();
    for (int step = 1; step <= o.steps; step++) {
      long t0 = System.nanoTime();
      List<CompletableFuture<Object>> generated = new ArrayList<>();
      for (Worker w : rollout) {
        generated.add(
            scheduler.callEngineAsync(
                w.id(), "generate", "rollout", options, step, o.batch, o.seq, o.hidden, o.train));
      }
      List<List<?>> pieces = new ArrayList<>();
      List<List<?>> reports = new ArrayList<>();
      for (CompletableFuture<Object> f : generated) {
        Map<?, ?> result = (Map<?, ?>) f.join();
        pieces.add((List<?>) result.get("pieces"));
        reports.add((List<?>) result.get("reports"));
      }
      long t1 = System.nanoTime();
      List<CompletableFuture<Object>> trained = new ArrayList<>();
      for (int j = 0; j < train.size(); j++) {
        List<Object> mine = new ArrayList<>();
        for (List<?> fromRollout : pieces) {
          RTensor handle = (RTensor) fromRollout.get(j);
          mine.add(handle);
          shards++;
          bytes += handle.byteSize();
        }
        trained.add(
            scheduler.callEngineAsync(train.get(j).id(), "trainStep", "train", options, mine));
      }
      boolean ok = true;
      for (int j = 0; j < trained.size(); j++) {
        List<?> got = (List<?>) trained.get(j).join();
        for (int k = 0; k < rollout.size(); k++) {
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
      if (sampleAt(step, o.steps)) {
        samples.add(MemorySample.read(step, scheduler, everyone));
      }
      progress(err, step, o.steps, verified);
    }
    err.println();

    out.println();
    out.printf("  %-34s %8s %14s %10s %10s%n", "hop", "shards", "bytes", "time s", "GB/s");
    out.printf(
        "  %-34s %8s %14s %10.2f %10s%n",
        "generate (rollout workers)", "-", "-", generateNanos / 1e9, "-");
    out.printf(
        "  %-34s %8d %14d %10.2f %10.2f%n",
        "rollout -> train (fetch + reduce)",
        shards,
        bytes,
        trainNanos / 1e9,
        bytes / (trainNanos / 1e9) / 1e9);
    out.printf(
        "  %-34s %8d %14s %10.2f %10s%n",
        "clear (stores and caches)", shards, "-", clearNanos / 1e9, "-");
    out.println();
    boolean drained = printMemory(out, heapBefore, samples);
    boolean all = verified == o.steps && drained;
    out.println(
        all
            ? "verified"
            : verified != o.steps
                ? "NOT verified: " + (o.steps - verified) + " step(s) differ"
                : "NOT verified: shards or Arrow memory left behind after a clear");
    return all ? 0 : 1;
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

  private static String value(String[] args, int i, String option) throws Main.UsageException {
    if (i >= args.length) {
      throw new Main.UsageException(option + " needs a value");
    }
    return args[i];
  }

  private static int positive(String[] args, int i, String option) throws Main.UsageException {
    int v = nonNegative(args, i, option);
    if (v == 0) {
      throw new Main.UsageException(option + " must be > 0");
    }
    return v;
  }

  private static int nonNegative(String[] args, int i, String option) throws Main.UsageException {
    String text = value(args, i, option);
    try {
      int v = Integer.parseInt(text);
      if (v < 0) {
        throw new Main.UsageException(option + " must be >= 0, got " + text);
      }
      return v;
    } catch (NumberFormatException e) {
      throw new Main.UsageException(option + " needs a number, got " + text);
    }
  }
}

package io.rtensor.cli;

import io.rtensor.cli.demo.DemoRolloutEngine;
import io.rtensor.cli.demo.DemoTrainEngine;
import io.rtensor.device.DeviceRuntime;
import io.rtensor.device.DeviceRuntimes;
import io.rtensor.device.RuntimeKind;
import io.rtensor.device.RuntimeUnavailableException;
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
import java.util.Locale;
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
 * reduction against what the rollout side reported, then clears the shards. With {@code --device
 * cuda|npu} each worker holds a device: the rollout workers keep the hidden states in device memory
 * and return them as device tensors (stored with one device-to-host copy), and the training workers
 * receive them on their own devices (one host-to-device copy); both copies get rows of their own.
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
      description = {
        "device of each worker (default ${DEFAULT-VALUE}). With cuda or npu every worker takes one;"
            + " the rollout workers keep the hidden states on theirs and return them as device"
            + " tensors, the training workers receive them on theirs, and the table adds the D2H"
            + " and H2D copies. Needs --hidden > 0 and the runtime (libcuda.so.1, libascendcl.so;"
            + " RTENSOR_CUDA_LIBRARY / RTENSOR_ACL_LIBRARY name another file)"
      },
      defaultValue = "cpu")
  private DeviceType device;

  @Option(
      names = "--keep-on-device",
      description = {
        "with --device cuda on the Flight plane: the rollout workers keep the hidden states on their"
            + " GPUs (@KeepOnDevice) and the training workers copy them device to device by CUDA"
            + " IPC, no host memory touched; the table adds that D2D hop"
      })
  private boolean keepOnDevice;

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

  /**
   * The environment variable the project's fake device runtimes read how many devices to show from
   * (tests, machines without devices); passed on to the workers with the runtime's library.
   */
  static final String FAKE_DEVICE_COUNT = "RTENSOR_FAKE_DEVICE_COUNT";

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
    if (onDevice() && hidden == 0) {
      throw new ParameterException(
          spec.commandLine(),
          "--device "
              + deviceName()
              + " moves the hidden states between devices: give --hidden H > 0");
    }
    if (dataPlane == null) {
      dataPlane =
          schedulerName.equals("ray")
              ? DataPlaneKind.defaultForRay()
              : DataPlaneKind.defaultForLocal();
    }
    if (keepOnDevice && (device != DeviceType.GPU || dataPlane != DataPlaneKind.FLIGHT)) {
      throw new ParameterException(
          spec.commandLine(),
          "--keep-on-device hands the hidden states over by CUDA IPC: it needs --device cuda and"
              + " the Flight data plane (on Ray: --data-plane flight)");
    }
  }

  private boolean onDevice() {
    return device != DeviceType.CPU;
  }

  /** The device as the option names it: cpu, cuda or npu. */
  private String deviceName() {
    return switch (device) {
      case GPU -> "cuda";
      case NPU -> "npu";
      default -> "cpu";
    };
  }

  /** The runtime the workers' devices need. */
  private RuntimeKind runtimeKind() {
    return device == DeviceType.NPU ? RuntimeKind.ASCEND : RuntimeKind.CUDA;
  }

  /**
   * On the local scheduler: the device runtime loads here and shows a device for every worker, or a
   * usage error that says what is missing (before any worker starts).
   */
  private void requireLocalDevices() {
    RuntimeKind kind = runtimeKind();
    DeviceRuntime runtime;
    try {
      runtime = DeviceRuntimes.get(kind);
    } catch (RuntimeUnavailableException e) {
      throw new ParameterException(
          spec.commandLine(),
          "--device "
              + deviceName()
              + " needs the "
              + kind
              + " runtime, which does not load here ("
              + e.errorName()
              + ": "
              + e.errorText()
              + "); install it, or set "
              + kind.libraryEnvironment()
              + " to its library file");
    }
    int needed = rollout + train;
    if (runtime.deviceCount() < needed) {
      throw new ParameterException(
          spec.commandLine(),
          "--device "
              + deviceName()
              + ": "
              + rollout
              + " rollout and "
              + train
              + " training workers take one "
              + kind
              + " device each, and this machine shows "
              + runtime.deviceCount()
              + " (lower --rollout / --train)");
    }
  }

  /**
   * What a worker needs to load the same device runtime as this process: the runtime's library
   * where a system property or variable names it here, and the fake runtimes' device count where it
   * is set. Ray's workers do not inherit this process's environment, nor the local scheduler's its
   * system properties.
   */
  private Map<String, String> runtimeEnv() {
    Map<String, String> env = new LinkedHashMap<>();
    RuntimeKind kind = runtimeKind();
    String property = System.getProperty(kind.libraryProperty());
    String variable = System.getenv(kind.libraryEnvironment());
    if ((property != null && !property.isBlank()) || (variable != null && !variable.isBlank())) {
      env.put(kind.libraryEnvironment(), kind.libraryPath());
    }
    String fakeCount = System.getenv(FAKE_DEVICE_COUNT);
    if (fakeCount != null && !fakeCount.isBlank()) {
      env.put(FAKE_DEVICE_COUNT, fakeCount);
    }
    return env;
  }

  @Override
  public Integer call() throws BadInputException {
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
        if (onDevice()) {
          requireLocalDevices();
        }
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

  private int runSteps(Scheduler scheduler, PrintStream out, PrintStream err)
      throws BadInputException {
    SchedulingSpec.Builder task = SchedulingSpec.builder().cpu(0.5);
    if (onDevice()) {
      task.devices(1, device).env(runtimeEnv());
    }
    out.printf(
        "rtensor demo: %d rollout -> %d train workers, %s scheduler, %s data plane, %s,"
            + " batch %d x %d%s, %d steps%n",
        rollout,
        train,
        schedulerName,
        dataPlane == DataPlaneKind.FLIGHT ? "flight" : "object-store",
        onDevice() ? deviceName() + " devices" : "cpu",
        batch,
        seq,
        hidden > 0 ? " (hidden " + hidden + (onDevice() ? " on the devices)" : ")") : "",
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
    if (onDevice()) {
      requireWorkerDevices(scheduler, rolloutWorkers, "rollout");
      requireWorkerDevices(scheduler, trainWorkers, "train");
    }
    out.printf("workers up in %.1f s%n", (System.nanoTime() - setup) / 1e9);

    CallOptions options = CallOptions.DEFAULT.withTimeout(Duration.ofMinutes(10)).withMaxRetries(0);
    List<Worker> everyone = new ArrayList<>(rolloutWorkers);
    everyone.addAll(trainWorkers);
    // The workers count their device copies from their start: read where the steps begin.
    MemorySample copiesBefore = onDevice() ? MemorySample.read(0, scheduler, everyone) : null;
    long heapBefore = WorkerMemory.liveHeapBytes();
    long shards = 0;
    long bytes = 0;
    long generateNanos = 0;
    long trainNanos = 0;
    long clearNanos = 0;
    int verified = 0;
    List<MemorySample> samples = new ArrayList<>();
    String generateMethod =
        keepOnDevice ? "generateKeptOnDevice" : onDevice() ? "generateOnDevice" : "generate";
    for (int step = 1; step <= steps; step++) {
      long t0 = System.nanoTime();
      List<CompletableFuture<Object>> generated = new ArrayList<>();
      for (Worker w : rolloutWorkers) {
        generated.add(
            scheduler.callEngineAsync(
                w.id(), generateMethod, "rollout", options, step, batch, seq, hidden, train));
      }
      // Per rollout worker: a batch handle per training rank, the hidden states' device-tensor
      // handle per rank (with --device), and what each rank's share must reduce to.
      List<List<?>> pieces = new ArrayList<>();
      List<List<?>> hiddenStates = new ArrayList<>();
      List<List<?>> reports = new ArrayList<>();
      for (CompletableFuture<Object> f : generated) {
        // Each call ends by its own timeout (options), so these joins do too.
        Map<?, ?> result = (Map<?, ?>) f.join();
        pieces.add((List<?>) result.get("pieces"));
        reports.add((List<?>) result.get("reports"));
        if (onDevice()) {
          hiddenStates.add((List<?>) result.get("hidden"));
        }
      }
      long t1 = System.nanoTime();
      List<TrainCall> calls = new ArrayList<>();
      for (int j = 0; j < trainWorkers.size(); j++) {
        String trainer = trainWorkers.get(j).id();
        if (onDevice()) {
          // trainPiece(TensorBatch, DeviceTensor): the worker receives the hidden states on its
          // device, so one call per piece.
          for (int k = 0; k < rolloutWorkers.size(); k++) {
            RTensor piece = (RTensor) pieces.get(k).get(j);
            RTensor states = (RTensor) hiddenStates.get(k).get(j);
            shards += 2;
            bytes += piece.byteSize() + states.byteSize();
            calls.add(
                new TrainCall(
                    j,
                    List.of(k),
                    scheduler.callEngineAsync(
                        trainer, "trainPiece", "train", options, piece, states)));
          }
        } else {
          List<Object> mine = new ArrayList<>();
          List<Integer> from = new ArrayList<>();
          for (int k = 0; k < rolloutWorkers.size(); k++) {
            RTensor handle = (RTensor) pieces.get(k).get(j);
            mine.add(handle);
            from.add(k);
            shards++;
            bytes += handle.byteSize();
          }
          calls.add(
              new TrainCall(
                  j,
                  from,
                  scheduler.callEngineAsync(trainer, "trainStep", "train", options, mine)));
        }
      }
      boolean ok = true;
      for (TrainCall call : calls) {
        Object result = call.result().join();
        List<?> got = onDevice() ? List.of(result) : (List<?>) result;
        for (int i = 0; i < call.rollouts().size(); i++) {
          int k = call.rollouts().get(i);
          Object expected = reports.get(k).get(call.trainer());
          if (!expected.equals(got.get(i))) {
            ok = false;
            err.printf(
                "%nstep %d: train/%d piece from rollout/%d differs:%n  sent %s%n  got  %s%n",
                step, call.trainer(), k, expected, got.get(i));
          }
        }
      }
      long t2 = System.nanoTime();
      scheduler.clearShards(List.of(pieces, hiddenStates));
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
    MemorySample last = samples.get(samples.size() - 1);
    long deviceShards = (long) steps * rollout * train;
    if (onDevice()) {
      copyRow(
          out,
          dataPlane == DataPlaneKind.FLIGHT
              ? "D2H device -> page-locked store"
              : "D2H device -> object store",
          deviceShards,
          last.copiedToHostBytes() - copiesBefore.copiedToHostBytes(),
          last.copiedToHostNanos() - copiesBefore.copiedToHostNanos());
    }
    out.printf(
        "  %-34s %8d %14d %10.2f %10.1f %10s%n",
        "rollout -> train (fetch + reduce)",
        shards,
        bytes,
        trainNanos / 1e9,
        trainNanos / 1e6 / steps,
        rate(bytes, trainNanos));
    if (onDevice()) {
      copyRow(
          out,
          "H2D fetched -> trainer's device",
          deviceShards,
          last.copiedToDeviceBytes() - copiesBefore.copiedToDeviceBytes(),
          last.copiedToDeviceNanos() - copiesBefore.copiedToDeviceNanos());
    }
    if (keepOnDevice) {
      copyRow(
          out,
          "D2D kept -> trainer's device (IPC)",
          deviceShards,
          last.copiedOnDeviceBytes() - copiesBefore.copiedOnDeviceBytes(),
          last.copiedOnDeviceNanos() - copiesBefore.copiedOnDeviceNanos());
    }
    out.printf(
        "  %-34s %8d %14s %10.2f %10.1f %10s%n",
        "clear (stores and caches)", shards, "-", clearNanos / 1e9, clearNanos / 1e6 / steps, "-");
    if (onDevice()) {
      out.println(
          "  "
              + (keepOnDevice ? "D2H, H2D, D2D" : "D2H, H2D")
              + ": the copies' own time in the workers, summed over them (within the hop"
              + " above)");
    }
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

  /**
   * Every worker opened a device of the runtime asked for, or one line saying which did not (a
   * worker whose runtime does not load runs on the host alone).
   */
  private void requireWorkerDevices(Scheduler scheduler, List<Worker> workers, String engine)
      throws BadInputException {
    for (Worker w : workers) {
      String kind = (String) scheduler.callEngine(w.id(), "deviceKind", engine, null);
      if (!kind.equals(runtimeKind().name())) {
        throw new BadInputException(
            "--device "
                + deviceName()
                + ": "
                + w.id()
                + " was given a device but opened "
                + (kind.isEmpty() ? "none" : "a " + kind + " one")
                + ": no "
                + runtimeKind()
                + " runtime loads in its process (its log says why; "
                + runtimeKind().libraryEnvironment()
                + " names the library file)");
      }
    }
  }

  /**
   * One training call of a step: its trainer's index, and the rollout workers its pieces are of.
   */
  private record TrainCall(int trainer, List<Integer> rollouts, CompletableFuture<Object> result) {}

  /** A device copy's row: shards (device tensors), bytes, time, time per step and rate. */
  private void copyRow(PrintStream out, String hop, long shards, long bytes, long nanos) {
    out.printf(
        "  %-34s %8d %14d %10.3f %10.2f %10s%n",
        hop, shards, bytes, nanos / 1e9, nanos / 1e6 / steps, rate(bytes, nanos));
  }

  /** GB/s to three significant digits: a hop that moved bytes never reads 0.00. */
  static String rate(long bytes, long nanos) {
    if (bytes == 0 || nanos <= 0) {
      return "-";
    }
    return String.format(Locale.ROOT, "%.3g", bytes / (nanos / 1e9) / 1e9);
  }

  /** Memory is read after step 1 and at each quarter of the run (a read costs a collection). */
  private static boolean sampleAt(int step, int steps) {
    return step == 1 || step == steps || (steps >= 4 && step % Math.max(1, steps / 4) == 0);
  }

  /**
   * The controller's heap and the sum over the workers after one step's clear, with the workers'
   * device copies so far.
   */
  private record MemorySample(
      int step,
      long controllerHeap,
      long workerHeap,
      long workerArrow,
      long storedShards,
      long storedBytes,
      long cachedShards,
      long cachedBytes,
      long copiedToHostBytes,
      long copiedToHostNanos,
      long copiedToDeviceBytes,
      long copiedToDeviceNanos,
      long copiedOnDeviceBytes,
      long copiedOnDeviceNanos) {
    static MemorySample read(int step, Scheduler scheduler, List<Worker> workers) {
      long heap = 0;
      long arrow = 0;
      long stored = 0;
      long storedBytes = 0;
      long cached = 0;
      long cachedBytes = 0;
      long toHostBytes = 0;
      long toHostNanos = 0;
      long toDeviceBytes = 0;
      long toDeviceNanos = 0;
      long onDeviceBytes = 0;
      long onDeviceNanos = 0;
      for (Worker w : workers) {
        WorkerMemory m = scheduler.workerMemory(w.id());
        heap += m.heapUsedBytes();
        arrow += m.arrowBytes();
        stored += m.storedShards();
        storedBytes += m.storedBytes();
        cached += m.cachedShards();
        cachedBytes += m.cachedBytes();
        toHostBytes += m.copiedToHostBytes();
        toHostNanos += m.copiedToHostNanos();
        toDeviceBytes += m.copiedToDeviceBytes();
        toDeviceNanos += m.copiedToDeviceNanos();
        onDeviceBytes += m.copiedOnDeviceBytes();
        onDeviceNanos += m.copiedOnDeviceNanos();
      }
      return new MemorySample(
          step,
          WorkerMemory.liveHeapBytes(),
          heap,
          arrow,
          stored,
          storedBytes,
          cached,
          cachedBytes,
          toHostBytes,
          toHostNanos,
          toDeviceBytes,
          toDeviceNanos,
          onDeviceBytes,
          onDeviceNanos);
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

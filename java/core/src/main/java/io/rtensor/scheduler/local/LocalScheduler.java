package io.rtensor.scheduler.local;

import io.rtensor.auth.SessionTls;
import io.rtensor.device.DeviceRuntime;
import io.rtensor.device.DeviceRuntimes;
import io.rtensor.device.RuntimeKind;
import io.rtensor.host.ControlRequest;
import io.rtensor.runtime.DeviceIds;
import io.rtensor.runtime.JvmFlags;
import io.rtensor.runtime.Ports;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.scheduler.DeviceType;
import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.Scheduler;
import io.rtensor.scheduler.Worker;
import io.rtensor.scheduler.WorkerCreationException;
import io.rtensor.scheduler.WorkerFailedException;
import io.rtensor.scheduler.WorkerTimeoutException;
import io.rtensor.scheduler.core.ControlFailure;
import io.rtensor.scheduler.core.ControllerData;
import io.rtensor.scheduler.core.Deadline;
import io.rtensor.scheduler.core.SchedulerCore;
import io.rtensor.scheduler.core.SchedulerSettings;
import io.rtensor.scheduler.local.internal.ControlClient;
import io.rtensor.transport.Remotizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * The embedded default {@link Scheduler}: each worker is a child JVM on this machine running {@link
 * LocalWorkerMain}, controlled over Arrow Flight actions guarded by a per-session secret.
 *
 * <p>The rules of the contract live in {@link SchedulerCore}; this backend starts processes, sends
 * control messages over their control endpoints and stops them. Devices are assigned per worker
 * ({@code CUDA_VISIBLE_DEVICES} / {@code ASCEND_RT_VISIBLE_DEVICES}, and {@code --devices} for the
 * engines' {@code EngineContext}), exclusively unless forked; a worker with no device gets an empty
 * list. Each worker writes one log file, whose last lines are quoted when it fails. Workers exit
 * when this JVM does (their standard input closes).
 */
public final class LocalScheduler
    extends SchedulerCore<LocalScheduler.Proc, LocalScheduler.Devices> {
  private final SessionSecret secret = SessionSecret.generate();
  private final SessionTls tls;
  private final DeviceTable devices;
  private final Path logDir;
  private final boolean removeLogsOnClose;
  private final List<String> command;
  private final int basePort;
  private final ControllerData controller;

  /**
   * One worker process. {@code client} is null until the worker reported its ports; {@code
   * ownsDevices} is false for forks, whose devices belong to their target.
   */
  record Proc(
      Process process,
      ControlClient client,
      List<Integer> ports,
      Path log,
      Path readyFile,
      DeviceType deviceType,
      List<Integer> deviceIds) {}

  /** A role's devices (per rank) and the address its rank 0 listens on. */
  record Devices(DeviceType type, List<List<Integer>> perRank, String master) {}

  private LocalScheduler(Builder b) {
    super("LocalScheduler " + UUID.randomUUID().toString().substring(0, 8), b.timeoutSettings());
    Map<DeviceType, Integer> counts = new EnumMap<>(DeviceType.class);
    for (DeviceType type : List.of(DeviceType.GPU, DeviceType.NPU)) {
      Integer count = b.deviceCounts.get(type);
      counts.put(type, count != null ? count : probe(type));
    }
    this.devices = new DeviceTable(counts);
    // Every worker listens on loopback: AUTO leaves the session plaintext.
    this.tls = b.flightTlsMode().enabledFor("127.0.0.1") ? SessionTls.generate() : null;
    this.controller =
        ControllerData.flight(
            secret.value(), tls, "127.0.0.1", b.controllerStoreCap(), b.controllerCacheCap());
    this.basePort = b.basePort;
    try {
      this.logDir =
          b.logDir != null
              ? Files.createDirectories(b.logDir)
              : Files.createTempDirectory(
                  Files.createDirectories(defaultLogRoot()), "local-" + LocalDate.now() + "-");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create the worker log directory", e);
    }
    this.removeLogsOnClose = b.logDir == null && !b.keepLogs;
    List<String> cmd = new ArrayList<>();
    cmd.add(b.javaCommand);
    cmd.addAll(JvmFlags.list());
    cmd.addAll(b.extraJvmArgs);
    cmd.add("-cp");
    cmd.add(b.classPath);
    cmd.add(LocalWorkerMain.class.getName());
    this.command = List.copyOf(cmd);
  }

  /** Devices of a type the native probe finds on this machine (0 when its runtime is absent). */
  private static int probe(DeviceType type) {
    RuntimeKind kind = type == DeviceType.GPU ? RuntimeKind.CUDA : RuntimeKind.ASCEND;
    return DeviceRuntimes.find(kind).map(DeviceRuntime::deviceCount).orElse(0);
  }

  /** A builder; devices from the native probe, logs in a fresh temp directory. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Where a scheduler's worker logs go unless {@link Builder#logDir} says otherwise: {@code
   * rtensor/} under the temp directory ({@code java.io.tmpdir}).
   */
  public static Path defaultLogRoot() {
    return Path.of(System.getProperty("java.io.tmpdir"), "rtensor");
  }

  /** Where the workers' log files are. */
  public Path logDir() {
    return logDir;
  }

  /** The process id of a worker (for tests and operators). */
  public long pid(String workerId) {
    return slot(workerId).handle().process().pid();
  }

  /** The devices a worker was given (indices of this machine's devices). */
  public List<Integer> deviceIds(String workerId) {
    return slot(workerId).handle().deviceIds();
  }

  /**
   * One ping over a worker's control endpoint, bypassing the scheduler core: the raw transport's
   * round trip, which benchmarks compare {@code callEngine} with.
   */
  public Object rawControlPing(String workerId, Duration timeout) throws ControlFailure {
    return send(slot(workerId).handle(), new ControlRequest.Ping(), timeout);
  }

  @Override
  public int nGpusPerNode() {
    return devices.count(DeviceType.GPU);
  }

  @Override
  public Remotizer dataPlane() {
    return controller.remotizer();
  }

  // ---------------------------------------------------------------- the backend

  @Override
  protected Devices reserve(Job job, Deadline deadline) {
    DeviceType type = job.spec(0).deviceType();
    List<Integer> perRank = new ArrayList<>();
    for (int i = 0; i < job.replicas(); i++) {
      perRank.add(job.spec(i).devices());
    }
    List<List<Integer>> assigned = devices.reserve(job.role(), type, perRank);
    return new Devices(type, assigned, "127.0.0.1:" + Ports.free(1).get(0));
  }

  @Override
  protected String masterAddress(Devices reservation) {
    return reservation.master();
  }

  @Override
  protected Proc launch(Job job, int rank, Devices reservation, Map<String, String> env) {
    return start(
        Worker.id(job.role(), rank), env, reservation.type(), reservation.perRank().get(rank));
  }

  @Override
  protected Proc launchFork(Job job, int rank, Proc target, Map<String, String> env) {
    return start(Worker.id(job.role(), rank), env, target.deviceType(), target.deviceIds());
  }

  private Proc start(
      String workerId, Map<String, String> env, DeviceType type, List<Integer> deviceIds) {
    String fileStem = workerId.replace('/', '-');
    Path log = logDir.resolve(fileStem + ".log");
    Path ready = logDir.resolve(fileStem + ".ready");
    try {
      Files.deleteIfExists(ready);
    } catch (IOException e) {
      throw new WorkerCreationException(
          Worker.roleOf(workerId), "cannot reset " + ready + ": " + e, e);
    }
    String ids = DeviceIds.format(deviceIds);
    List<String> cmd = new ArrayList<>(command);
    cmd.addAll(List.of("--id", workerId, "--ready-file", ready.toString(), "--devices", ids));
    if (basePort > 0) {
      cmd.addAll(List.of("--port", Integer.toString(basePort)));
    }
    ProcessBuilder builder = new ProcessBuilder(cmd);
    builder.environment().putAll(env);
    builder.environment().put(SessionSecret.ENV, secret.value());
    if (tls != null) {
      builder.environment().put(SessionTls.ENV, tls.encode()); // as private as the secret
    } else {
      builder.environment().remove(SessionTls.ENV);
    }
    for (DeviceType t : DeviceType.values()) {
      if (t.visibleDevicesVariable() != null) {
        builder.environment().put(t.visibleDevicesVariable(), t == type ? ids : "");
      }
    }
    builder.redirectErrorStream(true);
    builder.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    builder.redirectInput(ProcessBuilder.Redirect.PIPE);
    try {
      return new Proc(builder.start(), null, List.of(), log, ready, type, deviceIds);
    } catch (IOException e) {
      throw new WorkerCreationException(
          Worker.roleOf(workerId), "cannot start " + cmd.get(0) + ": " + e, e);
    }
  }

  /** Waits for the ready file the worker writes once it serves, and connects to its ports. */
  @Override
  protected Proc awaitStarted(Proc proc, String workerId, Deadline deadline) {
    while (!Files.exists(proc.readyFile())) {
      if (!proc.process().isAlive()) {
        throw new WorkerFailedException(
            workerId,
            "createWorkers",
            1,
            "exited during start-up with code "
                + proc.process().exitValue()
                + "; "
                + WorkerFiles.logTail(proc.log()),
            null);
      }
      if (deadline.passed()) {
        throw new WorkerTimeoutException(
            workerId,
            "createWorkers",
            1,
            timeouts().startup(),
            "not ready; " + WorkerFiles.logTail(proc.log()));
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new WorkerCreationException(Worker.roleOf(workerId), "interrupted while starting", e);
      }
    }
    List<Integer> ports =
        List.of(
            WorkerFiles.readPort(proc.readyFile(), "control="),
            WorkerFiles.readPort(proc.readyFile(), "data="));
    ControlClient client =
        new ControlClient(controller.allocator(), "127.0.0.1", ports.get(0), secret);
    return new Proc(
        proc.process(),
        client,
        ports,
        proc.log(),
        proc.readyFile(),
        proc.deviceType(),
        proc.deviceIds());
  }

  @Override
  protected List<Integer> workerPorts(Proc proc) {
    return proc.ports();
  }

  @Override
  protected <T> T send(Proc proc, ControlRequest<T> request, Duration timeout)
      throws ControlFailure {
    try {
      return proc.client().send(request, timeout);
    } catch (ControlFailure f) {
      // A dead process explains any failure better than the transport can.
      if (WorkerFiles.exited(proc.process())) {
        throw new ControlFailure(
            ControlFailure.Kind.DEAD,
            "the process exited with code "
                + proc.process().exitValue()
                + "; "
                + WorkerFiles.logTail(proc.log()),
            f);
      }
      throw f;
    }
  }

  /** Waits for a voluntary exit (when one was asked for), then SIGTERM, then SIGKILL. */
  @Override
  protected void stop(Proc proc, boolean exitRequested) {
    Process process = proc.process();
    try {
      if (!process.waitFor(exitRequested ? 5_000 : 0, TimeUnit.MILLISECONDS)) {
        process.destroy();
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
          process.destroyForcibly();
          process.waitFor(10, TimeUnit.SECONDS);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
    }
    closeClient(proc);
  }

  @Override
  protected void kill(Proc proc) {
    proc.process().destroyForcibly();
    try {
      proc.process().waitFor(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    closeClient(proc);
  }

  private static void closeClient(Proc proc) {
    if (proc.client() != null) {
      proc.client().close();
    }
  }

  @Override
  protected void release(Devices reservation) {
    devices.release(reservation.type(), reservation.perRank());
  }

  @Override
  protected void closeBackend() {
    controller.close();
    if (removeLogsOnClose) {
      WorkerFiles.removeTree(logDir);
    }
  }

  /** Builder for {@link LocalScheduler}. */
  public static final class Builder extends SchedulerSettings<Builder> {
    private final Map<DeviceType, Integer> deviceCounts = new EnumMap<>(DeviceType.class);
    private Path logDir;
    private boolean keepLogs;
    private String javaCommand = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    private String classPath = System.getProperty("java.class.path");
    private final List<String> extraJvmArgs = new ArrayList<>();
    private int basePort;

    private Builder() {
      super(Duration.ofSeconds(60), Duration.ofSeconds(20));
    }

    /** The number of devices of a type offered to workers (default: what the probe finds). */
    public Builder devices(DeviceType type, int count) {
      if (type == DeviceType.CPU || count < 0) {
        throw new IllegalArgumentException("devices are GPU or NPU, count >= 0");
      }
      deviceCounts.put(type, count);
      return this;
    }

    /**
     * Keep the worker logs after {@link #close()} (default: a scheduler removes the log directory
     * it created; a directory given with {@link #logDir} is always kept).
     */
    public Builder keepLogs(boolean keep) {
      this.keepLogs = keep;
      return this;
    }

    /** Where worker logs go (default: a fresh directory under {@link #defaultLogRoot()}). */
    public Builder logDir(Path dir) {
      this.logDir = Objects.requireNonNull(dir, "dir");
      return this;
    }

    /** The class path of worker JVMs (default: this JVM's). */
    public Builder classPath(String classPath) {
      if (classPath == null || classPath.isBlank()) {
        throw new IllegalArgumentException(
            "a worker class path is needed, got '" + classPath + "'");
      }
      this.classPath = classPath;
      return this;
    }

    /** An extra worker JVM flag (after the project's JVM flags), e.g. {@code -Xmx2g}. */
    public Builder addJvmArg(String arg) {
      extraJvmArgs.add(Objects.requireNonNull(arg, "arg"));
      return this;
    }

    /** The first control port workers try (they step up when one is taken); 0: any free port. */
    public Builder basePort(int port) {
      if (port < 0 || port > 65535) {
        throw new IllegalArgumentException("a base port is in [0, 65535], got " + port);
      }
      this.basePort = port;
      return this;
    }

    public LocalScheduler build() {
      return new LocalScheduler(this);
    }
  }
}

package io.rtensor.scheduler.local;

import io.rtensor.device.DeviceRuntime;
import io.rtensor.device.DeviceRuntimes;
import io.rtensor.device.RuntimeKind;
import io.rtensor.host.CallResult;
import io.rtensor.host.WorkerMemory;
import io.rtensor.runtime.JvmFlags;
import io.rtensor.runtime.Ports;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.scheduler.CallOptions;
import io.rtensor.scheduler.DeviceType;
import io.rtensor.scheduler.EngineCallException;
import io.rtensor.scheduler.EngineCreationException;
import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.JobRules;
import io.rtensor.scheduler.Scheduler;
import io.rtensor.scheduler.SchedulerException;
import io.rtensor.scheduler.SchedulingSpec;
import io.rtensor.scheduler.SchedulingStrategy;
import io.rtensor.scheduler.Worker;
import io.rtensor.scheduler.WorkerCreationException;
import io.rtensor.scheduler.WorkerFailedException;
import io.rtensor.scheduler.WorkerNotFoundException;
import io.rtensor.scheduler.WorkerTimeoutException;
import io.rtensor.scheduler.local.internal.ControlClient;
import io.rtensor.scheduler.local.internal.ControlProtocol;
import io.rtensor.transport.FetchCache;
import io.rtensor.transport.FlightDataPlane;
import io.rtensor.transport.FlightShardServer;
import io.rtensor.transport.Remotizer;
import java.io.IOException;
import java.io.NotSerializableException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.arrow.flight.FlightRuntimeException;
import org.apache.arrow.flight.FlightStatusCode;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * The embedded default {@link Scheduler}: each worker is a child JVM on this machine running {@link
 * LocalWorkerMain}, controlled over Arrow Flight actions guarded by a per-session secret.
 *
 * <p>Devices are assigned per worker through {@code CUDA_VISIBLE_DEVICES} / {@code
 * ASCEND_RT_VISIBLE_DEVICES}, exclusively unless colocated; a worker with no device gets an empty
 * list. Each worker writes one log file, whose last lines are quoted when it fails. Workers exit
 * when this JVM does (their standard input closes), and {@link #close()} tears everything down in
 * phases.
 */
public final class LocalScheduler implements Scheduler {
  /** Lines of a worker's log quoted in errors. */
  static final int LOG_TAIL_LINES = 50;

  private final String id = UUID.randomUUID().toString().substring(0, 8);
  private final SessionSecret secret = SessionSecret.generate();
  private final Map<DeviceType, boolean[]> devices = new EnumMap<>(DeviceType.class);
  private final Path logDir;
  private final Duration startupTimeout;
  private final Duration destroyTimeout;
  private final List<String> command;
  private final int basePort;
  private final BufferAllocator allocator = new RootAllocator();
  private final FlightShardServer controllerServer;
  private final FlightDataPlane controllerPlane;
  private final FetchCache controllerCache;
  private final Remotizer remotizer;
  private final Map<String, RoleState> roles = Collections.synchronizedMap(new LinkedHashMap<>());
  private final ExecutorService calls;
  private final Thread shutdownHook;
  private volatile boolean closed;

  /** One worker process (shared by roles that colocate with it). */
  private static final class Proc {
    final Process process;
    final ControlClient client;
    final Path log;
    final List<Integer> deviceIds;
    final DeviceType deviceType;
    final boolean ownsDevices;
    final List<Integer> ports;

    Proc(
        Process process,
        ControlClient client,
        List<Integer> ports,
        Path log,
        List<Integer> deviceIds,
        DeviceType deviceType,
        boolean ownsDevices) {
      this.process = process;
      this.client = client;
      this.ports = ports;
      this.log = log;
      this.deviceIds = deviceIds;
      this.deviceType = deviceType;
      this.ownsDevices = ownsDevices;
    }
  }

  private record LocalWorker(Worker worker, Proc proc) {}

  private record RoleState(
      Job job, List<LocalWorker> workers, boolean ownsProcesses, String targetRole) {}

  private LocalScheduler(Builder b) {
    for (DeviceType type : List.of(DeviceType.GPU, DeviceType.NPU)) {
      Integer count = b.deviceCounts.get(type);
      devices.put(type, new boolean[count != null ? count : probe(type)]);
    }
    // The controller's own shard store: what it remotizes is served from here to the workers.
    try {
      this.controllerServer =
          FlightShardServer.builder(allocator, secret.value())
              .host("127.0.0.1")
              .capBytes(b.controllerStoreBytes)
              .start();
    } catch (IOException e) {
      allocator.close();
      throw new UncheckedIOException("cannot start the controller's Flight shard store", e);
    }
    this.controllerPlane =
        FlightDataPlane.builder(allocator, secret.value()).localServer(controllerServer).build();
    this.controllerCache = new FetchCache(b.controllerCacheBytes);
    this.remotizer = new Remotizer(controllerPlane, controllerCache, allocator);
    this.startupTimeout = b.startupTimeout;
    this.destroyTimeout = b.destroyTimeout;
    this.basePort = b.basePort;
    try {
      this.logDir =
          b.logDir != null
              ? Files.createDirectories(b.logDir)
              : Files.createTempDirectory("rtensor-local-" + id + "-");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create the worker log directory", e);
    }
    List<String> cmd = new ArrayList<>();
    cmd.add(b.javaCommand);
    cmd.addAll(JvmFlags.list());
    cmd.addAll(b.extraJvmArgs);
    cmd.add("-cp");
    cmd.add(b.classPath);
    cmd.add(LocalWorkerMain.class.getName());
    this.command = List.copyOf(cmd);
    this.calls =
        Executors.newCachedThreadPool(
            r -> {
              Thread t = new Thread(r, "local-scheduler-" + id + "-call");
              t.setDaemon(true);
              return t;
            });
    this.shutdownHook = new Thread(this::killAll, "local-scheduler-" + id + "-shutdown");
    Runtime.getRuntime().addShutdownHook(shutdownHook);
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

  /** Where the workers' log files are. */
  public Path logDir() {
    return logDir;
  }

  /** The process id of a worker (for tests and operators). */
  public long pid(String workerId) {
    return worker(workerId).proc().process.pid();
  }

  /**
   * The control client of a worker, for measuring the raw transport (benchmarks) or diagnostics.
   * Owned by the scheduler: do not close it.
   */
  public ControlClient controlClient(String workerId) {
    return worker(workerId).proc().client;
  }

  /** The devices a worker was given (indices of this machine's devices). */
  public List<Integer> deviceIds(String workerId) {
    return worker(workerId).proc().deviceIds;
  }

  @Override
  public int nGpusPerNode() {
    return devices.getOrDefault(DeviceType.GPU, new boolean[0]).length;
  }

  @Override
  public List<String> roles() {
    synchronized (roles) {
      return List.copyOf(roles.keySet());
    }
  }

  // ---------------------------------------------------------------- creation

  @Override
  public List<Worker> createWorkers(Job job) {
    ensureOpen();
    JobRules.validate(
        job,
        role -> {
          RoleState s = roles.get(role);
          return s == null ? null : s.workers().size();
        });
    SchedulingStrategy strategy = job.strategy();
    if (strategy.colocated() && !strategy.fork()) {
      return reuse(job);
    }
    if (strategy.colocated()) {
      return fork(job.role(), strategy.targetRole(), job);
    }
    List<List<Integer>> assigned = reserveDevices(job);
    String master = "127.0.0.1:" + Ports.free(1).get(0);
    List<Proc> started = new ArrayList<>();
    try {
      List<Worker> workers = new ArrayList<>();
      List<LocalWorker> locals = new ArrayList<>();
      List<PendingStart> pending = new ArrayList<>();
      for (int i = 0; i < job.replicas(); i++) {
        SchedulingSpec spec = job.spec(i);
        Map<String, String> env =
            JobRules.workerEnv(spec, Worker.id(job.role(), i), i, job.replicas(), master);
        pending.add(
            launch(Worker.id(job.role(), i), env, spec.deviceType(), assigned.get(i), true));
        started.add(pending.get(i).proc);
      }
      long deadline = System.nanoTime() + startupTimeout.toNanos();
      for (int i = 0; i < pending.size(); i++) {
        Proc proc = awaitReady(pending.get(i), deadline);
        started.set(i, proc);
        Worker w = describe(Worker.id(job.role(), i), job.role(), i, proc, job.spec(i).portCount());
        workers.add(w);
        locals.add(new LocalWorker(w, proc));
      }
      roles.put(job.role(), new RoleState(job, List.copyOf(locals), true, null));
      return workers;
    } catch (RuntimeException e) {
      for (Proc p : started) {
        if (p != null) {
          killNow(p);
        }
      }
      releaseDevices(job.spec(0).deviceType(), assigned);
      throw e;
    }
  }

  @Override
  public List<Worker> forkWorkers(String role, String targetRole) {
    ensureOpen();
    RoleState target = state(targetRole);
    Job job =
        Job.builder(role)
            .replicas(target.workers().size())
            .task(target.job().spec(0))
            .strategy(SchedulingStrategy.forkOf(targetRole))
            .build();
    JobRules.validate(
        job,
        r -> {
          RoleState s = roles.get(r);
          return s == null ? null : s.workers().size();
        });
    return fork(role, targetRole, job);
  }

  private List<Worker> reuse(Job job) {
    RoleState target = state(job.strategy().targetRole());
    List<LocalWorker> locals = new ArrayList<>();
    for (int i = 0; i < target.workers().size(); i++) {
      LocalWorker t = target.workers().get(i);
      Worker w =
          new Worker(
              Worker.id(job.role(), i),
              job.role(),
              i,
              t.worker().ip(),
              t.worker().workerPorts(),
              t.worker().enginePorts());
      locals.add(new LocalWorker(w, t.proc()));
    }
    roles.put(
        job.role(), new RoleState(job, List.copyOf(locals), false, job.strategy().targetRole()));
    return locals.stream().map(LocalWorker::worker).toList();
  }

  private List<Worker> fork(String role, String targetRole, Job job) {
    RoleState target = state(targetRole);
    if (target.job().spec(0).devices() > 1) {
      throw new WorkerCreationException(
          role,
          "fork of a multi-device worker is not supported: role '"
              + targetRole
              + "' holds "
              + target.job().spec(0).devices()
              + " devices per worker, a fork shares exactly one");
    }
    List<PendingStart> pending = new ArrayList<>();
    List<LocalWorker> locals = new ArrayList<>();
    try {
      for (int i = 0; i < target.workers().size(); i++) {
        LocalWorker t = target.workers().get(i);
        SchedulingSpec spec = target.job().spec(i);
        Map<String, String> env =
            JobRules.workerEnv(spec, Worker.id(role, i), i, target.workers().size(), null);
        pending.add(
            launch(Worker.id(role, i), env, t.proc().deviceType, t.proc().deviceIds, false));
      }
      long deadline = System.nanoTime() + startupTimeout.toNanos();
      for (int i = 0; i < pending.size(); i++) {
        Proc proc = awaitReady(pending.get(i), deadline);
        locals.add(new LocalWorker(describe(Worker.id(role, i), role, i, proc, 0), proc));
      }
    } catch (RuntimeException e) {
      pending.forEach(p -> killNow(p.proc));
      throw e;
    }
    roles.put(role, new RoleState(job, List.copyOf(locals), true, targetRole));
    return locals.stream().map(LocalWorker::worker).toList();
  }

  private record PendingStart(String workerId, Proc proc, Path readyFile) {}

  private PendingStart launch(
      String workerId,
      Map<String, String> env,
      DeviceType type,
      List<Integer> deviceIds,
      boolean owns) {
    String fileStem = workerId.replace('/', '-');
    Path log = logDir.resolve(fileStem + ".log");
    Path ready = logDir.resolve(fileStem + ".ready");
    try {
      Files.deleteIfExists(ready);
    } catch (IOException e) {
      throw new WorkerCreationException(
          Worker.roleOf(workerId), "cannot reset " + ready + ": " + e, e);
    }
    List<String> cmd = new ArrayList<>(command);
    cmd.addAll(List.of("--id", workerId, "--ready-file", ready.toString()));
    cmd.addAll(
        List.of(
            "--devices", deviceIds.stream().map(String::valueOf).collect(Collectors.joining(","))));
    if (basePort > 0) {
      cmd.addAll(List.of("--port", Integer.toString(basePort)));
    }
    ProcessBuilder builder = new ProcessBuilder(cmd);
    builder.environment().putAll(env);
    builder.environment().put(SessionSecret.ENV, secret.value());
    String ids = deviceIds.stream().map(String::valueOf).collect(Collectors.joining(","));
    for (DeviceType t : DeviceType.values()) {
      if (t.visibleDevicesVariable() != null) {
        builder.environment().put(t.visibleDevicesVariable(), t == type ? ids : "");
      }
    }
    builder.redirectErrorStream(true);
    builder.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    builder.redirectInput(ProcessBuilder.Redirect.PIPE);
    try {
      Process process = builder.start();
      return new PendingStart(
          workerId, new Proc(process, null, List.of(), log, deviceIds, type, owns), ready);
    } catch (IOException e) {
      throw new WorkerCreationException(
          Worker.roleOf(workerId), "cannot start " + cmd.get(0) + ": " + e, e);
    }
  }

  private Proc awaitReady(PendingStart start, long deadline) {
    Proc proc = start.proc();
    while (true) {
      if (Files.exists(start.readyFile())) {
        // The worker's control and data ports, read once from the file it wrote when ready.
        List<Integer> ports =
            List.of(readPort(start.readyFile(), "control="), readPort(start.readyFile(), "data="));
        ControlClient client = new ControlClient(allocator, "127.0.0.1", ports.get(0), secret);
        return new Proc(
            proc.process,
            client,
            ports,
            proc.log,
            proc.deviceIds,
            proc.deviceType,
            proc.ownsDevices);
      }
      if (!proc.process.isAlive()) {
        throw new WorkerFailedException(
            start.workerId(),
            "createWorkers",
            1,
            "exited during start-up with code "
                + proc.process.exitValue()
                + "; "
                + logTail(proc.log),
            null);
      }
      if (System.nanoTime() > deadline) {
        throw new WorkerTimeoutException(
            start.workerId(),
            "createWorkers",
            1,
            startupTimeout,
            "not ready; " + logTail(proc.log));
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new WorkerCreationException(
            Worker.roleOf(start.workerId()), "interrupted while starting", e);
      }
    }
  }

  private static int readPort(Path readyFile, String key) {
    try {
      String text = Files.readString(readyFile, StandardCharsets.UTF_8).strip();
      for (String part : text.split(" ")) {
        if (part.startsWith(key)) {
          return Integer.parseInt(part.substring(key.length()));
        }
      }
      throw new IllegalStateException("no " + key + " port in " + readyFile + ": " + text);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private Worker describe(String workerId, String role, int index, Proc proc, int portCount) {
    List<Integer> enginePorts = List.of();
    if (portCount > 0) {
      @SuppressWarnings("unchecked")
      List<Integer> ports =
          (List<Integer>)
              control(workerId, proc, ControlProtocol.ALLOC_PORTS, portCount, startupTimeout);
      enginePorts = ports;
    }
    return new Worker(workerId, role, index, "127.0.0.1", proc.ports, enginePorts);
  }

  // ---------------------------------------------------------------- devices

  private synchronized List<List<Integer>> reserveDevices(Job job) {
    DeviceType type = job.spec(0).deviceType();
    int needed = 0;
    for (int i = 0; i < job.replicas(); i++) {
      needed += job.spec(i).devices();
    }
    List<List<Integer>> assigned = new ArrayList<>();
    if (needed == 0) {
      for (int i = 0; i < job.replicas(); i++) {
        assigned.add(List.of());
      }
      return assigned;
    }
    boolean[] used = devices.getOrDefault(type, new boolean[0]);
    Deque<Integer> free = new ArrayDeque<>();
    for (int d = 0; d < used.length; d++) {
      if (!used[d]) {
        free.add(d);
      }
    }
    if (free.size() < needed) {
      throw new WorkerCreationException(
          job.role(),
          "needs "
              + needed
              + " "
              + type
              + "(s) but "
              + free.size()
              + " of "
              + used.length
              + " on this machine are free");
    }
    for (int i = 0; i < job.replicas(); i++) {
      List<Integer> ids = new ArrayList<>();
      for (int k = 0; k < job.spec(i).devices(); k++) {
        int d = free.removeFirst();
        used[d] = true;
        ids.add(d);
      }
      assigned.add(List.copyOf(ids));
    }
    return assigned;
  }

  private synchronized void releaseDevices(DeviceType type, List<List<Integer>> assigned) {
    boolean[] used = devices.get(type);
    if (used == null) {
      return;
    }
    for (List<Integer> ids : assigned) {
      for (int d : ids) {
        used[d] = false;
      }
    }
  }

  // ---------------------------------------------------------------- queries and calls

  @Override
  public List<Worker> getWorkers(String role, Duration timeout) {
    ensureOpen();
    RoleState state = state(role);
    List<CompletableFuture<Object>> pings = new ArrayList<>();
    for (LocalWorker w : state.workers()) {
      pings.add(
          CompletableFuture.supplyAsync(
              () -> control(w.worker().id(), w.proc(), ControlProtocol.PING, null, timeout),
              calls));
    }
    for (CompletableFuture<Object> ping : pings) {
      try {
        ping.join();
      } catch (java.util.concurrent.CompletionException e) {
        if (e.getCause() instanceof SchedulerException s) {
          throw s;
        }
        throw e;
      }
    }
    return state.workers().stream().map(LocalWorker::worker).toList();
  }

  @Override
  public void createEngine(String workerId, String engineClass, String engineName, Object... args) {
    ensureOpen();
    LocalWorker w = worker(workerId);
    Object reply;
    try {
      reply =
          w.proc()
              .client
              .action(
                  ControlProtocol.CREATE_ENGINE,
                  new Object[] {engineClass, engineName, args == null ? new Object[0] : args},
                  startupTimeout);
    } catch (NotSerializableException e) {
      throw new EngineCreationException(
          workerId, engineClass, "an argument is not serializable: " + e.getMessage(), null, e);
    } catch (FlightRuntimeException e) {
      throw failure(workerId, w.proc(), "createEngine", 1, e, startupTimeout);
    } catch (IOException | ClassNotFoundException e) {
      throw new EngineCreationException(workerId, engineClass, e.toString(), null, e);
    }
    CallResult result = (CallResult) reply;
    if (!result.ok()) {
      throw EngineCreationException.fromResult(workerId, engineClass, result);
    }
  }

  @Override
  public void setWorkerEnv(String workerId, Map<String, String> env) {
    ensureOpen();
    LocalWorker w = worker(workerId);
    control(workerId, w.proc(), ControlProtocol.SET_ENV, new HashMap<>(env), startupTimeout);
  }

  @Override
  public WorkerMemory workerMemory(String workerId) {
    ensureOpen();
    LocalWorker w = worker(workerId);
    return (WorkerMemory) control(workerId, w.proc(), ControlProtocol.MEMORY, null, startupTimeout);
  }

  /** Sets role, rank and seed on a worker for engines created afterwards. */
  public void configure(String workerId, String role, int rank, long seed) {
    ensureOpen();
    LocalWorker w = worker(workerId);
    control(
        workerId,
        w.proc(),
        ControlProtocol.CONFIGURE,
        new Object[] {role, rank, seed},
        startupTimeout);
  }

  @Override
  public Object callEngine(
      String workerId, String method, String engineName, CallOptions options, Object... args) {
    ensureOpen();
    Objects.requireNonNull(method, "method");
    CallOptions opts = options == null ? CallOptions.DEFAULT : options;
    LocalWorker w = worker(workerId);
    Object[] body = {engineName, method, args == null ? new Object[0] : args};
    RuntimeException last = null;
    int attempts = opts.maxRetries() + 1;
    for (int attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) {
        sleep(opts.backoffBefore(attempt - 1));
      }
      Object reply;
      try {
        reply = w.proc().client.action(ControlProtocol.CALL, body, opts.timeout());
      } catch (NotSerializableException e) {
        throw new EngineCallException(
            workerId,
            engineName,
            method,
            attempt,
            null,
            "the arguments cannot be sent to the worker: not serializable: " + e.getMessage(),
            null,
            e);
      } catch (FlightRuntimeException e) {
        SchedulerException mapped = failure(workerId, w.proc(), method, attempt, e, opts.timeout());
        if (mapped instanceof WorkerFailedException) {
          throw mapped;
        }
        last = e;
        continue;
      } catch (IOException | ClassNotFoundException e) {
        last = new UncheckedIOException(new IOException(e));
        continue;
      }
      CallResult result = (CallResult) reply;
      if (result.ok()) {
        return result.value();
      }
      throw EngineCallException.fromResult(workerId, engineName, method, attempt, result);
    }
    boolean timedOut =
        last instanceof FlightRuntimeException f && f.status().code() == FlightStatusCode.TIMED_OUT;
    throw EngineCallException.exhausted(
        workerId, engineName, method, attempts, timedOut, opts.timeout(), last);
  }

  @Override
  public CompletableFuture<Object> callEngineAsync(
      String workerId, String method, String engineName, CallOptions options, Object... args) {
    ensureOpen();
    return CompletableFuture.supplyAsync(
        () -> callEngine(workerId, method, engineName, options, args), calls);
  }

  @Override
  public Remotizer dataPlane() {
    return remotizer;
  }

  @Override
  public long clearShards(Object value) {
    ensureOpen();
    List<String> ids = Remotizer.shardIds(value);
    long removed = remotizer.clearCounted(value);
    List<LocalWorker> all = new ArrayList<>();
    synchronized (roles) {
      roles.values().stream()
          .filter(RoleState::ownsProcesses)
          .forEach(s -> all.addAll(s.workers()));
    }
    for (LocalWorker w : all) {
      control(
          w.worker().id(),
          w.proc(),
          ControlProtocol.CLEAR_CACHE,
          new ArrayList<>(ids),
          startupTimeout);
    }
    return removed;
  }

  /** One control action whose failure maps to the scheduler's errors (no retry). */
  private Object control(String workerId, Proc proc, String action, Object body, Duration timeout) {
    try {
      return proc.client.action(action, body, timeout);
    } catch (FlightRuntimeException e) {
      throw failure(workerId, proc, action, 1, e, timeout);
    } catch (IOException | ClassNotFoundException e) {
      throw new WorkerFailedException(workerId, action, 1, "unreadable reply: " + e, e);
    }
  }

  /**
   * A dead process is WorkerFailedException; a deadline is WorkerTimeoutException; else transient.
   */
  private SchedulerException failure(
      String workerId,
      Proc proc,
      String method,
      int attempt,
      FlightRuntimeException e,
      Duration timeout) {
    if (exited(proc.process)) {
      return new WorkerFailedException(
          workerId,
          method,
          attempt,
          "the process exited with code " + proc.process.exitValue() + "; " + logTail(proc.log),
          e);
    }
    if (e.status().code() == FlightStatusCode.UNAUTHENTICATED) {
      return new WorkerFailedException(workerId, method, attempt, "refused the session secret", e);
    }
    return new WorkerTimeoutException(
        workerId, method, attempt, timeout, e.status().code() + ": " + e.getMessage());
  }

  private static boolean exited(Process process) {
    try {
      // A process killed a moment ago may not be reaped yet.
      return process.waitFor(300, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return !process.isAlive();
    }
  }

  // ---------------------------------------------------------------- teardown

  @Override
  public void deleteWorkers(String role, boolean reverseOrder) {
    List<String> order;
    synchronized (roles) {
      if (role != null && !roles.containsKey(role)) {
        throw new WorkerNotFoundException(role, roles.keySet());
      }
      if (role == null) {
        order = new ArrayList<>(roles.keySet());
        if (reverseOrder) {
          Collections.reverse(order);
        } else {
          // Roles that live on other roles' processes or devices go before their targets.
          order.sort(
              (a, b) ->
                  Boolean.compare(
                      roles.get(b).targetRole() != null, roles.get(a).targetRole() != null));
        }
      } else {
        order = new ArrayList<>();
        for (Map.Entry<String, RoleState> e : roles.entrySet()) {
          if (role.equals(e.getValue().targetRole())) {
            order.add(e.getKey());
          }
        }
        order.add(role);
      }
    }
    for (String r : order) {
      deleteRole(r, reverseOrder);
    }
  }

  private void deleteRole(String role, boolean reverseOrder) {
    RoleState state = roles.remove(role);
    if (state == null || !state.ownsProcesses()) {
      return;
    }
    List<LocalWorker> workers = new ArrayList<>(state.workers());
    if (reverseOrder) {
      Collections.reverse(workers);
    }
    // Phase 1: destroy dispatched to every worker at once.
    Map<LocalWorker, CompletableFuture<Object>> destroys = new LinkedHashMap<>();
    for (LocalWorker w : workers) {
      destroys.put(
          w,
          CompletableFuture.supplyAsync(
              () ->
                  control(w.worker().id(), w.proc(), ControlProtocol.DESTROY, null, destroyTimeout),
              calls));
    }
    // Phase 2: a bounded wait. Phase 3: the finished exit, the rest are killed.
    long deadline = System.nanoTime() + destroyTimeout.toNanos();
    for (Map.Entry<LocalWorker, CompletableFuture<Object>> e : destroys.entrySet()) {
      Proc proc = e.getKey().proc();
      boolean finished;
      try {
        e.getValue().get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        finished = true;
      } catch (Exception ex) {
        finished = false;
      }
      if (finished) {
        try {
          proc.client.action(ControlProtocol.EXIT, null, Duration.ofSeconds(5));
        } catch (Exception ignored) {
          // The process is stopped below either way.
        }
      }
      stop(proc, finished ? Duration.ofSeconds(5) : Duration.ZERO);
    }
    // Phase 4: release devices (a fork's devices belong to its target).
    for (LocalWorker w : workers) {
      if (w.proc().ownsDevices) {
        releaseDevices(w.proc().deviceType, List.of(w.proc().deviceIds));
      }
    }
  }

  /** Waits for a voluntary exit, then SIGTERM, then SIGKILL. */
  private static void stop(Proc proc, Duration grace) {
    Process process = proc.process;
    try {
      if (!process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
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

  private static void killNow(Proc proc) {
    proc.process.destroyForcibly();
    try {
      proc.process.waitFor(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    closeClient(proc);
  }

  private static void closeClient(Proc proc) {
    if (proc.client != null) {
      try {
        proc.client.close();
      } catch (Exception ignored) {
        // Closing a client of a dead worker cannot fail in a way that matters.
      }
    }
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    try {
      deleteWorkers(null, true);
    } finally {
      closed = true;
      calls.shutdownNow();
      controllerCache.close();
      controllerPlane.close();
      controllerServer.close();
      allocator.close();
      try {
        Runtime.getRuntime().removeShutdownHook(shutdownHook);
      } catch (IllegalStateException ignored) {
        // The JVM is already shutting down.
      }
    }
  }

  /** The JVM is exiting: no time for phases. */
  private void killAll() {
    List<RoleState> all;
    synchronized (roles) {
      all = new ArrayList<>(roles.values());
    }
    for (RoleState state : all) {
      if (state.ownsProcesses()) {
        state.workers().forEach(w -> w.proc().process.destroyForcibly());
      }
    }
  }

  // ---------------------------------------------------------------- helpers

  private RoleState state(String role) {
    RoleState state = roles.get(role);
    if (state == null) {
      throw new WorkerNotFoundException(role, roles());
    }
    return state;
  }

  private LocalWorker worker(String workerId) {
    Objects.requireNonNull(workerId, "workerId");
    RoleState state = roles.get(Worker.roleOf(workerId));
    if (state != null) {
      for (LocalWorker w : state.workers()) {
        if (w.worker().id().equals(workerId)) {
          return w;
        }
      }
    }
    List<String> known = new ArrayList<>();
    synchronized (roles) {
      roles.values().forEach(s -> s.workers().forEach(w -> known.add(w.worker().id())));
    }
    throw new WorkerNotFoundException(workerId, known);
  }

  /** The last {@link #LOG_TAIL_LINES} lines of a worker log, for error messages. */
  static String logTail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
      List<String> tail = lines.subList(Math.max(0, lines.size() - LOG_TAIL_LINES), lines.size());
      return "last " + tail.size() + " lines of " + log + ":\n" + String.join("\n", tail);
    } catch (IOException e) {
      return "(log " + log + " unreadable: " + e.getMessage() + ")";
    }
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("this LocalScheduler is closed");
    }
  }

  private static void sleep(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while backing off", e);
    }
  }

  /** Builder for {@link LocalScheduler}. */
  public static final class Builder {
    private final Map<DeviceType, Integer> deviceCounts = new EnumMap<>(DeviceType.class);
    private Path logDir;
    private Duration startupTimeout = Duration.ofSeconds(60);
    private Duration destroyTimeout = Duration.ofSeconds(20);
    private String javaCommand = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    private String classPath = System.getProperty("java.class.path");
    private final List<String> extraJvmArgs = new ArrayList<>();
    private int basePort;
    private long controllerCacheBytes = 1L << 30;
    private long controllerStoreBytes = 1L << 30;

    private Builder() {}

    /**
     * Cap of the controller's own shard store (default 1 GiB): what {@code
     * dataPlane().remotize(...)} stores on the controller until it is cleared.
     */
    public Builder controllerStoreBytes(long bytes) {
      if (bytes <= 0) {
        throw new IllegalArgumentException("controller store cap must be > 0, got " + bytes);
      }
      this.controllerStoreBytes = bytes;
      return this;
    }

    /** Cap of the controller's fetch cache (default 1 GiB). */
    public Builder controllerCacheBytes(long bytes) {
      this.controllerCacheBytes = bytes;
      return this;
    }

    /** The number of devices of a type offered to workers (default: what the probe finds). */
    public Builder devices(DeviceType type, int count) {
      if (type == DeviceType.CPU || count < 0) {
        throw new IllegalArgumentException("devices are GPU or NPU, count >= 0");
      }
      deviceCounts.put(type, count);
      return this;
    }

    /** Where worker logs go (default: a fresh temp directory). */
    public Builder logDir(Path dir) {
      this.logDir = dir;
      return this;
    }

    public Builder startupTimeout(Duration timeout) {
      this.startupTimeout = timeout;
      return this;
    }

    public Builder destroyTimeout(Duration timeout) {
      this.destroyTimeout = timeout;
      return this;
    }

    /** The class path of worker JVMs (default: this JVM's). */
    public Builder classPath(String classPath) {
      this.classPath = classPath;
      return this;
    }

    /** An extra worker JVM flag (after the project's JVM flags), e.g. {@code -Xmx2g}. */
    public Builder addJvmArg(String arg) {
      this.extraJvmArgs.add(arg);
      return this;
    }

    /** The first control port workers try (they step up when one is taken); 0: any free port. */
    public Builder basePort(int port) {
      this.basePort = port;
      return this;
    }

    public LocalScheduler build() {
      return new LocalScheduler(this);
    }
  }
}

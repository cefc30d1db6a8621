package io.rtensor.scheduler.core;

import io.rtensor.host.CallResult;
import io.rtensor.host.ControlRequest;
import io.rtensor.host.WorkerInfo;
import io.rtensor.host.WorkerMemory;
import io.rtensor.scheduler.CallOptions;
import io.rtensor.scheduler.EngineCallException;
import io.rtensor.scheduler.EngineCreationException;
import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.JobRules;
import io.rtensor.scheduler.Scheduler;
import io.rtensor.scheduler.SchedulerException;
import io.rtensor.scheduler.SchedulingStrategy;
import io.rtensor.scheduler.Worker;
import io.rtensor.scheduler.WorkerCreationException;
import io.rtensor.scheduler.WorkerFailedException;
import io.rtensor.scheduler.WorkerNotFoundException;
import io.rtensor.scheduler.WorkerTimeoutException;
import io.rtensor.transport.Remotizer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The rules of the {@link Scheduler} contract, written once: the registry of roles and workers, job
 * validation, colocation (reuse) and fork, deletion order and phased teardown, the call policy
 * (timeouts, which failures are retried, backoff), the {@code clearShards} fan-out, and the
 * shutdown hook.
 *
 * <p>A backend says only how workers start ({@link #reserve}, {@link #launch}, {@link #launchFork},
 * {@link #awaitStarted}), how a control message reaches one ({@link #send}) and how one is stopped
 * ({@link #stop}, {@link #kill}, {@link #release}).
 *
 * @param <H> the backend's handle of one started worker (a process, an actor)
 * @param <R> the backend's reservation for one role (devices, placement groups)
 */
public abstract class SchedulerCore<H, R> implements Scheduler {
  private static final Logger log = LoggerFactory.getLogger(SchedulerCore.class);

  /** How long an exit request after a finished destroy may take before the worker is stopped. */
  private static final Duration EXIT_TIMEOUT = Duration.ofSeconds(5);

  /** A worker of a role: its public description and the backend's handle. */
  protected record Slot<H>(Worker worker, H handle) {}

  /**
   * A role: its job, its workers in rank order, whether it owns their processes, the role it
   * colocates with or forks (null if none), its reservation (null unless it owns one) and the
   * address rank 0 of the role group listens on.
   */
  protected record Role<H, R>(
      Job job,
      List<Slot<H>> workers,
      boolean ownsWorkers,
      String targetRole,
      R reservation,
      String masterAddress) {}

  /** The timeouts of the control operations other than engine calls. */
  public record Timeouts(Duration startup, Duration createEngine, Duration destroy) {
    public Timeouts {
      requirePositive(startup, "startup");
      requirePositive(createEngine, "createEngine");
      requirePositive(destroy, "destroy");
    }

    private static void requirePositive(Duration d, String name) {
      Objects.requireNonNull(d, name);
      if (d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException(name + " timeout must be > 0, got " + d);
      }
    }
  }

  private final String name;
  private final Timeouts timeouts;
  private final Map<String, Role<H, R>> roles = Collections.synchronizedMap(new LinkedHashMap<>());
  private final ExecutorService calls;
  private final Thread shutdownHook;
  private volatile boolean closed;

  /**
   * @param name how errors and thread names call this scheduler (e.g. "LocalScheduler 1a2b3c4d")
   */
  protected SchedulerCore(String name, Timeouts timeouts) {
    this.name = Objects.requireNonNull(name, "name");
    this.timeouts = Objects.requireNonNull(timeouts, "timeouts");
    this.calls =
        Executors.newCachedThreadPool(
            r -> {
              Thread t = new Thread(r, name + " call");
              t.setDaemon(true);
              return t;
            });
    this.shutdownHook = new Thread(this::killAll, name + " shutdown");
    Runtime.getRuntime().addShutdownHook(shutdownHook);
  }

  // ---------------------------------------------------------------- what a backend provides

  /**
   * Reserves what a new (not colocated) job needs: devices, placement groups. Waits at most until
   * {@code deadline}.
   *
   * @throws SchedulerException when the job cannot be placed
   */
  protected abstract R reserve(Job job, Deadline deadline);

  /** {@code host:port} where rank 0 of a role placed by {@code reservation} listens. */
  protected abstract String masterAddress(R reservation);

  /** Starts rank {@code rank} of {@code job} in its reservation, with this environment. */
  protected abstract H launch(Job job, int rank, R reservation, Map<String, String> env);

  /** Starts rank {@code rank} of a fork beside {@code target}, on the same devices. */
  protected abstract H launchFork(Job job, int rank, H target, Map<String, String> env);

  /**
   * Waits until a launched worker can receive control messages; returns its handle (a backend may
   * fill in what it learns, like ports).
   *
   * @throws SchedulerException when it exits or does not come up by {@code deadline}
   */
  protected abstract H awaitStarted(H handle, String workerId, Deadline deadline);

  /**
   * Sends one control request and waits at most {@code timeout} for its reply.
   *
   * @throws ControlFailure saying what the failure proves
   */
  protected abstract <T> T send(H handle, ControlRequest<T> request, Duration timeout)
      throws ControlFailure;

  /**
   * Stops a worker for good. {@code exitRequested}: it finished destroying its engines and was
   * asked to exit, so it may be given a short grace; otherwise it is killed now.
   */
  protected abstract void stop(H handle, boolean exitRequested);

  /** Kills a worker now, without phases (failed starts, JVM exit). Never throws. */
  protected abstract void kill(H handle);

  /** Releases a role's reservation. Never throws. */
  protected abstract void release(R reservation);

  /** The worker's own ports (control, data), if it has any. */
  protected List<Integer> workerPorts(H handle) {
    return List.of();
  }

  /** Closes what the backend holds, after every worker is gone. */
  protected abstract void closeBackend();

  // ---------------------------------------------------------------- creation

  @Override
  public List<String> roles() {
    synchronized (roles) {
      return List.copyOf(roles.keySet());
    }
  }

  @Override
  public List<Worker> createWorkers(Job job) {
    ensureOpen();
    Objects.requireNonNull(job, "job");
    try {
      validate(job);
      SchedulingStrategy strategy = job.strategy();
      if (strategy.colocated()) {
        return strategy.fork()
            ? fork(job.role(), strategy.targetRole(), job)
            : reuse(job.role(), strategy.targetRole(), job);
      }
      return start(job);
    } catch (SchedulerException e) {
      throw e;
    } catch (RuntimeException e) {
      // Every failure of createWorkers is a scheduler exception, whatever the backend threw.
      throw new WorkerCreationException(job.role(), e.toString(), e);
    }
  }

  @Override
  public List<Worker> forkWorkers(String role, String targetRole) {
    ensureOpen();
    Role<H, R> target = role(targetRole);
    Job job =
        Job.builder(role)
            .replicas(target.workers().size())
            .task(target.job().spec(0))
            .strategy(SchedulingStrategy.forkOf(targetRole))
            .build();
    return createWorkers(job);
  }

  private void validate(Job job) {
    JobRules.validate(
        job,
        role -> {
          Role<H, R> state = roles.get(role);
          return state == null ? null : state.workers().size();
        });
  }

  private List<Worker> start(Job job) {
    Deadline deadline = Deadline.after(timeouts.startup());
    R reservation = reserve(job, deadline);
    String master;
    List<H> launched = new ArrayList<>();
    try {
      master = masterAddress(reservation);
      for (int i = 0; i < job.replicas(); i++) {
        Map<String, String> env =
            JobRules.workerEnv(job.spec(i), Worker.id(job.role(), i), i, job.replicas(), master);
        launched.add(launch(job, i, reservation, env));
      }
      List<Slot<H>> slots = awaitReady(job, launched, deadline);
      register(job, new Role<>(job, slots, true, null, reservation, master));
      return workersOf(slots);
    } catch (RuntimeException e) {
      launched.forEach(this::kill);
      release(reservation);
      throw e;
    }
  }

  private List<Worker> reuse(String role, String targetRole, Job job) {
    Role<H, R> target = role(targetRole);
    List<Slot<H>> slots = new ArrayList<>();
    for (int i = 0; i < target.workers().size(); i++) {
      Slot<H> t = target.workers().get(i);
      Worker w =
          new Worker(
              Worker.id(role, i),
              role,
              i,
              t.worker().ip(),
              t.worker().workerPorts(),
              t.worker().enginePorts());
      slots.add(new Slot<>(w, t.handle()));
    }
    register(
        job, new Role<>(job, List.copyOf(slots), false, targetRole, null, target.masterAddress()));
    return workersOf(slots);
  }

  private List<Worker> fork(String role, String targetRole, Job job) {
    Role<H, R> target = role(targetRole);
    int devices = target.job().spec(0).devices();
    if (devices > 1) {
      throw new WorkerCreationException(
          role,
          "fork of a multi-device worker is not supported: role '"
              + targetRole
              + "' holds "
              + devices
              + " devices per worker, a fork shares exactly one");
    }
    Deadline deadline = Deadline.after(timeouts.startup());
    List<H> launched = new ArrayList<>();
    try {
      int n = target.workers().size();
      for (int i = 0; i < n; i++) {
        Map<String, String> env =
            JobRules.workerEnv(
                target.job().spec(i), Worker.id(role, i), i, n, target.masterAddress());
        launched.add(launchFork(job, i, target.workers().get(i).handle(), env));
      }
      List<Slot<H>> slots = awaitReady(job, launched, deadline);
      register(job, new Role<>(job, slots, true, targetRole, null, target.masterAddress()));
      return workersOf(slots);
    } catch (RuntimeException e) {
      launched.forEach(this::kill);
      throw e;
    }
  }

  private void register(Job job, Role<H, R> role) {
    synchronized (roles) {
      if (closed) {
        throw new WorkerCreationException(job.role(), "the scheduler was closed meanwhile");
      }
      roles.put(job.role(), role);
    }
  }

  /** Waits until each launched worker answers a ping; allocates its engine ports. */
  private List<Slot<H>> awaitReady(Job job, List<H> launched, Deadline deadline) {
    List<Slot<H>> slots = new ArrayList<>();
    for (int i = 0; i < launched.size(); i++) {
      String workerId = Worker.id(job.role(), i);
      H handle = awaitStarted(launched.get(i), workerId, deadline);
      launched.set(i, handle);
      WorkerInfo info = sendUntil(handle, workerId, new ControlRequest.Ping(), deadline);
      int portCount = job.spec(i).portCount();
      List<Integer> enginePorts =
          portCount == 0
              ? List.of()
              : sendUntil(handle, workerId, new ControlRequest.AllocPorts(portCount), deadline);
      Worker w = new Worker(workerId, job.role(), i, info.host(), workerPorts(handle), enginePorts);
      slots.add(new Slot<>(w, handle));
    }
    return List.copyOf(slots);
  }

  /** A start-up request, resent while undelivered, until the deadline. */
  private <T> T sendUntil(H handle, String workerId, ControlRequest<T> request, Deadline deadline) {
    while (true) {
      try {
        return send(handle, request, deadline.remaining().plusMillis(1));
      } catch (ControlFailure f) {
        if (f.kind() == ControlFailure.Kind.NOT_DELIVERED && !deadline.passed()) {
          pause(Duration.ofMillis(50));
          continue;
        }
        if (f.kind() == ControlFailure.Kind.TIMED_OUT
            || f.kind() == ControlFailure.Kind.NOT_DELIVERED) {
          throw new WorkerTimeoutException(
              workerId,
              "createWorkers",
              1,
              timeouts.startup(),
              "no answer to " + request.name() + ": " + f.getMessage());
        }
        throw failure(workerId, "createWorkers", 1, f, timeouts.startup());
      }
    }
  }

  // ---------------------------------------------------------------- queries

  @Override
  public List<Worker> getWorkers(String role, Duration timeout) {
    ensureOpen();
    Role<H, R> state = role(role);
    fanOut(state.workers(), new ControlRequest.Ping(), timeout, "ping", false);
    return workersOf(state.workers());
  }

  @Override
  public WorkerMemory workerMemory(String workerId) {
    ensureOpen();
    return control(slot(workerId), new ControlRequest.Memory(), timeouts.startup());
  }

  @Override
  public void setWorkerEnv(String workerId, Map<String, String> env) {
    ensureOpen();
    control(slot(workerId), new ControlRequest.SetEnv(env), timeouts.startup());
  }

  @Override
  public void configure(String workerId, String role, int rank, long seed) {
    ensureOpen();
    control(slot(workerId), new ControlRequest.Configure(role, rank, seed), timeouts.startup());
  }

  // ---------------------------------------------------------------- engines

  @Override
  public void createEngine(String workerId, String engineClass, String engineName, Object... args) {
    ensureOpen();
    Objects.requireNonNull(engineClass, "engineClass");
    Slot<H> slot = slot(workerId);
    ControlRequest.CreateEngine request =
        new ControlRequest.CreateEngine(engineClass, engineName, args);
    CallResult result;
    try {
      result = send(slot.handle(), request, timeouts.createEngine());
    } catch (ControlFailure f) {
      if (f.kind() == ControlFailure.Kind.UNSENDABLE) {
        throw new EngineCreationException(
            workerId, engineClass, "an argument cannot be sent: " + f.getMessage(), null, f);
      }
      throw failure(workerId, "createEngine", 1, f, timeouts.createEngine());
    }
    if (!result.ok()) {
      throw EngineCreationException.fromResult(workerId, engineClass, result);
    }
  }

  @Override
  public Object callEngine(
      String workerId, String method, String engineName, CallOptions options, Object... args) {
    ensureOpen();
    Objects.requireNonNull(method, "method");
    CallOptions opts = options == null ? CallOptions.DEFAULT : options;
    Slot<H> slot = slot(workerId);
    ControlRequest.Call request =
        new ControlRequest.Call(
            engineName, method, args, opts.device().isPresent() ? opts.device().getAsInt() : null);
    int attempts = opts.maxRetries() + 1;
    for (int attempt = 1; ; attempt++) {
      CallResult result;
      try {
        result = send(slot.handle(), request, opts.timeout());
      } catch (ControlFailure f) {
        if (f.kind() == ControlFailure.Kind.UNSENDABLE) {
          throw new EngineCallException(
              workerId,
              engineName,
              method,
              attempt,
              null,
              "the arguments cannot be sent to the worker: " + f.getMessage(),
              null,
              f);
        }
        if (attempt < attempts && retriable(f.kind(), opts)) {
          Duration backoff = opts.backoffBefore(attempt);
          log.info(
              "{}: {} on {} failed ({}: {}); attempt {} of {} in {} ms",
              name,
              method,
              workerId,
              f.kind(),
              f.getMessage(),
              attempt + 1,
              attempts,
              backoff.toMillis());
          pause(backoff);
          continue;
        }
        throw failure(workerId, method, attempt, f, opts.timeout());
      }
      if (result.ok()) {
        return result.value();
      }
      throw EngineCallException.fromResult(workerId, engineName, method, attempt, result);
    }
  }

  /**
   * Undelivered requests are always safe to resend; one that may have run only when the caller says
   * running it twice is harmless.
   */
  private static boolean retriable(ControlFailure.Kind kind, CallOptions options) {
    return switch (kind) {
      case NOT_DELIVERED -> true;
      case TIMED_OUT, BROKEN -> options.idempotent();
      default -> false;
    };
  }

  @Override
  public CompletableFuture<Object> callEngineAsync(
      String workerId, String method, String engineName, CallOptions options, Object... args) {
    ensureOpen();
    return CompletableFuture.supplyAsync(
        () -> callEngine(workerId, method, engineName, options, args), calls);
  }

  // ---------------------------------------------------------------- shards

  /**
   * Removes the shards from their stores, then drains them from every worker's fetch cache at once.
   * A worker that is dead holds no cache: it is skipped (and logged). A live worker that does not
   * answer in the startup timeout fails the call with its error after the others were drained.
   */
  @Override
  public long clearShards(Object value) {
    ensureOpen();
    List<String> ids = Remotizer.shardIds(value);
    long removed = dataPlane().clearCounted(value);
    List<Slot<H>> owned = new ArrayList<>();
    synchronized (roles) {
      roles.values().stream().filter(Role::ownsWorkers).forEach(r -> owned.addAll(r.workers()));
    }
    if (!ids.isEmpty() && !owned.isEmpty()) {
      fanOut(owned, new ControlRequest.ClearCache(ids), timeouts.startup(), "clearShards", true);
    }
    return removed;
  }

  /**
   * Sends one request to several workers at once and waits for all. The first failure (in rank
   * order) is thrown after every reply or failure is in; with {@code skipDead}, dead workers are
   * logged and skipped instead.
   */
  private <T> void fanOut(
      List<Slot<H>> slots,
      ControlRequest<T> request,
      Duration timeout,
      String method,
      boolean skipDead) {
    List<CompletableFuture<Object>> replies = new ArrayList<>();
    for (Slot<H> s : slots) {
      replies.add(
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return send(s.handle(), request, timeout);
                } catch (ControlFailure f) {
                  return f;
                }
              },
              calls));
    }
    SchedulerException first = null;
    for (int i = 0; i < slots.size(); i++) {
      Object reply = join(replies.get(i));
      if (reply instanceof ControlFailure f) {
        String workerId = slots.get(i).worker().id();
        if (skipDead && f.kind() == ControlFailure.Kind.DEAD) {
          log.warn("{}: {} skipped dead worker {}: {}", name, method, workerId, f.getMessage());
        } else if (first == null) {
          first = failure(workerId, method, 1, f, timeout);
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }

  private static Object join(CompletableFuture<Object> future) {
    try {
      // Each send is bounded by its own timeout; this wait ends when it does.
      return future.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      throw e;
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
          // Roles that live on other roles' workers or devices go before their targets.
          order.sort(
              (a, b) ->
                  Boolean.compare(
                      roles.get(b).targetRole() != null, roles.get(a).targetRole() != null));
        }
      } else {
        order = new ArrayList<>();
        roles.forEach(
            (r, state) -> {
              if (role.equals(state.targetRole())) {
                order.add(r);
              }
            });
        order.add(role);
      }
    }
    for (String r : order) {
      deleteRole(r, reverseOrder);
    }
  }

  /**
   * Phase 1: destroy dispatched to every worker at once. Phase 2: a bounded wait for all of them.
   * Phase 3: the finished are asked to exit, then every worker is stopped. Phase 4: the role's
   * reservation is released (never a target's).
   */
  private void deleteRole(String role, boolean reverseOrder) {
    Role<H, R> state = roles.remove(role);
    if (state == null) {
      return;
    }
    if (state.ownsWorkers()) {
      List<Slot<H>> workers = new ArrayList<>(state.workers());
      if (reverseOrder) {
        Collections.reverse(workers);
      }
      Map<Slot<H>, CompletableFuture<List<String>>> destroys = new LinkedHashMap<>();
      for (Slot<H> w : workers) {
        destroys.put(
            w,
            CompletableFuture.supplyAsync(
                () -> {
                  try {
                    return send(w.handle(), new ControlRequest.Destroy(), timeouts.destroy());
                  } catch (ControlFailure f) {
                    throw new CompletionException(f);
                  }
                },
                calls));
      }
      Deadline deadline = Deadline.after(timeouts.destroy());
      for (Map.Entry<Slot<H>, CompletableFuture<List<String>>> e : destroys.entrySet()) {
        String workerId = e.getKey().worker().id();
        boolean finished = false;
        try {
          List<String> failures =
              e.getValue().get(deadline.remaining().toNanos() + 1, TimeUnit.NANOSECONDS);
          failures.forEach(
              line -> log.warn("{}: destroying an engine of {} failed: {}", name, workerId, line));
          finished = true;
        } catch (TimeoutException ex) {
          log.warn(
              "{}: {} did not destroy its engines in {} ms; killing it",
              name,
              workerId,
              timeouts.destroy().toMillis());
        } catch (ExecutionException ex) {
          log.warn("{}: destroy on {} failed; killing it: {}", name, workerId, ex.getCause());
        } catch (InterruptedException ex) {
          Thread.currentThread().interrupt();
        }
        if (finished) {
          try {
            send(e.getKey().handle(), new ControlRequest.Exit(), EXIT_TIMEOUT);
          } catch (ControlFailure ex) {
            // An exiting worker may close before its reply leaves; it is stopped below either way.
            log.debug("{}: exit of {}: {}", name, workerId, ex.getMessage());
          }
        }
        try {
          stop(e.getKey().handle(), finished);
        } catch (RuntimeException ex) {
          log.warn("{}: stopping {} failed: {}", name, workerId, ex.toString());
        }
      }
    }
    if (state.reservation() != null) {
      release(state.reservation());
    }
  }

  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    try {
      deleteWorkers(null, true);
    } finally {
      calls.shutdownNow();
      try {
        closeBackend();
      } finally {
        try {
          Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException ignored) {
          // The JVM is already shutting down.
        }
      }
    }
  }

  /** The JVM is exiting: no time for phases. */
  private void killAll() {
    List<Role<H, R>> all;
    synchronized (roles) {
      all = new ArrayList<>(roles.values());
    }
    for (Role<H, R> state : all) {
      if (state.ownsWorkers()) {
        state.workers().forEach(w -> kill(w.handle()));
      }
    }
    for (Role<H, R> state : all) {
      if (state.reservation() != null) {
        release(state.reservation());
      }
    }
  }

  // ---------------------------------------------------------------- helpers for backends

  /** The role's state. @throws WorkerNotFoundException for an unknown role */
  protected final Role<H, R> role(String role) {
    Role<H, R> state = roles.get(role);
    if (state == null) {
      throw new WorkerNotFoundException(role, roles());
    }
    return state;
  }

  /** The worker's slot. @throws WorkerNotFoundException for an unknown worker */
  protected final Slot<H> slot(String workerId) {
    Objects.requireNonNull(workerId, "workerId");
    Role<H, R> state = roles.get(Worker.roleOf(workerId));
    if (state != null) {
      for (Slot<H> s : state.workers()) {
        if (s.worker().id().equals(workerId)) {
          return s;
        }
      }
    }
    List<String> known = new ArrayList<>();
    synchronized (roles) {
      roles.values().forEach(r -> r.workers().forEach(w -> known.add(w.worker().id())));
    }
    throw new WorkerNotFoundException(workerId, known);
  }

  /** One control request whose failure maps to the scheduler's exceptions (no retry). */
  protected final <T> T control(Slot<H> slot, ControlRequest<T> request, Duration timeout) {
    try {
      return send(slot.handle(), request, timeout);
    } catch (ControlFailure f) {
      throw failure(slot.worker().id(), request.name(), 1, f, timeout);
    }
  }

  private SchedulerException failure(
      String workerId, String method, int attempt, ControlFailure f, Duration timeout) {
    return switch (f.kind()) {
      case DEAD -> new WorkerFailedException(workerId, method, attempt, f.getMessage(), f);
      case REFUSED ->
          new WorkerFailedException(workerId, method, attempt, "refused: " + f.getMessage(), f);
      case TIMED_OUT ->
          new WorkerTimeoutException(
              workerId,
              method,
              attempt,
              timeout,
              "no answer; the request may still be running on the worker");
      case NOT_DELIVERED ->
          new WorkerFailedException(workerId, method, attempt, "unreachable: " + f.getMessage(), f);
      case UNSENDABLE ->
          new WorkerFailedException(
              workerId, method, attempt, "the request cannot be sent: " + f.getMessage(), f);
      case BROKEN ->
          new WorkerFailedException(
              workerId,
              method,
              attempt,
              "the connection broke after the request was sent: " + f.getMessage(),
              f);
    };
  }

  private static List<Worker> workersOf(List<? extends Slot<?>> slots) {
    return slots.stream().map(Slot::worker).toList();
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException(name + " is closed");
    }
  }

  private static void pause(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while backing off", e);
    }
  }

  /** The timeouts this scheduler was built with. */
  protected final Timeouts timeouts() {
    return timeouts;
  }
}

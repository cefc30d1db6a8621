package io.rtensor.scheduler.ray;

import io.ray.api.ActorHandle;
import io.ray.api.ObjectRef;
import io.ray.api.PlacementGroups;
import io.ray.api.Ray;
import io.ray.api.call.ActorCreator;
import io.ray.api.exception.RayActorException;
import io.ray.api.exception.RayException;
import io.ray.api.exception.RayTimeoutException;
import io.ray.api.options.PlacementGroupCreationOptions;
import io.ray.api.placementgroup.PlacementGroup;
import io.ray.api.placementgroup.PlacementStrategy;
import io.ray.api.runtimecontext.NodeInfo;
import io.ray.api.runtimeenv.RuntimeEnv;
import io.ray.api.runtimeenv.types.RuntimeEnvName;
import io.rtensor.host.CallResult;
import io.rtensor.host.WorkerMemory;
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
import io.rtensor.scheduler.Worker;
import io.rtensor.scheduler.WorkerCreationException;
import io.rtensor.scheduler.WorkerFailedException;
import io.rtensor.scheduler.WorkerNotFoundException;
import io.rtensor.scheduler.WorkerTimeoutException;
import io.rtensor.transport.DataPlane;
import io.rtensor.transport.DataPlaneKind;
import io.rtensor.transport.FetchCache;
import io.rtensor.transport.FlightDataPlane;
import io.rtensor.transport.Remotizer;
import io.rtensor.transport.ray.RayObjectStorePlane;
import io.rtensor.wire.DecodeLimits;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
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
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * The {@link Scheduler} on a Ray cluster: one {@link RayRpcServer} actor per training rank or
 * rollout instance, placed in placement groups.
 *
 * <p>Ray must be initialized in this JVM ({@link RayConnection}). The scheduler owns what it
 * creates: {@link #close()} deletes every actor and placement group of it, and a JVM shutdown hook
 * does so as a last resort.
 */
public final class RayScheduler implements Scheduler {
  /** Fraction of a single device the main actor holds, so forked actors fit beside it. */
  static final double MAIN_DEVICE_SHARE = 0.9;

  /** Fraction of the device each forked actor holds. */
  static final double FORK_DEVICE_SHARE = 0.01;

  /** Fraction of a CPU the bundle-0 probe task holds (before the actors take the bundle). */
  static final double SMALL_CPU_SHARE = 0.01;

  /** Concurrent calls one actor serves (pings and destroy get through a long call). */
  static final int ACTOR_CONCURRENCY = 16;

  private final String id;
  private final DataPlaneKind dataPlaneKind;
  private final SessionSecret secret = SessionSecret.generate();
  private final BufferAllocator allocator = new RootAllocator();
  private final DataPlane controllerPlane;
  private final FetchCache controllerCache;
  private final Remotizer remotizer;
  private final long shardGetTimeoutMillis;
  private final int nGpusPerNode;
  private final Duration startupTimeout;
  private final Duration destroyTimeout;
  private final Map<String, RoleState> roles = Collections.synchronizedMap(new LinkedHashMap<>());
  private final ExecutorService asyncCalls;
  private final Thread shutdownHook;
  private volatile boolean closed;

  private record RayWorker(
      Worker worker,
      ActorHandle<RayRpcServer> actor,
      PlacementGroup group,
      int bundle,
      String actorName) {}

  private record RoleState(
      Job job,
      List<RayWorker> workers,
      List<PlacementGroup> ownedGroups,
      boolean ownsActors,
      String targetRole,
      String masterAddress) {}

  private RayScheduler(Builder b) {
    if (!Ray.isInitialized()) {
      throw new IllegalStateException(
          "Ray is not initialized in this JVM: connect first with RayConnection.builder().connect()");
    }
    this.id = b.id != null ? b.id : UUID.randomUUID().toString().substring(0, 8);
    this.nGpusPerNode = b.nGpusPerNode > 0 ? b.nGpusPerNode : detectGpusPerNode();
    this.dataPlaneKind = b.dataPlane;
    this.shardGetTimeoutMillis = b.shardGetTimeout.toMillis();
    this.controllerPlane =
        dataPlaneKind == DataPlaneKind.FLIGHT
            ? FlightDataPlane.builder(allocator, secret.value()).build()
            : new RayObjectStorePlane(DecodeLimits.DEFAULT, b.shardGetTimeout.toMillis());
    this.controllerCache = new FetchCache(b.controllerCacheBytes);
    this.remotizer = new Remotizer(controllerPlane, controllerCache, allocator);
    this.startupTimeout = b.startupTimeout;
    this.destroyTimeout = b.destroyTimeout;
    this.asyncCalls =
        Executors.newCachedThreadPool(
            r -> {
              Thread t = new Thread(r, "ray-scheduler-" + id + "-call");
              t.setDaemon(true);
              return t;
            });
    this.shutdownHook = new Thread(this::closeQuietly, "ray-scheduler-" + id + "-shutdown");
    Runtime.getRuntime().addShutdownHook(shutdownHook);
  }

  /** A builder: GPUs per node (default: the most any node of the cluster has), timeouts, id. */
  public static Builder builder() {
    return new Builder();
  }

  /** The id that prefixes this scheduler's actor and placement-group names. */
  public String id() {
    return id;
  }

  @Override
  public int nGpusPerNode() {
    return nGpusPerNode;
  }

  @Override
  public List<String> roles() {
    synchronized (roles) {
      return List.copyOf(roles.keySet());
    }
  }

  /** The Ray actor name of a worker (actors are named, so they can be found and checked). */
  public String actorName(String workerId) {
    return worker(workerId).actorName();
  }

  /** Names of the placement groups this scheduler holds for a role (empty for reused roles). */
  public List<String> placementGroupNames(String role) {
    return state(role).ownedGroups().stream().map(PlacementGroup::getName).toList();
  }

  /** The data plane this scheduler's workers use. */
  public DataPlaneKind dataPlaneKind() {
    return dataPlaneKind;
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
    List<ObjectRef<Integer>> evictions = new ArrayList<>();
    synchronized (roles) {
      for (RoleState state : roles.values()) {
        if (state.ownsActors()) {
          for (RayWorker w : state.workers()) {
            evictions.add(w.actor().task(RayRpcServer::clearCache, new ArrayList<>(ids)).remote());
          }
        }
      }
    }
    for (ObjectRef<Integer> eviction : evictions) {
      try {
        eviction.get(startupTimeout.toMillis());
      } catch (RayActorException ignored) {
        // A dead worker holds no cache.
      }
    }
    return removed;
  }

  /** {@code ip:port} where rank 0 of the role listens (found from bundle 0 of its group). */
  public String masterAddress(String role) {
    return state(role).masterAddress();
  }

  // ---------------------------------------------------------------- creation

  @Override
  public List<Worker> createWorkers(Job job) {
    ensureOpen();
    validate(job);
    String role = job.role();
    if (job.strategy().colocated()) {
      return job.strategy().fork()
          ? fork(role, job.strategy().targetRole(), job)
          : reuse(role, job.strategy().targetRole(), job);
    }
    checkClusterHas(job);

    List<List<Map<String, Double>>> plan = BundlePlan.groups(job, Math.max(1, nGpusPerNode));
    List<PlacementGroup> groups = new ArrayList<>();
    List<RayWorker> created = new ArrayList<>();
    long deadline = System.nanoTime() + startupTimeout.toNanos();
    try {
      for (int g = 0; g < plan.size(); g++) {
        groups.add(
            PlacementGroups.createPlacementGroup(
                new PlacementGroupCreationOptions.Builder()
                    .setName(groupName(role, g))
                    .setBundles(plan.get(g))
                    .setStrategy(PlacementStrategy.PACK)
                    .build()));
      }
      for (PlacementGroup group : groups) {
        int seconds = (int) Math.max(1, TimeUnit.NANOSECONDS.toSeconds(remaining(deadline)));
        if (!group.wait(seconds)) {
          throw new WorkerTimeoutException(
              role,
              "createWorkers",
              1,
              startupTimeout,
              "placement group "
                  + group.getName()
                  + " not ready: the job needs "
                  + BundlePlan.total(plan)
                  + ", the cluster has "
                  + clusterResources());
        }
      }

      String master =
          Ray.task(RayRpcServer::masterAddress)
              .setPlacementGroup(groups.get(0), 0)
              .setResource("CPU", SMALL_CPU_SHARE)
              .remote()
              .get(Math.max(1, TimeUnit.NANOSECONDS.toMillis(remaining(deadline))));

      for (int i = 0; i < job.replicas(); i++) {
        SchedulingSpec spec = job.spec(i);
        PlacementGroup group;
        int bundle;
        switch (spec.placement()) {
          case SEPARATE -> {
            group = groups.get(i);
            bundle = 0;
          }
          case SHARED -> {
            group = groups.get(0);
            bundle = i;
          }
          default -> {
            group = groups.get(0);
            bundle = bundleOfRank(plan.get(0), job, i);
          }
        }
        Map<String, Double> resources = actorResources(spec);
        Map<String, String> env =
            JobRules.workerEnv(spec, Worker.id(role, i), i, job.replicas(), master);
        created.add(startActor(role, i, group, bundle, resources, env));
      }
      List<Worker> workers = awaitReady(created, job, deadline);
      roles.put(role, new RoleState(job, List.copyOf(created), groups, true, null, master));
      return workers;
    } catch (RuntimeException e) {
      for (RayWorker w : created) {
        killQuietly(w.actor());
      }
      for (PlacementGroup group : groups) {
        removeQuietly(group);
      }
      if (e instanceof SchedulerException) {
        throw e;
      }
      if (e instanceof RayTimeoutException) {
        throw new WorkerTimeoutException(role, "createWorkers", 1, startupTimeout, e.getMessage());
      }
      throw new WorkerCreationException(role, e.toString(), e);
    }
  }

  @Override
  public List<Worker> forkWorkers(String role, String targetRole) {
    ensureOpen();
    RoleState target = state(targetRole);
    Job job =
        Job.builder(role)
            .replicas(target.job().replicas())
            .task(target.job().spec(0))
            .strategy(io.rtensor.scheduler.SchedulingStrategy.forkOf(targetRole))
            .build();
    validate(job);
    return fork(role, targetRole, job);
  }

  private List<Worker> reuse(String role, String targetRole, Job job) {
    RoleState target = state(targetRole);
    List<RayWorker> workers = new ArrayList<>();
    for (int i = 0; i < target.workers().size(); i++) {
      RayWorker t = target.workers().get(i);
      Worker w =
          new Worker(
              Worker.id(role, i),
              role,
              i,
              t.worker().ip(),
              t.worker().workerPorts(),
              t.worker().enginePorts());
      workers.add(new RayWorker(w, t.actor(), t.group(), t.bundle(), t.actorName()));
    }
    roles.put(
        role,
        new RoleState(
            job, List.copyOf(workers), List.of(), false, targetRole, target.masterAddress()));
    return workers.stream().map(RayWorker::worker).toList();
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
    long deadline = System.nanoTime() + startupTimeout.toNanos();
    List<RayWorker> created = new ArrayList<>();
    try {
      for (int i = 0; i < target.workers().size(); i++) {
        RayWorker t = target.workers().get(i);
        SchedulingSpec spec = target.job().spec(i);
        Map<String, Double> resources = new LinkedHashMap<>();
        // The main actor may hold all of the bundle's CPUs: a fork takes none, only its device
        // share.
        resources.put("CPU", 0.0);
        if (spec.devices() == 1) {
          resources.put(spec.deviceType().resourceName(), FORK_DEVICE_SHARE);
        }
        Map<String, String> env =
            JobRules.workerEnv(
                spec, Worker.id(role, i), i, target.workers().size(), target.masterAddress());
        created.add(startActor(role, i, t.group(), t.bundle(), resources, env));
      }
      List<Worker> workers = awaitReady(created, job, deadline);
      roles.put(
          role,
          new RoleState(
              job, List.copyOf(created), List.of(), true, targetRole, target.masterAddress()));
      return workers;
    } catch (RuntimeException e) {
      for (RayWorker w : created) {
        killQuietly(w.actor());
      }
      if (e instanceof SchedulerException) {
        throw e;
      }
      throw new WorkerCreationException(role, e.toString(), e);
    }
  }

  private RayWorker startActor(
      String role,
      int index,
      PlacementGroup group,
      int bundle,
      Map<String, Double> resources,
      Map<String, String> env) {
    String workerId = Worker.id(role, index);
    String name = "rtensor-" + id + "-" + role + "-" + index;
    Map<String, String> actorEnv = new LinkedHashMap<>(env);
    if (dataPlaneKind == DataPlaneKind.FLIGHT) {
      actorEnv.put(SessionSecret.ENV, secret.value());
    } else if (dataPlaneKind == DataPlaneKind.RAY_OBJECT_STORE) {
      RayObjectStorePlane.WORKER_ENV.forEach(actorEnv::putIfAbsent); // the job's env wins
    }
    RuntimeEnv runtimeEnv = Ray.internal().createRuntimeEnv();
    runtimeEnv.set(RuntimeEnvName.ENV_VARS, actorEnv);
    ActorCreator<RayRpcServer> creator =
        Ray.actor(RayRpcServer::new, workerId, dataPlaneKind.name(), shardGetTimeoutMillis)
            .setName(name)
            .setMaxConcurrency(ACTOR_CONCURRENCY)
            .setPlacementGroup(group, bundle)
            .setRuntimeEnv(runtimeEnv);
    for (Map.Entry<String, Double> r : resources.entrySet()) {
      creator.setResource(r.getKey(), r.getValue());
    }
    ActorHandle<RayRpcServer> actor = creator.remote();
    Worker worker = new Worker(workerId, role, index, "", List.of(), List.of());
    return new RayWorker(worker, actor, group, bundle, name);
  }

  /** Pings every new actor until the deadline; fills in its address and engine ports. */
  private List<Worker> awaitReady(List<RayWorker> created, Job job, long deadline) {
    List<ObjectRef<String>> pings = new ArrayList<>();
    for (RayWorker w : created) {
      pings.add(w.actor().task(RayRpcServer::ping).remote());
    }
    List<Worker> workers = new ArrayList<>();
    for (int i = 0; i < created.size(); i++) {
      RayWorker w = created.get(i);
      String workerId = w.worker().id();
      try {
        String answer =
            pings.get(i).get(Math.max(1, TimeUnit.NANOSECONDS.toMillis(remaining(deadline))));
        String ip = answer.substring(answer.lastIndexOf(' ') + 1);
        int portCount = job.spec(w.worker().index()).portCount();
        List<Integer> enginePorts =
            portCount == 0
                ? List.of()
                : w.actor()
                    .task(RayRpcServer::allocPorts, portCount)
                    .remote()
                    .get(Math.max(1, TimeUnit.NANOSECONDS.toMillis(remaining(deadline))));
        Worker filled =
            new Worker(workerId, w.worker().role(), w.worker().index(), ip, List.of(), enginePorts);
        created.set(i, new RayWorker(filled, w.actor(), w.group(), w.bundle(), w.actorName()));
        workers.add(filled);
      } catch (RayTimeoutException e) {
        throw new WorkerTimeoutException(
            workerId,
            "createWorkers",
            1,
            startupTimeout,
            "the actor did not answer a ping; its worker JVM may not have started (see the Ray"
                + " logs)");
      } catch (RayActorException e) {
        throw new WorkerFailedException(workerId, "createWorkers", 1, "the actor died starting", e);
      }
    }
    return workers;
  }

  // ---------------------------------------------------------------- queries

  @Override
  public List<Worker> getWorkers(String role, Duration timeout) {
    ensureOpen();
    RoleState state = state(role);
    List<ObjectRef<String>> pings = new ArrayList<>();
    for (RayWorker w : state.workers()) {
      pings.add(w.actor().task(RayRpcServer::ping).remote());
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    for (int i = 0; i < pings.size(); i++) {
      String workerId = state.workers().get(i).worker().id();
      try {
        pings.get(i).get(Math.max(1, TimeUnit.NANOSECONDS.toMillis(remaining(deadline))));
      } catch (RayTimeoutException e) {
        throw new WorkerTimeoutException(workerId, "ping", 1, timeout, "no answer to a ping");
      } catch (RayActorException e) {
        throw new WorkerFailedException(workerId, "ping", 1, "its actor is dead", e);
      }
    }
    return state.workers().stream().map(RayWorker::worker).toList();
  }

  // ---------------------------------------------------------------- engines

  @Override
  public void createEngine(String workerId, String engineClass, String engineName, Object... args) {
    ensureOpen();
    RayWorker w = worker(workerId);
    Object[] callArgs = args == null ? new Object[0] : args;
    ObjectRef<CallResult> ref;
    try {
      ref = w.actor().task(RayRpcServer::createEngine, engineClass, engineName, callArgs).remote();
    } catch (RayActorException e) {
      throw new WorkerFailedException(workerId, "createEngine", 1, "its actor is dead", e);
    } catch (RuntimeException e) {
      throw new EngineCreationException(
          workerId, engineClass, "the arguments cannot be sent to the worker: " + e, null, e);
    }
    CallResult result;
    try {
      result = ref.get(startupTimeout.toMillis());
    } catch (RayActorException e) {
      throw new WorkerFailedException(workerId, "createEngine", 1, "its actor is dead", e);
    } catch (RayTimeoutException e) {
      throw new WorkerTimeoutException(workerId, "createEngine", 1, startupTimeout, engineClass);
    } catch (RuntimeException e) {
      throw new EngineCreationException(workerId, engineClass, e.toString(), null, e);
    }
    if (!result.ok()) {
      throw EngineCreationException.fromResult(workerId, engineClass, result);
    }
  }

  @Override
  public void setWorkerEnv(String workerId, Map<String, String> env) {
    ensureOpen();
    RayWorker w = worker(workerId);
    try {
      w.actor()
          .task(RayRpcServer::setEnv, new HashMap<>(env))
          .remote()
          .get(startupTimeout.toMillis());
    } catch (RayActorException e) {
      throw new WorkerFailedException(workerId, "setWorkerEnv", 1, "its actor is dead", e);
    } catch (RayTimeoutException e) {
      throw new WorkerTimeoutException(workerId, "setWorkerEnv", 1, startupTimeout, null);
    }
  }

  @Override
  public WorkerMemory workerMemory(String workerId) {
    ensureOpen();
    RayWorker w = worker(workerId);
    try {
      return w.actor().task(RayRpcServer::memory).remote().get(startupTimeout.toMillis());
    } catch (RayActorException e) {
      throw new WorkerFailedException(workerId, "workerMemory", 1, "its actor is dead", e);
    } catch (RayTimeoutException e) {
      throw new WorkerTimeoutException(workerId, "workerMemory", 1, startupTimeout, null);
    }
  }

  /** Sets role, rank and seed on a worker for engines created afterwards. */
  public void configure(String workerId, String role, int rank, long seed) {
    ensureOpen();
    RayWorker w = worker(workerId);
    try {
      w.actor()
          .task(RayRpcServer::configure, role, rank, seed)
          .remote()
          .get(startupTimeout.toMillis());
    } catch (RayActorException e) {
      throw new WorkerFailedException(workerId, "configure", 1, "its actor is dead", e);
    } catch (RayTimeoutException e) {
      throw new WorkerTimeoutException(workerId, "configure", 1, startupTimeout, null);
    }
  }

  @Override
  public Object callEngine(
      String workerId, String method, String engineName, CallOptions options, Object... args) {
    ensureOpen();
    Objects.requireNonNull(method, "method");
    CallOptions opts = options == null ? CallOptions.DEFAULT : options;
    RayWorker w = worker(workerId);
    Object[] callArgs = args == null ? new Object[0] : args;
    RuntimeException last = null;
    int attempts = opts.maxRetries() + 1;
    for (int attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) {
        sleep(opts.backoffBefore(attempt - 1));
      }
      ObjectRef<CallResult> ref;
      try {
        ref = w.actor().task(RayRpcServer::call, engineName, method, callArgs).remote();
      } catch (RayActorException e) {
        throw new WorkerFailedException(workerId, method, attempt, "its actor is dead", e);
      } catch (RuntimeException e) {
        throw new EngineCallException(
            workerId,
            engineName,
            method,
            attempt,
            null,
            "the arguments cannot be sent to the worker: " + e,
            null,
            e);
      }
      CallResult result;
      try {
        result = ref.get(opts.timeout().toMillis());
      } catch (RayTimeoutException e) {
        last = e;
        continue;
      } catch (RayActorException e) {
        throw new WorkerFailedException(workerId, method, attempt, "its actor died", e);
      } catch (RayException e) {
        // The transport failed (the result could not be delivered or decoded): transient.
        last = e;
        continue;
      }
      if (result.ok()) {
        return result.value();
      }
      throw EngineCallException.fromResult(workerId, engineName, method, attempt, result);
    }
    throw EngineCallException.exhausted(
        workerId,
        engineName,
        method,
        attempts,
        last instanceof RayTimeoutException,
        opts.timeout(),
        last);
  }

  @Override
  public CompletableFuture<Object> callEngineAsync(
      String workerId, String method, String engineName, CallOptions options, Object... args) {
    ensureOpen();
    return CompletableFuture.supplyAsync(
        () -> callEngine(workerId, method, engineName, options, args), asyncCalls);
  }

  // ---------------------------------------------------------------- teardown

  @Override
  public void deleteWorkers(String role, boolean reverseOrder) {
    List<String> order;
    synchronized (roles) {
      if (role != null && !roles.containsKey(role)) {
        throw new WorkerNotFoundException(role, roles.keySet());
      }
      order = new ArrayList<>(role == null ? roles.keySet() : List.of(role));
      if (role != null) {
        // Roles that live on this role's actors or groups go first.
        for (Map.Entry<String, RoleState> e : roles.entrySet()) {
          if (role.equals(e.getValue().targetRole())) {
            order.add(0, e.getKey());
          }
        }
      } else {
        // Dependent (colocated, forked) roles before their targets.
        order.sort(
            (a, b) ->
                Boolean.compare(
                    roles.get(b).targetRole() != null, roles.get(a).targetRole() != null));
      }
    }
    if (reverseOrder && role == null) {
      List<String> creation = new ArrayList<>(roles());
      Collections.reverse(creation);
      order = creation;
    }
    for (String r : order) {
      deleteRole(r, reverseOrder);
    }
  }

  private void deleteRole(String role, boolean reverseOrder) {
    RoleState state = roles.remove(role);
    if (state == null) {
      return;
    }
    if (state.ownsActors()) {
      List<RayWorker> workers = new ArrayList<>(state.workers());
      if (reverseOrder) {
        Collections.reverse(workers);
      }
      // Phase 1: destroy dispatched to every actor at once.
      Map<RayWorker, ObjectRef<List<String>>> destroys = new LinkedHashMap<>();
      for (RayWorker w : workers) {
        try {
          destroys.put(w, w.actor().task(RayRpcServer::destroy).remote());
        } catch (RuntimeException e) {
          destroys.put(w, null);
        }
      }
      // Phase 2: a bounded wait. Phase 3: exit the finished, kill the rest.
      long deadline = System.nanoTime() + destroyTimeout.toNanos();
      for (Map.Entry<RayWorker, ObjectRef<List<String>>> e : destroys.entrySet()) {
        boolean finished = false;
        if (e.getValue() != null) {
          try {
            e.getValue().get(Math.max(1, TimeUnit.NANOSECONDS.toMillis(remaining(deadline))));
            finished = true;
          } catch (RuntimeException ignored) {
            // Dead, slow or failing: it is killed below.
          }
        }
        if (finished) {
          try {
            e.getKey().actor().task(RayRpcServer::exit).remote();
          } catch (RuntimeException ignored) {
            // Killed below anyway.
          }
        }
        killQuietly(e.getKey().actor());
      }
    }
    // Phase 4: release the reservations (never a target's, which this role does not own).
    for (PlacementGroup group : state.ownedGroups()) {
      removeQuietly(group);
    }
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closeQuietly();
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException ignored) {
      // The JVM is already shutting down.
    }
  }

  private synchronized void closeQuietly() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      if (Ray.isInitialized()) {
        List<String> all = new ArrayList<>(roles());
        Collections.reverse(all);
        for (String role : all) {
          deleteRole(role, true);
        }
      }
    } finally {
      asyncCalls.shutdownNow();
      controllerCache.close();
      controllerPlane.close();
      allocator.close();
    }
  }

  // ---------------------------------------------------------------- helpers

  private void validate(Job job) {
    JobRules.validate(
        job,
        role -> {
          RoleState state = roles.get(role);
          return state == null ? null : state.workers().size();
        });
  }

  private void checkClusterHas(Job job) {
    requireDeviceResource(job, clusterResources());
  }

  /**
   * Refuses a job whose device type the cluster does not declare at all (a job that merely needs
   * more than is free waits for its placement group, and times out).
   */
  static void requireDeviceResource(Job job, Map<String, Double> cluster) {
    DeviceType type = job.spec(0).deviceType();
    if (type == DeviceType.CPU || job.tasks().stream().allMatch(s -> s.devices() == 0)) {
      return;
    }
    if (cluster.getOrDefault(type.resourceName(), 0.0) <= 0) {
      throw new WorkerCreationException(
          job.role(),
          "the job asks for "
              + type
              + " devices but the cluster declares no '"
              + type.resourceName()
              + "' resource (cluster: "
              + cluster
              + ")");
    }
  }

  private static Map<String, Double> clusterResources() {
    Map<String, Double> total = new LinkedHashMap<>();
    for (NodeInfo node : Ray.getRuntimeContext().getAllNodeInfo()) {
      if (node.isAlive) {
        node.resources.forEach((k, v) -> total.merge(k, v, Double::sum));
      }
    }
    total
        .keySet()
        .removeIf(
            k -> k.startsWith("node:") || k.contains("_group_") || k.startsWith("bundle_group"));
    return total;
  }

  private static int detectGpusPerNode() {
    int most = 0;
    for (NodeInfo node : Ray.getRuntimeContext().getAllNodeInfo()) {
      if (node.isAlive) {
        most = Math.max(most, node.resources.getOrDefault("GPU", 0.0).intValue());
      }
    }
    return Math.max(most, 1);
  }

  private static Map<String, Double> actorResources(SchedulingSpec spec) {
    Map<String, Double> resources = new LinkedHashMap<>();
    if (spec.placement() == io.rtensor.scheduler.PlacementStrategy.DEFERRED) {
      // The engine launches its own device servers into the reserved group; the actor holds
      // nothing.
      resources.put("CPU", 0.0);
      return resources;
    }
    resources.put("CPU", spec.cpu());
    if (spec.devices() == 1) {
      resources.put(spec.deviceType().resourceName(), MAIN_DEVICE_SHARE);
    } else if (spec.devices() > 1) {
      resources.put(spec.deviceType().resourceName(), (double) spec.devices());
    }
    if (spec.memoryBytes() > 0) {
      resources.put("memory", (double) spec.memoryBytes());
    }
    return resources;
  }

  /** DEFERRED: the bundle a rank's share of devices falls in. */
  private static int bundleOfRank(List<Map<String, Double>> bundles, Job job, int rank) {
    long before = 0;
    for (int i = 0; i < rank; i++) {
      before += job.spec(i).devices();
    }
    String resource = job.spec(0).deviceType().resourceName();
    long seen = 0;
    for (int b = 0; b < bundles.size(); b++) {
      seen += bundles.get(b).getOrDefault(resource, 0.0).longValue();
      if (before < seen) {
        return b;
      }
    }
    return 0;
  }

  private String groupName(String role, int index) {
    return "rtensor-" + id + "-" + role + "-pg" + index;
  }

  private RoleState state(String role) {
    RoleState state = roles.get(role);
    if (state == null) {
      throw new WorkerNotFoundException(role, roles());
    }
    return state;
  }

  private RayWorker worker(String workerId) {
    Objects.requireNonNull(workerId, "workerId");
    int slash = workerId.lastIndexOf('/');
    RoleState state = slash < 0 ? null : roles.get(workerId.substring(0, slash));
    if (state != null) {
      for (RayWorker w : state.workers()) {
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

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("this RayScheduler is closed");
    }
  }

  private static long remaining(long deadline) {
    return Math.max(0, deadline - System.nanoTime());
  }

  private static void sleep(Duration duration) {
    try {
      Thread.sleep(duration.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while backing off", e);
    }
  }

  private static void killQuietly(ActorHandle<?> actor) {
    try {
      actor.kill(true);
    } catch (RuntimeException ignored) {
      // Already gone.
    }
  }

  private static void removeQuietly(PlacementGroup group) {
    try {
      PlacementGroups.removePlacementGroup(group.getId());
    } catch (RuntimeException ignored) {
      // Already removed.
    }
  }

  /** Builder for {@link RayScheduler}. */
  public static final class Builder {
    private String id;
    private int nGpusPerNode;
    private Duration startupTimeout = Duration.ofSeconds(120);
    private Duration destroyTimeout = Duration.ofSeconds(30);
    private DataPlaneKind dataPlane = DataPlaneKind.defaultForRay();
    private long controllerCacheBytes = 1L << 30;
    private Duration shardGetTimeout = Duration.ofMinutes(5);

    private Builder() {}

    /**
     * How long a fetch from Ray's object store waits (default 5 minutes). A cleared (freed) shard
     * never arrives, so this is also how long a fetch of one takes to fail.
     */
    public Builder shardGetTimeout(Duration timeout) {
      this.shardGetTimeout = Objects.requireNonNull(timeout, "timeout");
      return this;
    }

    /** The data plane of the workers (default: Ray's object store; Flight is selectable). */
    public Builder dataPlane(DataPlaneKind kind) {
      this.dataPlane = Objects.requireNonNull(kind, "kind");
      return this;
    }

    /** Cap of the controller's fetch cache (default 1 GiB). */
    public Builder controllerCacheBytes(long bytes) {
      this.controllerCacheBytes = bytes;
      return this;
    }

    /** A name prefix for this scheduler's actors and groups (default: random). */
    public Builder id(String id) {
      this.id = id;
      return this;
    }

    /** GPUs per node for DEFERRED bundle splits (default: the most any node has, at least 1). */
    public Builder nGpusPerNode(int n) {
      this.nGpusPerNode = n;
      return this;
    }

    /** How long placement and actor start-up may take. */
    public Builder startupTimeout(Duration timeout) {
      this.startupTimeout = timeout;
      return this;
    }

    /** How long deleteWorkers waits for engines to destroy before killing. */
    public Builder destroyTimeout(Duration timeout) {
      this.destroyTimeout = timeout;
      return this;
    }

    public RayScheduler build() {
      return new RayScheduler(this);
    }
  }
}

package io.rtensor.scheduler.ray;

import io.ray.api.ActorHandle;
import io.ray.api.ObjectRef;
import io.ray.api.PlacementGroups;
import io.ray.api.Ray;
import io.ray.api.call.ActorCreator;
import io.ray.api.call.ActorTaskCaller;
import io.ray.api.concurrencygroup.ConcurrencyGroup;
import io.ray.api.concurrencygroup.ConcurrencyGroupBuilder;
import io.ray.api.exception.RayActorException;
import io.ray.api.exception.RayException;
import io.ray.api.exception.RayTimeoutException;
import io.ray.api.options.PlacementGroupCreationOptions;
import io.ray.api.placementgroup.PlacementGroup;
import io.ray.api.placementgroup.PlacementStrategy;
import io.ray.api.runtimeenv.RuntimeEnv;
import io.ray.api.runtimeenv.types.RuntimeEnvName;
import io.rtensor.auth.SessionTls;
import io.rtensor.host.CallResult;
import io.rtensor.host.ControlRequest;
import io.rtensor.runtime.DeviceIds;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.scheduler.DeviceType;
import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.Scheduler;
import io.rtensor.scheduler.SchedulingSpec;
import io.rtensor.scheduler.Worker;
import io.rtensor.scheduler.WorkerCreationException;
import io.rtensor.scheduler.WorkerTimeoutException;
import io.rtensor.scheduler.core.ControlFailure;
import io.rtensor.scheduler.core.ControlFailure.Kind;
import io.rtensor.scheduler.core.ControllerData;
import io.rtensor.scheduler.core.Deadline;
import io.rtensor.scheduler.core.SchedulerCore;
import io.rtensor.scheduler.core.SchedulerSettings;
import io.rtensor.transport.DataPlaneKind;
import io.rtensor.transport.Remotizer;
import io.rtensor.transport.ray.RayObjectStorePlane;
import io.rtensor.wire.DecodeLimits;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link Scheduler} on a Ray cluster: one {@link RayRpcServer} actor per training rank or
 * rollout instance, placed in placement groups.
 *
 * <p>The rules of the contract live in {@link SchedulerCore}; this backend reserves placement
 * groups, starts actors, carries control messages as actor calls and kills actors. Ray must be
 * initialized in this JVM ({@link RayConnection}). The scheduler owns what it creates: {@link
 * #close()} deletes every actor and placement group of it, and a JVM shutdown hook does so as a
 * last resort.
 */
public final class RayScheduler extends SchedulerCore<RayScheduler.Actor, RayScheduler.Placement> {
  private static final Logger log = LoggerFactory.getLogger(RayScheduler.class);

  /** Fraction of a CPU the bundle-0 probe task holds (before the actors take the bundle). */
  static final double SMALL_CPU_SHARE = 0.01;

  /**
   * Concurrent calls one actor serves in its {@link #CONCURRENT_GROUP} (pings and destroy get
   * through a long call, and so do engine calls that overlap another).
   */
  public static final int ACTOR_CONCURRENCY = 16;

  /**
   * The concurrency group of a worker's actor that serves every control request but engine calls,
   * and an engine call made while another is in flight to that worker, on {@link
   * #ACTOR_CONCURRENCY} threads. An engine call made alone goes to the actor's default group of one
   * thread, which Ray runs like a plain actor's method (a no-op call there costs what a plain
   * actor's does; on a pool of threads it costs about a tenth more).
   */
  public static final String CONCURRENT_GROUP = "concurrent";

  private final String id;
  private final DataPlaneKind dataPlaneKind;
  private final SessionSecret secret = SessionSecret.generate();
  private final SessionTls tls;
  private final ControllerData controller;
  private final long shardGetTimeoutMillis;
  private final int nGpusPerNode;

  /**
   * One worker's actor, the bundle it was placed in, and its engine calls that may still be running
   * (those answered, and those that failed without running; a call that timed out stays counted, as
   * it may run on).
   */
  record Actor(
      ActorHandle<RayRpcServer> handle,
      PlacementGroup group,
      int bundle,
      String name,
      AtomicInteger callsInFlight) {
    Actor(ActorHandle<RayRpcServer> handle, PlacementGroup group, int bundle, String name) {
      this(handle, group, bundle, name, new AtomicInteger());
    }
  }

  /** A role's placement groups, the bundle plan they were made from, and rank 0's address. */
  record Placement(
      List<PlacementGroup> groups, List<List<Map<String, Double>>> plan, String master) {}

  private RayScheduler(Builder b, String id) {
    super("RayScheduler " + id, b.timeoutSettings());
    this.id = id;
    this.nGpusPerNode = b.nGpusPerNode > 0 ? b.nGpusPerNode : RayCluster.mostGpusOnANode();
    this.dataPlaneKind = b.dataPlane;
    this.shardGetTimeoutMillis = b.shardGetTimeout.toMillis();
    String controllerHost = RayRpcServer.nodeIp();
    this.tls =
        dataPlaneKind == DataPlaneKind.FLIGHT && b.flightTlsMode().enabledFor(controllerHost)
            ? SessionTls.generate()
            : null;
    this.controller =
        dataPlaneKind == DataPlaneKind.FLIGHT
            ? ControllerData.flight(
                secret.value(), tls, controllerHost, b.controllerStoreCap(), b.controllerCacheCap())
            : ControllerData.of(
                new RayObjectStorePlane(DecodeLimits.DEFAULT, shardGetTimeoutMillis),
                b.controllerCacheCap());
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

  /** The Ray actor name of a worker (actors are named, so they can be found and checked). */
  public String actorName(String workerId) {
    return slot(workerId).handle().name();
  }

  /** Names of the placement groups this scheduler holds for a role (empty for reused roles). */
  public List<String> placementGroupNames(String role) {
    Placement p = role(role).reservation();
    return p == null ? List.of() : p.groups().stream().map(PlacementGroup::getName).toList();
  }

  /** {@code ip:port} where rank 0 of the role listens (found from bundle 0 of its group). */
  public String masterAddress(String role) {
    return role(role).masterAddress();
  }

  /** The data plane this scheduler's workers use. */
  public DataPlaneKind dataPlaneKind() {
    return dataPlaneKind;
  }

  @Override
  public Remotizer dataPlane() {
    return controller.remotizer();
  }

  // ---------------------------------------------------------------- the backend

  @Override
  protected Placement reserve(Job job, Deadline deadline) {
    RayCluster.requireDeviceResource(job, RayCluster.resources());
    List<List<Map<String, Double>>> plan = BundlePlan.groups(job, Math.max(1, nGpusPerNode));
    List<PlacementGroup> groups = new ArrayList<>();
    try {
      for (int g = 0; g < plan.size(); g++) {
        groups.add(
            PlacementGroups.createPlacementGroup(
                new PlacementGroupCreationOptions.Builder()
                    .setName("rtensor-" + id + "-" + job.role() + "-pg" + g)
                    .setBundles(plan.get(g))
                    .setStrategy(PlacementStrategy.PACK)
                    .build()));
      }
      for (PlacementGroup group : groups) {
        int seconds = (int) Math.max(1, deadline.remaining().toSeconds());
        if (!group.wait(seconds)) {
          throw new WorkerTimeoutException(
              job.role(),
              "createWorkers",
              1,
              timeouts().startup(),
              "placement group "
                  + group.getName()
                  + " not ready: the job needs "
                  + BundlePlan.total(plan)
                  + ", the cluster has "
                  + RayCluster.resources());
        }
      }
      String master =
          Ray.task(RayRpcServer::masterAddress)
              .setPlacementGroup(groups.get(0), 0)
              .setResource("CPU", SMALL_CPU_SHARE)
              .remote()
              .get(deadline.remainingMillis());
      return new Placement(List.copyOf(groups), plan, master);
    } catch (RayTimeoutException e) {
      groups.forEach(RayScheduler::removeQuietly);
      throw new WorkerTimeoutException(
          job.role(), "createWorkers", 1, timeouts().startup(), e.getMessage());
    } catch (RuntimeException e) {
      groups.forEach(RayScheduler::removeQuietly);
      throw e;
    }
  }

  @Override
  protected String masterAddress(Placement reservation) {
    return reservation.master();
  }

  @Override
  protected Actor launch(Job job, int rank, Placement placement, Map<String, String> env) {
    SchedulingSpec spec = job.spec(rank);
    PlacementGroup group;
    int bundle;
    switch (spec.placement()) {
      case SEPARATE -> {
        group = placement.groups().get(rank);
        bundle = 0;
      }
      case SHARED -> {
        group = placement.groups().get(0);
        bundle = rank;
      }
      default -> {
        group = placement.groups().get(0);
        bundle = RayCluster.bundleOfRank(placement.plan().get(0), job, rank);
      }
    }
    return startActor(
        Worker.id(job.role(), rank),
        group,
        bundle,
        RayCluster.actorResources(spec),
        env,
        spec.deviceType(),
        List.of());
  }

  @Override
  protected Actor launchFork(Job job, int rank, Actor target, Map<String, String> env) {
    SchedulingSpec spec = job.spec(rank);
    Map<String, Double> resources = new LinkedHashMap<>();
    // The main actor may hold all of the bundle's CPUs: a fork takes none, only its device share.
    resources.put("CPU", 0.0);
    if (spec.devices() == 1) {
      resources.put(spec.deviceType().resourceName(), RayCluster.FORK_DEVICE_SHARE);
    }
    // Ray's id for a fractional share of a bundle's GPU need not be the id the target got: the fork
    // opens the devices its target reports.
    List<Integer> devices;
    try {
      devices = send(target, new ControlRequest.Ping(), timeouts().startup()).deviceIds();
    } catch (ControlFailure f) {
      throw new WorkerCreationException(
          job.role(), "the fork's target does not answer: " + f.getMessage(), f);
    }
    return startActor(
        Worker.id(job.role(), rank),
        target.group(),
        target.bundle(),
        resources,
        env,
        spec.deviceType(),
        devices);
  }

  private Actor startActor(
      String workerId,
      PlacementGroup group,
      int bundle,
      Map<String, Double> resources,
      Map<String, String> env,
      DeviceType deviceType,
      List<Integer> inheritedDevices) {
    String name = "rtensor-" + id + "-" + workerId.replace('/', '-');
    Map<String, String> actorEnv = new LinkedHashMap<>(env);
    // The Flight plane's session secret is not in the env: Ray logs runtime envs (see
    // SecretDelivery).
    if (dataPlaneKind == DataPlaneKind.RAY_OBJECT_STORE) {
      RayObjectStorePlane.WORKER_ENV.forEach(actorEnv::putIfAbsent); // the job's env wins
    }
    RuntimeEnv runtimeEnv = Ray.internal().createRuntimeEnv();
    runtimeEnv.set(RuntimeEnvName.ENV_VARS, actorEnv);
    ActorCreator<RayRpcServer> creator =
        Ray.actor(
                RayRpcServer::new,
                workerId,
                dataPlaneKind.name(),
                shardGetTimeoutMillis,
                DeviceIds.format(inheritedDevices),
                deviceType.name())
            .setName(name)
            .setConcurrencyGroups(concurrentGroup())
            .setPlacementGroup(group, bundle)
            .setRuntimeEnv(runtimeEnv);
    resources.forEach(creator::setResource);
    ActorHandle<RayRpcServer> handle = creator.remote();
    if (dataPlaneKind == DataPlaneKind.FLIGHT) {
      SecretDelivery.deliver(handle, name, secret, tls, timeouts().startup());
    }
    return new Actor(handle, group, bundle, name);
  }

  /** Ray queues calls until the actor is alive: the first ping is the wait. */
  @Override
  protected Actor awaitStarted(Actor actor, String workerId, Deadline deadline) {
    return actor;
  }

  /**
   * The group of every {@link RayRpcServer} method but {@code call} (see {@link
   * #CONCURRENT_GROUP}).
   */
  static ConcurrencyGroup concurrentGroup() {
    return new ConcurrencyGroupBuilder<RayRpcServer>()
        .setName(CONCURRENT_GROUP)
        .setMaxConcurrency(ACTOR_CONCURRENCY)
        .addMethod(RayRpcServer::sealingKey)
        .addMethod(RayRpcServer::provision)
        .addMethod(RayRpcServer::dataAddress)
        .addMethod(RayRpcServer::ping)
        .addMethod(RayRpcServer::pid)
        .addMethod(RayRpcServer::gpuIds)
        .addMethod(RayRpcServer::clearCache)
        .addMethod(RayRpcServer::memory)
        .addMethod(RayRpcServer::allocPorts)
        .addMethod(RayRpcServer::configure)
        .addMethod(RayRpcServer::setEnv)
        .addMethod(RayRpcServer::createEngine)
        .addMethod(RayRpcServer::destroy)
        .addMethod(RayRpcServer::exit)
        .build();
  }

  @Override
  @SuppressWarnings("unchecked")
  protected <T> T send(Actor actor, ControlRequest<T> request, Duration timeout)
      throws ControlFailure {
    boolean call = request instanceof ControlRequest.Call;
    boolean alone = call && actor.callsInFlight().getAndIncrement() == 0;
    boolean mayRunOn = false;
    try {
      ObjectRef<?> ref;
      try {
        ref = submit(actor.handle(), request, alone);
      } catch (RayActorException e) {
        throw new ControlFailure(Kind.DEAD, "its actor is dead", e);
      } catch (RuntimeException e) {
        // Submission serializes the arguments first: nothing reached the actor.
        throw new ControlFailure(Kind.UNSENDABLE, e.toString(), e);
      }
      try {
        return (T) ref.get(Math.max(1, timeout.toMillis()));
      } catch (RayTimeoutException e) {
        mayRunOn = true;
        throw new ControlFailure(Kind.TIMED_OUT, "no reply in " + timeout.toMillis() + " ms", e);
      } catch (RayActorException e) {
        throw new ControlFailure(Kind.DEAD, "its actor died", e);
      } catch (RayException e) {
        throw new ControlFailure(Kind.BROKEN, e.toString(), e);
      }
    } finally {
      if (call && !mayRunOn) {
        actor.callsInFlight().decrementAndGet();
      }
    }
  }

  /**
   * The actor call that carries a request: one per {@link ControlRequest} type; an engine call that
   * is not {@code alone} on its worker goes to the {@link #CONCURRENT_GROUP}.
   */
  private static ObjectRef<?> submit(
      ActorHandle<RayRpcServer> a, ControlRequest<?> request, boolean alone) {
    if (request instanceof ControlRequest.Call c) {
      int device = c.device() == null ? RayRpcServer.DEFAULT_PLACEMENT : c.device();
      ActorTaskCaller<CallResult> caller =
          a.task(RayRpcServer::call, c.engineName(), c.method(), c.args(), device);
      if (!alone) {
        caller.setConcurrencyGroup(CONCURRENT_GROUP);
      }
      return caller.remote();
    } else if (request instanceof ControlRequest.Ping) {
      return a.task(RayRpcServer::ping).remote();
    } else if (request instanceof ControlRequest.CreateEngine c) {
      return a.task(RayRpcServer::createEngine, c.className(), c.engineName(), c.args()).remote();
    } else if (request instanceof ControlRequest.SetEnv e) {
      return a.task(RayRpcServer::setEnv, new HashMap<>(e.env())).remote();
    } else if (request instanceof ControlRequest.Configure c) {
      return a.task(RayRpcServer::configure, c.role(), c.rank(), c.seed()).remote();
    } else if (request instanceof ControlRequest.AllocPorts p) {
      return a.task(RayRpcServer::allocPorts, p.count()).remote();
    } else if (request instanceof ControlRequest.ClearCache c) {
      return a.task(RayRpcServer::clearCache, new ArrayList<>(c.shardIds())).remote();
    } else if (request instanceof ControlRequest.Memory) {
      return a.task(RayRpcServer::memory).remote();
    } else if (request instanceof ControlRequest.Destroy) {
      return a.task(RayRpcServer::destroy).remote();
    } else if (request instanceof ControlRequest.Exit) {
      return a.task(RayRpcServer::exit).remote();
    }
    throw new IllegalArgumentException("no actor call for " + request.name());
  }

  @Override
  protected void stop(Actor actor, boolean exitRequested) {
    kill(actor);
  }

  @Override
  protected void kill(Actor actor) {
    if (!Ray.isInitialized()) {
      return;
    }
    try {
      actor.handle().kill(true);
    } catch (RuntimeException e) {
      log.debug("killing actor {}: {}", actor.name(), e.toString());
    }
  }

  @Override
  protected void release(Placement placement) {
    if (Ray.isInitialized()) {
      placement.groups().forEach(RayScheduler::removeQuietly);
    }
  }

  @Override
  protected void closeBackend() {
    controller.close();
  }

  // ---------------------------------------------------------------- helpers

  private static void removeQuietly(PlacementGroup group) {
    try {
      PlacementGroups.removePlacementGroup(group.getId());
    } catch (RuntimeException e) {
      log.warn("removing placement group {} failed: {}", group.getName(), e.toString());
    }
  }

  /** Builder for {@link RayScheduler}. */
  public static final class Builder extends SchedulerSettings<Builder> {
    private String id;
    private int nGpusPerNode;
    private DataPlaneKind dataPlane = DataPlaneKind.defaultForRay();
    private Duration shardGetTimeout = Duration.ofMinutes(5);

    private Builder() {
      super(Duration.ofSeconds(120), Duration.ofSeconds(30));
    }

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

    /** A name prefix for this scheduler's actors and groups (default: random). */
    public Builder id(String id) {
      if (id == null || id.isBlank() || id.contains("/")) {
        throw new IllegalArgumentException("a scheduler id is a non-empty name without '/'");
      }
      this.id = id;
      return this;
    }

    /** GPUs per node for DEFERRED bundle splits (default: the most any node has, at least 1). */
    public Builder nGpusPerNode(int n) {
      if (n < 0) {
        throw new IllegalArgumentException("GPUs per node must be >= 0 (0: detect), got " + n);
      }
      this.nGpusPerNode = n;
      return this;
    }

    public RayScheduler build() {
      if (!Ray.isInitialized()) {
        throw new IllegalStateException(
            "Ray is not initialized in this JVM: connect first with"
                + " RayConnection.builder().connect()");
      }
      return new RayScheduler(this, id != null ? id : UUID.randomUUID().toString().substring(0, 8));
    }
  }
}

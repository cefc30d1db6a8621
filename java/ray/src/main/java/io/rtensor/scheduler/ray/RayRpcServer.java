package io.rtensor.scheduler.ray;

import io.ray.api.Ray;
import io.ray.api.id.UniqueId;
import io.ray.api.runtimecontext.NodeInfo;
import io.ray.api.runtimecontext.ResourceValue;
import io.ray.runtime.AbstractRayRuntime;
import io.rtensor.auth.SecretSeal;
import io.rtensor.device.Device;
import io.rtensor.device.DeviceVisibility;
import io.rtensor.device.RuntimeKind;
import io.rtensor.host.CallResult;
import io.rtensor.host.EngineHost;
import io.rtensor.host.EngineHostControl;
import io.rtensor.host.WorkerControl;
import io.rtensor.host.WorkerDevices;
import io.rtensor.host.WorkerInfo;
import io.rtensor.host.WorkerMemory;
import io.rtensor.runtime.DeviceIds;
import io.rtensor.runtime.HostPort;
import io.rtensor.runtime.Ports;
import io.rtensor.scheduler.DeviceType;
import io.rtensor.transport.DataPlaneDeadlines;
import io.rtensor.transport.DataPlaneKind;
import io.rtensor.transport.WorkerDataPlane;
import io.rtensor.transport.ray.RayObjectStorePlane;
import io.rtensor.wire.DecodeLimits;
import java.io.IOException;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.apache.arrow.memory.BufferAllocator;

/**
 * The Ray actor behind each worker of the {@link RayScheduler}: a thin adapter that carries each
 * {@link WorkerControl} operation as an actor method. All methods return values (failures included,
 * as {@link CallResult}s), so the scheduler tells an engine's exception from a dead actor.
 */
public class RayRpcServer {
  /** The {@code device} of {@link #call} that asks for the default placement of tensors. */
  public static final int DEFAULT_PLACEMENT = -1;

  /** Bytes a worker's Flight store may hold (Flight plane only). */
  static final long STORE_CAP_BYTES = 4L << 30;

  /** Bytes of fetched shards a worker caches. */
  static final long CACHE_CAP_BYTES = 1L << 30;

  /**
   * How long a Flight worker's calls wait for the scheduler to hand it the session secret (it does
   * right after creating the actor; this bounds the wait if it never does).
   */
  static final long SECRET_WAIT_MILLIS = 120_000;

  private final BufferAllocator allocator;
  private final String workerId;
  private final List<Integer> devices;
  private final Device device;
  private final SecretSeal.Receiver receiver;
  private final CountDownLatch opened = new CountDownLatch(1);
  private volatile WorkerDataPlane data;
  private volatile WorkerControl control;

  /**
   * Ray constructs the actor with the worker id it serves, the data plane its engines use ({@link
   * DataPlaneKind} name) and how long a fetch from the object store may wait. A Flight worker opens
   * its plane once the scheduler has handed it the session secret, sealed to the key this actor
   * makes ({@link #sealingKey}, {@link #provision}; see {@code SecretDelivery}): never through the
   * runtime env, which Ray logs.
   */
  public RayRpcServer(String workerId, String dataPlane, long shardGetTimeoutMillis) {
    this(workerId, dataPlane, shardGetTimeoutMillis, "", DeviceType.GPU.name());
  }

  /**
   * As above, for a worker of a job on {@code deviceType} ({@link DeviceType} name), and for a
   * fork: {@code inheritedDevices} ("2" or "2,3"; "" for none) are the device ids of the worker it
   * was forked from, which it opens instead of what Ray assigned its fractional share (Ray's id for
   * a share of a bundle's device need not be the id the target got).
   *
   * <p>Ray's Java runtime sets no {@code CUDA_VISIBLE_DEVICES} or {@code ASCEND_RT_VISIBLE_DEVICES}
   * for Java actors (its Python one does): before any device runtime initialises here, this shows
   * the process the GPUs and the NPUs Ray assigned it (ids from the actor's resource ids, as Ray's
   * runtime context keeps them: {@code GPU}, {@code NPU}, and their placement-group forms), and
   * none of a kind it was given none of. The engines' {@code deviceIds} are those of the job's
   * device type, in ascending order: device {@code i} in an engine is {@code deviceIds[i]}.
   */
  public RayRpcServer(
      String workerId,
      String dataPlane,
      long shardGetTimeoutMillis,
      String inheritedDevices,
      String deviceType) {
    this.workerId = workerId;
    DeviceType type = DeviceType.valueOf(deviceType);
    List<Integer> inherited = inheritedDevices.isBlank() ? null : DeviceIds.parse(inheritedDevices);
    List<Integer> gpus =
        type == DeviceType.GPU && inherited != null ? inherited : assignedIds(DeviceType.GPU);
    List<Integer> npus =
        type == DeviceType.NPU && inherited != null ? inherited : assignedIds(DeviceType.NPU);
    DeviceVisibility.restrict(RuntimeKind.CUDA, gpus);
    DeviceVisibility.restrict(RuntimeKind.ASCEND, npus);
    this.devices = type == DeviceType.NPU ? npus : gpus;
    this.device = WorkerDevices.open(workerId, devices);
    this.allocator = WorkerDevices.rootAllocator(device, STORE_CAP_BYTES + CACHE_CAP_BYTES);
    if (DataPlaneKind.valueOf(dataPlane) == DataPlaneKind.FLIGHT) {
      this.receiver = new SecretSeal.Receiver();
    } else {
      this.receiver = null;
      open(
          WorkerDataPlane.of(
              new RayObjectStorePlane(DecodeLimits.DEFAULT, shardGetTimeoutMillis),
              allocator,
              CACHE_CAP_BYTES));
    }
  }

  private void open(WorkerDataPlane plane) {
    EngineHost host =
        new EngineHost(
            workerId, plane.transport(), RayRpcServer.class.getClassLoader(), devices, device);
    this.data = plane;
    this.control = new EngineHostControl(host, plane, allocator, nodeIp(), Ray::exitActor);
    opened.countDown();
  }

  /** The public key the session secret is sealed to (a Flight worker; X.509 X25519). */
  public byte[] sealingKey() {
    if (receiver == null) {
      throw new IllegalStateException(workerId + " uses no session secret");
    }
    return receiver.publicKey();
  }

  /** Opens the sealed session secret and, with it, this worker's Flight plane; once. */
  public synchronized boolean provision(byte[] sealed) throws IOException {
    if (receiver == null || data != null) {
      throw new IllegalStateException(workerId + " already has its data plane");
    }
    // The secret, then the session's TLS identity after a newline when its Flight uses TLS (see
    // SecretDelivery).
    SecretDelivery.Opened opened = SecretDelivery.read(receiver.open(sealed));
    open(
        WorkerDataPlane.flight(
            allocator,
            opened.secret().value(),
            opened.tls(),
            nodeIp(),
            STORE_CAP_BYTES,
            CACHE_CAP_BYTES,
            DataPlaneDeadlines.fromEnvironment()));
    return true;
  }

  /** The worker control, once the data plane is open (a Flight worker waits for its secret). */
  private WorkerControl control() {
    try {
      if (!opened.await(SECRET_WAIT_MILLIS, TimeUnit.MILLISECONDS)) {
        throw new IllegalStateException(
            workerId
                + ": the scheduler did not hand this worker its session secret within "
                + SECRET_WAIT_MILLIS
                + " ms");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(workerId + ": interrupted waiting for the session secret", e);
    }
    return control;
  }

  /**
   * The ids of {@code type}'s devices Ray assigned this actor, ascending: the entries of the
   * actor's resource ids under the resource's name or, in a placement group, {@code
   * NAME_group_GROUPID} (the form Ray's own {@code getGpuIds} reads), with a share above zero.
   */
  static List<Integer> assignedIds(DeviceType type) {
    Map<String, List<ResourceValue>> all =
        ((AbstractRayRuntime) Ray.internal()).getAvailableResourceIds();
    return idsOf(type.resourceName(), all);
  }

  /** {@link #assignedIds}'s reading of a resource-id map, for one resource name. */
  static List<Integer> idsOf(String resource, Map<String, List<ResourceValue>> all) {
    Pattern group = Pattern.compile(Pattern.quote(resource) + "_group_[0-9A-Za-z]+");
    TreeSet<Integer> ids = new TreeSet<>();
    all.forEach(
        (name, values) -> {
          if (name.equals(resource) || group.matcher(name).matches()) {
            for (ResourceValue v : values) {
              if (v.capacity > 0) {
                ids.add(v.resourceId.intValue());
              }
            }
          }
        });
    return new ArrayList<>(ids);
  }

  /** The worker's Flight data address ({@code host:port}), or "" on the object store. */
  public String dataAddress() {
    control();
    String address = data.dataAddress();
    return address == null ? "" : address;
  }

  /** See {@link WorkerControl#ping}. */
  public WorkerInfo ping() {
    return control().ping();
  }

  /** The process id of the worker JVM. */
  public long pid() {
    return ProcessHandle.current().pid();
  }

  /** The GPU ids Ray assigned to this actor. */
  public List<Long> gpuIds() {
    return Ray.getRuntimeContext().getGpuIds();
  }

  /** See {@link WorkerControl#clearCache}. */
  public int clearCache(List<String> shardIds) {
    return control().clearCache(shardIds);
  }

  /** See {@link WorkerControl#memory}. */
  public WorkerMemory memory() {
    return control().memory();
  }

  /** See {@link WorkerControl#allocPorts}. */
  public List<Integer> allocPorts(int count) {
    return control().allocPorts(count);
  }

  /** See {@link WorkerControl#configure}. */
  public boolean configure(String role, int rank, long seed) {
    return control().configure(role, rank, seed);
  }

  /** See {@link WorkerControl#setEnv}. */
  public boolean setEnv(Map<String, String> env) {
    return control().setEnv(env);
  }

  /** See {@link WorkerControl#createEngine}. */
  public CallResult createEngine(String className, String engineName, Object[] args) {
    return control().createEngine(className, engineName, args);
  }

  /**
   * See {@link WorkerControl#call}; {@code device} is the worker's device for every tensor
   * argument, or {@link #DEFAULT_PLACEMENT} (a primitive, not a null Integer, in the actor call's
   * arguments).
   */
  public CallResult call(String engineName, String method, Object[] args, int device) {
    return control().call(engineName, method, args, device == DEFAULT_PLACEMENT ? null : device);
  }

  /** See {@link WorkerControl#destroy}. */
  public List<String> destroy() {
    return control().destroy();
  }

  /** See {@link WorkerControl#exit}. */
  public boolean exit() {
    return control().exit();
  }

  /** The node's address and a free port on it: where rank 0 of a training role listens. */
  public static String masterAddress() {
    return HostPort.join(nodeIp(), Ports.free(1).get(0));
  }

  /**
   * The address of the node this process runs on, as the cluster's node table has it (the IP its
   * raylet was started with): what the worker's Flight server binds and advertises, so a worker on
   * another node reaches it. The {@code ray.node-ip} property overrides it.
   */
  static String nodeIp() {
    String configured = System.getProperty("ray.node-ip");
    if (configured != null && !configured.isBlank()) {
      return configured;
    }
    if (Ray.isInitialized()) {
      UniqueId current = Ray.getRuntimeContext().getCurrentNodeId();
      for (NodeInfo node : Ray.getRuntimeContext().getAllNodeInfo()) {
        if (node.nodeId.equals(current)) {
          return node.nodeAddress;
        }
      }
    }
    try {
      return InetAddress.getLocalHost().getHostAddress();
    } catch (IOException e) {
      return "127.0.0.1";
    }
  }
}

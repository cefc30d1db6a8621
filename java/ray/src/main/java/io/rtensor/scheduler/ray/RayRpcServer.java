package io.rtensor.scheduler.ray;

import io.ray.api.Ray;
import io.rtensor.host.CallResult;
import io.rtensor.host.EngineHost;
import io.rtensor.host.WorkerMemory;
import io.rtensor.runtime.Ports;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.transport.DataPlaneKind;
import io.rtensor.transport.FlightShardServerMain;
import io.rtensor.transport.WorkerDataPlane;
import io.rtensor.transport.ray.RayObjectStorePlane;
import io.rtensor.wire.DecodeLimits;
import java.io.IOException;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;

/**
 * The Ray actor behind each worker of the {@link RayScheduler}: it hosts the worker's engines and
 * answers the scheduler's control calls. All methods return values (failures included, as {@link
 * CallResult}s), so the scheduler tells an engine's exception from a dead actor.
 */
public class RayRpcServer {
  /** Bytes a worker's Flight store may hold (Flight plane only). */
  static final long STORE_CAP_BYTES = 4L << 30;

  /** Bytes of fetched shards a worker caches. */
  static final long CACHE_CAP_BYTES = 1L << 30;

  private final String workerId;
  private final BufferAllocator allocator = FlightShardServerMain.newRootAllocator();
  private final WorkerDataPlane data;
  private final EngineHost host;

  /**
   * Ray constructs the actor with the worker id it serves, the data plane its engines use ({@link
   * DataPlaneKind} name) and how long a fetch from the object store may wait. A Flight plane reads
   * the session secret from {@code RTENSOR_SESSION_SECRET}, which the scheduler puts in the actor's
   * runtime environment.
   */
  public RayRpcServer(String workerId, String dataPlane, long shardGetTimeoutMillis)
      throws IOException {
    this.workerId = workerId;
    DataPlaneKind kind = DataPlaneKind.valueOf(dataPlane);
    this.data =
        kind == DataPlaneKind.FLIGHT
            ? WorkerDataPlane.flight(
                allocator,
                SessionSecret.fromEnvironment().value(),
                nodeIp(),
                STORE_CAP_BYTES,
                CACHE_CAP_BYTES)
            : WorkerDataPlane.of(
                new RayObjectStorePlane(DecodeLimits.DEFAULT, shardGetTimeoutMillis),
                allocator,
                CACHE_CAP_BYTES);
    this.host =
        new EngineHost(
            workerId, data.transport(), RayRpcServer.class.getClassLoader(), assignedGpus());
  }

  /** The worker's Flight data address ({@code host:port}), or "" on the object store. */
  public String dataAddress() {
    String address = data.dataAddress();
    return address == null ? "" : address;
  }

  /** The clear call: drops these shards from this worker's fetch cache; returns how many. */
  public int clearCache(List<String> shardIds) {
    return host.evict(shardIds);
  }

  /** What this worker process holds (see {@link WorkerMemory#read}). */
  public WorkerMemory memory() {
    return WorkerMemory.read(workerId, data, allocator);
  }

  /** Answers with the worker id, the process id and the node address. */
  public String ping() {
    return workerId + " pid " + ProcessHandle.current().pid() + " on " + nodeIp();
  }

  /** The process id of the worker JVM. */
  public long pid() {
    return ProcessHandle.current().pid();
  }

  /** The GPU ids Ray assigned to this actor, as the engines' {@code deviceIds}. */
  private static List<Integer> assignedGpus() {
    List<Integer> ids = new ArrayList<>();
    for (Long id : Ray.getRuntimeContext().getGpuIds()) {
      ids.add(id.intValue());
    }
    return ids;
  }

  /** The GPU ids Ray assigned to this actor. */
  public List<Long> gpuIds() {
    return Ray.getRuntimeContext().getGpuIds();
  }

  /** An environment variable of this worker (the spec's env and setWorkerEnv's), or "". */
  public String env(String name) {
    String value = host.context("").getenv(name);
    return value == null ? "" : value;
  }

  /** {@code count} free TCP ports on this node. */
  public List<Integer> allocPorts(int count) {
    return Ports.free(count);
  }

  /** Sets role, rank and seed for engines created afterwards. */
  public boolean configure(String role, int rank, long seed) {
    host.configure(role, rank, seed);
    return true;
  }

  /** Adds environment variables for engines. */
  public boolean setEnv(Map<String, String> env) {
    host.setEnv(env);
    return true;
  }

  /** Creates an engine; see {@link EngineHost#createEngine}. */
  public CallResult createEngine(String className, String engineName, Object[] args) {
    return host.createEngine(className, engineName, args);
  }

  /** Calls an engine method; see {@link EngineHost#call}. */
  public CallResult call(String engineName, String method, Object[] args) {
    return host.call(engineName, method, args);
  }

  /** Destroys every engine; returns one line per engine whose destroy threw. */
  public List<String> destroy() {
    return new ArrayList<>(host.destroyAll());
  }

  /** Ends this actor's process (after {@link #destroy}). */
  public boolean exit() {
    Ray.exitActor();
    return true;
  }

  /** The node's address and a free port on it: where rank 0 of a training role listens. */
  public static String masterAddress() {
    return nodeIp() + ":" + Ports.free(1).get(0);
  }

  static String nodeIp() {
    String configured = System.getProperty("ray.node-ip");
    if (configured != null && !configured.isBlank()) {
      return configured;
    }
    try {
      return InetAddress.getLocalHost().getHostAddress();
    } catch (IOException e) {
      return "127.0.0.1";
    }
  }
}

package io.rtensor.bench;

import io.rtensor.scheduler.CallOptions;
import io.rtensor.scheduler.DeviceType;
import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.Scheduler;
import io.rtensor.scheduler.SchedulingSpec;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Shards moved from one worker's GPU to another's on the RTensor path, against a serial raw chain
 * between the same two workers. A producer engine ({@link DeviceBenchEngine}) returns {@code count}
 * device tensors (stored with one device-to-host copy each, into the memory its data plane serves
 * them from), and a consumer engine takes them as device tensor parameters, received on its device
 * (fetched, and copied onto it from page-locked memory); then the controller clears them ({@link
 * #rtensorPath}). The baseline ({@link #rawChain}) moves the same bytes between the same processes
 * one stage after another with the plainest calls: the driver's own device-to-host copies into
 * {@code cuMemAllocHost} memory, then a raw socket copy (the Flight plane's workers) or plasma
 * objects (the Ray object store plane's actors), then the driver's own host-to-device copies. The
 * claim: the RTensor path at least as fast as the serial chain (1.0x). On the {@link
 * Route#CUDA_IPC} route the producer keeps its tensors on its GPU ({@code @KeepOnDevice}) and the
 * consumer copies them device to device through CUDA IPC, against the same driver calls made
 * directly (no goal set yet). Both paths' bytes are checked by {@link #verify}.
 *
 * <p>The workers are one GPU job and, where the scheduler has a second GPU, another; else the
 * consumer is a fork of the producer on the same GPU. The scheduler is the workload's: closing the
 * workload closes it.
 */
public final class GpuToGpuWorkload implements AutoCloseable {
  /** Throughput of {@link #rtensorPath} over {@link #rawChain} the project aims for. */
  public static final double GOAL = 1.0;

  /** Shards one step moves. */
  public static final int SHARDS = 16;

  /** The Flight row's baseline, for reports. */
  public static final String SOCKET_BASELINE =
      "serial raw chain, same workers: D2H into cuMemAllocHost memory, raw Java socket copy, H2D"
          + " (cuMemcpyDtoHAsync / cuMemcpyHtoDAsync + cuStreamSynchronize, direct driver calls)";

  /** The CUDA IPC row's baseline, for reports. */
  public static final String IPC_BASELINE =
      "raw CUDA IPC chain, same workers: cuIpcGetMemHandle per shard in the producer;"
          + " cuIpcOpenMemHandle, cuMemcpyDtoD, cuIpcCloseMemHandle per shard in the consumer"
          + " (direct driver calls, one binding call each)";

  /** The Ray row's baseline, for reports. */
  public static final String PLASMA_BASELINE =
      "serial raw chain, same actors: D2H into cuMemAllocHost memory, plasma create + memcpy +"
          + " seal, get (mapped), H2D from the mapping (cuMemcpyDtoHAsync / cuMemcpyHtoDAsync +"
          + " cuStreamSynchronize, direct driver calls)";

  static final String PRODUCER = "gpu-producer/0";
  static final String CONSUMER = "gpu-consumer/0";
  private static final long SEED = 0x6206;
  private static final CallOptions CALL =
      CallOptions.DEFAULT.withTimeout(Duration.ofMillis(DeviceBenchEngine.STEP_TIMEOUT_MS));
  private static final CallOptions ON_DEVICE = CALL.withDevice(0);

  /** How the shards go from the producer's GPU to the consumer's. */
  public enum Route {
    /** Stored by the producer, fetched by the consumer over Flight (local workers). */
    FLIGHT,
    /** Through Ray's object store (Ray actors). */
    OBJECT_STORE,
    /**
     * Kept in the producer's GPU memory ({@code @KeepOnDevice}) and copied device to device by the
     * consumer through CUDA IPC (local workers on one machine).
     */
    CUDA_IPC
  }

  private final Scheduler scheduler;
  private final Route route;
  private final boolean plasma;
  private final int count;
  private final long shardBytes;
  private final String placement;

  /**
   * Starts the two workers on {@code scheduler} (which the workload then owns) with {@code env}
   * (for example the device runtime's library), their engines, and the shards.
   *
   * @param route {@link Route#OBJECT_STORE}: the scheduler's plane is Ray's object store, and so is
   *     the raw chain's hop; {@link Route#FLIGHT}: a socket between the workers, which listen on
   *     loopback; {@link Route#CUDA_IPC}: the Flight plane's workers, the raw chain CUDA IPC
   */
  public GpuToGpuWorkload(
      Scheduler scheduler, Route route, int count, long shardBytes, Map<String, String> env) {
    this.scheduler = scheduler;
    this.route = route;
    this.plasma = route == Route.OBJECT_STORE;
    this.count = count;
    this.shardBytes = shardBytes;
    try {
      SchedulingSpec spec =
          SchedulingSpec.builder().cpu(1).devices(1, DeviceType.GPU).env(env).build();
      scheduler.createWorkers(Job.builder("gpu-producer").task(spec).build());
      boolean separate = !plasma && scheduler.nGpusPerNode() >= 2;
      if (separate) {
        scheduler.createWorkers(Job.builder("gpu-consumer").task(spec).build());
      } else {
        scheduler.forkWorkers("gpu-consumer", "gpu-producer");
      }
      String engine = (plasma ? RayDeviceBenchEngine.class : DeviceBenchEngine.class).getName();
      for (String worker : List.of(PRODUCER, CONSUMER)) {
        scheduler.createEngine(worker, engine, null);
      }
      call(PRODUCER, "prepareProducer", count, shardBytes, SEED);
      if (route != Route.FLIGHT) {
        call(CONSUMER, "prepareConsumer", count, shardBytes);
      } else {
        Object port = call(CONSUMER, "prepareConsumer", count, shardBytes, "127.0.0.1");
        call(PRODUCER, "rawConnect", "127.0.0.1", port);
      }
      placement =
          "producer on "
              + call(PRODUCER, "describeDevice")
              + ", consumer on "
              + call(CONSUMER, "describeDevice")
              + (separate ? "" : " (a forked worker: the same GPU)");
    } catch (RuntimeException e) {
      scheduler.close();
      throw e;
    }
  }

  private Object call(String worker, String method, Object... args) {
    return scheduler.callEngine(worker, method, null, CALL, args);
  }

  /** Where the two engines run, e.g. {@code producer on cuda:0 (NAME, PCI id), consumer on ...}. */
  public String placement() {
    return placement;
  }

  /** Bytes one step moves. */
  public long bytes() {
    return count * shardBytes;
  }

  /**
   * The RTensor path: the producer returns its device tensors, the consumer takes them on its
   * device, the controller clears them.
   */
  public long rtensorPath() {
    Object handles = call(PRODUCER, produceMethod());
    try {
      return ((Number) scheduler.callEngine(CONSUMER, "consume", null, ON_DEVICE, handles))
          .longValue();
    } finally {
      scheduler.clearShards(handles);
    }
  }

  private String produceMethod() {
    return route == Route.CUDA_IPC ? "produceKept" : "produce";
  }

  /** The baseline: the serial raw chain between the same two workers. */
  public long rawChain() throws Exception {
    if (route == Route.CUDA_IPC) {
      Object handles = call(PRODUCER, "rawExportIpc");
      return ((Number) call(CONSUMER, "rawOpenIpc", handles)).longValue();
    }
    if (plasma) {
      Object refs = call(PRODUCER, "rawPut");
      return ((Number) call(CONSUMER, "rawGet", refs)).longValue();
    }
    CompletableFuture<Object> received =
        scheduler.callEngineAsync(CONSUMER, "rawReceive", null, CALL);
    call(PRODUCER, "rawSend");
    // The consumer's read is bounded by its own socket watchdog and by the call's timeout.
    return ((Number) received.get(DeviceBenchEngine.STEP_TIMEOUT_MS, TimeUnit.MILLISECONDS))
        .longValue();
  }

  /**
   * Runs each path once more and has the consumer check every byte it received on its device.
   *
   * @throws io.rtensor.scheduler.EngineCallException naming the path and shard with wrong bytes
   */
  public void verify() throws Exception {
    Object handles = call(PRODUCER, produceMethod());
    try {
      scheduler.callEngine(CONSUMER, "consumeAndCheck", null, ON_DEVICE, handles, SEED);
    } finally {
      scheduler.clearShards(handles);
    }
    rawChain();
    call(CONSUMER, "checkRawReceived", SEED);
  }

  @Override
  public void close() {
    scheduler.close();
  }
}

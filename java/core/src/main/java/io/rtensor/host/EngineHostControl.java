package io.rtensor.host;

import io.rtensor.device.DeviceVisibility;
import io.rtensor.device.RuntimeKind;
import io.rtensor.runtime.Ports;
import io.rtensor.transport.WorkerDataPlane;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.arrow.memory.BufferAllocator;

/**
 * {@link WorkerControl} over one worker's {@link EngineHost} and data plane: the one implementation
 * both schedulers' workers serve.
 */
public final class EngineHostControl implements WorkerControl {
  private final EngineHost host;
  private final WorkerDataPlane data;
  private final BufferAllocator allocator;
  private final String nodeHost;
  private final Runnable exit;

  /**
   * @param nodeHost the address of this worker's node, reported by {@link #ping}
   * @param exit ends the process once the reply to {@link #exit()} can leave (the local worker
   *     releases its main thread; the Ray actor calls {@code Ray.exitActor})
   */
  public EngineHostControl(
      EngineHost host,
      WorkerDataPlane data,
      BufferAllocator allocator,
      String nodeHost,
      Runnable exit) {
    this.host = Objects.requireNonNull(host, "host");
    this.data = Objects.requireNonNull(data, "data");
    this.allocator = Objects.requireNonNull(allocator, "allocator");
    this.nodeHost = Objects.requireNonNull(nodeHost, "nodeHost");
    this.exit = Objects.requireNonNull(exit, "exit");
  }

  @Override
  public WorkerInfo ping() {
    return new WorkerInfo(
        host.workerId(), ProcessHandle.current().pid(), nodeHost, host.deviceIds());
  }

  @Override
  public CallResult createEngine(String className, String engineName, Object[] args) {
    return host.createEngine(className, engineName, args);
  }

  @Override
  public CallResult call(String engineName, String method, Object[] args, Integer device) {
    return host.call(engineName, method, args, device);
  }

  /**
   * Sets the variables for engines ({@link io.rtensor.engine.EngineContext#getenv}) and in this
   * process's native environment, where native libraries (CUDA, NCCL, HCCL) read them: variables
   * set before those libraries initialise take effect. A device-visibility variable changed after
   * its runtime initialised is refused ({@link
   * io.rtensor.device.RuntimeAlreadyInitializedException}) and nothing is set.
   */
  @Override
  public boolean setEnv(Map<String, String> env) {
    for (RuntimeKind kind : RuntimeKind.values()) {
      String variable = kind.visibleDevicesVariable();
      if (variable != null && env.containsKey(variable) && DeviceVisibility.initialized(kind)) {
        DeviceVisibility.setNativeEnv(variable, env.get(variable)); // refuses with the reason
      }
    }
    env.forEach(DeviceVisibility::setNativeEnv);
    host.setEnv(env);
    return true;
  }

  @Override
  public boolean configure(String role, int rank, long seed) {
    host.configure(role, rank, seed);
    return true;
  }

  @Override
  public List<Integer> allocPorts(int count) {
    return new ArrayList<>(Ports.free(count));
  }

  @Override
  public int clearCache(List<String> shardIds) {
    return host.evict(shardIds);
  }

  @Override
  public WorkerMemory memory() {
    return WorkerMemory.read(host.workerId(), data, allocator);
  }

  @Override
  public List<String> destroy() {
    return new ArrayList<>(host.destroyAll());
  }

  @Override
  public boolean exit() {
    exit.run();
    return true;
  }
}

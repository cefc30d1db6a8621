package io.rtensor.engine;

import io.rtensor.device.Device;
import java.util.List;
import java.util.Map;

/**
 * Where an engine runs.
 *
 * @param workerId {@code role/index} of the hosting worker
 * @param engineName the engine's name on that worker
 * @param role the role set by {@code configure} (defaults to the worker id's role)
 * @param rank the rank set by {@code configure} (defaults to the worker id's index)
 * @param seed the seed set by {@code configure} (0 by default)
 * @param env environment set through {@code setWorkerEnv}, over the process environment
 * @param deviceIds the node's device ids this worker was assigned (Ray's resource ids of the actor,
 *     or the local scheduler's assignment), in the order the worker sees them: the engine's device
 *     {@code i} is physical device {@code deviceIds.get(i)}; empty when it holds no device
 * @param device the device the worker's engines compute on (its runtime's device 0, physical device
 *     {@code deviceIds.get(0)}), where {@code DeviceTensor} parameters receive their tensors; the
 *     worker's other devices are {@code device.runtime().device(i)}; null when the worker holds no
 *     device or no device runtime loads in it
 */
public record EngineContext(
    String workerId,
    String engineName,
    String role,
    int rank,
    long seed,
    Map<String, String> env,
    List<Integer> deviceIds,
    Device device) {

  public EngineContext {
    env = Map.copyOf(env);
    deviceIds = List.copyOf(deviceIds);
  }

  /** A variable from {@code setWorkerEnv}, else from the process environment, else null. */
  public String getenv(String name) {
    String value = env.get(name);
    return value != null ? value : System.getenv(name);
  }
}

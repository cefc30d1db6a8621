package io.rtensor.scheduler.ray;

import io.ray.api.Ray;
import java.util.List;

/**
 * A Ray actor that reports where it runs: its process id, the GPUs Ray assigned it and its
 * environment. Used by the smoke checks to show that project classes run in Ray worker JVMs.
 */
public class ProbeActor {
  /** Ray creates the actor with this constructor. */
  public ProbeActor() {}

  /** The worker JVM's process id. */
  public long pid() {
    return ProcessHandle.current().pid();
  }

  /** The GPU ids Ray assigned to this actor (empty when it holds no GPU). */
  public List<Long> gpuIds() {
    return Ray.getRuntimeContext().getGpuIds();
  }

  /** An environment variable of the worker process, or the empty string. */
  public String env(String name) {
    String value = System.getenv(name);
    return value == null ? "" : value;
  }

  /** The length of a byte array received from the caller (proves the bytes crossed). */
  public int length(byte[] bytes) {
    return bytes.length;
  }
}

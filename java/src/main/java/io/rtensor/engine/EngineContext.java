package io.rtensor.engine;

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
 */
public record EngineContext(
    String workerId, String engineName, String role, int rank, long seed, Map<String, String> env) {

  public EngineContext {
    env = Map.copyOf(env);
  }

  /** A variable from {@code setWorkerEnv}, else from the process environment, else null. */
  public String getenv(String name) {
    String value = env.get(name);
    return value != null ? value : System.getenv(name);
  }
}

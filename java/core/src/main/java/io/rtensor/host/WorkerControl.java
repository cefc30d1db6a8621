package io.rtensor.host;

import java.util.List;
import java.util.Map;

/**
 * The control operations a scheduler sends to one of its workers. Written once ({@link
 * EngineHostControl}) around the worker's {@link EngineHost}; the Ray actor and the local worker's
 * control server only carry these calls over their transport.
 */
public interface WorkerControl {
  /** Who answers: worker id, process id and the node address it serves from. */
  WorkerInfo ping();

  /** Creates an engine; see {@link EngineHost#createEngine}. */
  CallResult createEngine(String className, String engineName, Object[] args);

  /**
   * Calls an engine method; see {@link EngineHost#call(String, String, Object[], Integer)}. {@code
   * device}: the worker's device every tensor argument is received on, or null for the default
   * placement.
   */
  CallResult call(String engineName, String method, Object[] args, Integer device);

  /** Sets environment variables for engines created afterwards (and the process, where it can). */
  boolean setEnv(Map<String, String> env);

  /** Sets role, rank and seed for engines created afterwards. */
  boolean configure(String role, int rank, long seed);

  /** {@code count} free TCP ports on the worker's node. */
  List<Integer> allocPorts(int count);

  /** Drops these shards from the worker's fetch cache; returns how many were cached. */
  int clearCache(List<String> shardIds);

  /** What the worker process holds (a full garbage collection runs first). */
  WorkerMemory memory();

  /** Destroys every engine; returns one line per engine whose destroy threw. */
  List<String> destroy();

  /** Ends the worker process after this call has answered. */
  boolean exit();
}

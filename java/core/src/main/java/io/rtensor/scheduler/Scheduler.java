package io.rtensor.scheduler;

import io.rtensor.host.WorkerMemory;
import io.rtensor.transport.Remotizer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Runs workers for a single controller and calls the engines they host.
 *
 * <p>Two implementations share this contract: the Ray scheduler (one Ray actor per worker, in
 * placement groups) and the local scheduler (child JVMs on this machine). No Ray type appears here.
 * A worker id is {@code role/index}. Every failure is a {@link SchedulerException} subclass.
 */
public interface Scheduler extends AutoCloseable {

  /** GPUs per node this scheduler plans with (bundles are split across nodes by it). */
  int nGpusPerNode();

  /**
   * Creates the workers of a job and waits until they answer.
   *
   * @return the workers, in rank order
   * @throws WorkerCreationException for an invalid job or when the workers cannot be placed or
   *     started
   * @throws WorkerTimeoutException when they do not come up in the startup timeout
   */
  List<Worker> createWorkers(Job job);

  /**
   * The workers of a role after checking each answers within {@code timeout}.
   *
   * @throws WorkerNotFoundException for an unknown role
   * @throws WorkerTimeoutException when a worker does not answer in time
   * @throws WorkerFailedException when a worker is dead
   */
  List<Worker> getWorkers(String role, Duration timeout);

  /** The roles this scheduler runs, in creation order. */
  List<String> roles();

  /**
   * Deletes the workers of {@code role}, or of every role when {@code role} is null, in phases:
   * destroy dispatched to all at once, a bounded wait, kill whatever did not finish, then release
   * their reservations. Colocated roles that reuse another role's workers release nothing of the
   * target's.
   *
   * @param reverseOrder delete roles (and ranks) in reverse creation order
   */
  void deleteWorkers(String role, boolean reverseOrder);

  /**
   * Starts a new worker beside each worker of {@code targetRole}, on the same devices, as role
   * {@code role}.
   */
  List<Worker> forkWorkers(String role, String targetRole);

  /**
   * Creates an engine on a worker from a class name and constructor arguments. The first engine of
   * a worker is its default.
   *
   * @throws EngineCreationException when the class is missing, is not an engine, or its constructor
   *     throws
   */
  void createEngine(String workerId, String engineClass, String engineName, Object... args);

  /** Sets role, rank and seed on a worker, for engines created afterwards. */
  void configure(String workerId, String role, int rank, long seed);

  /** Sets environment variables in a worker's process (visible to engines created afterwards). */
  void setWorkerEnv(String workerId, Map<String, String> env);

  /**
   * Calls {@code method} on engine {@code engineName} (null for the default) of a worker. Tensor
   * handles in the arguments are localized on the worker, tensors in the result come back as
   * handles.
   *
   * <p>A call is resubmitted only when its request provably never reached the worker, or when
   * {@link CallOptions#idempotent()} says running it twice is harmless; see {@link CallOptions}.
   *
   * @throws EngineCallException when the engine throws (never retried), the method is missing or
   *     ambiguous, or the arguments cannot be sent
   * @throws WorkerTimeoutException when the worker did not answer in the call's timeout (the call
   *     may still be running there)
   * @throws WorkerFailedException when the worker died or the connection broke after sending
   */
  Object callEngine(
      String workerId, String method, String engineName, CallOptions options, Object... args);

  /** {@link #callEngine} without waiting; the future completes with its result or exception. */
  CompletableFuture<Object> callEngineAsync(
      String workerId, String method, String engineName, CallOptions options, Object... args);

  /**
   * The controller's side of the data plane this scheduler's workers use. Its {@code localize}
   * fetches the shards that handles name straight from the workers (or object store) holding them,
   * into memory the caller owns; the bytes of a worker-to-worker hop never pass through here.
   */
  Remotizer dataPlane();

  /**
   * Removes the shards that {@code value}'s handles name from wherever they are stored, and drains
   * them from the fetch cache of the controller and of every worker (AReaL's clear semantics). A
   * dead worker holds no cache and is skipped; a live worker that does not answer fails the call
   * with its {@link WorkerTimeoutException} after every other worker was drained.
   *
   * @return the number of shards removed from their stores
   */
  long clearShards(Object value);

  /**
   * Reads what worker {@code workerId}'s process holds (heap after a collection, Arrow memory,
   * stored and cached shards). The read runs a full garbage collection in that process: for
   * monitoring and checks, not for every step of a hot loop.
   *
   * @throws WorkerNotFoundException if there is no such worker
   */
  WorkerMemory workerMemory(String workerId);

  /** Deletes every worker this scheduler created and releases what it reserved. */
  @Override
  void close();
}

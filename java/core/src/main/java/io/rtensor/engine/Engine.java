package io.rtensor.engine;

/**
 * An engine hosted by a worker: a training rank, a rollout instance, or anything the controller
 * calls methods on. Its public methods are what {@code Scheduler.callEngine} and typed proxies
 * call.
 *
 * <p>An engine class needs a public constructor matching the arguments given to {@code
 * createEngine}. The worker calls {@link #initialize} once after construction and {@link #destroy}
 * when the worker is deleted. Methods may be called from several threads at once.
 */
public interface Engine {
  /** Called once after construction, before any method call. */
  default void initialize(EngineContext context) throws Exception {}

  /** Releases what the engine holds; called once when its worker is deleted. */
  default void destroy() throws Exception {}
}

package io.rtensor.scheduler.core;

import java.time.Duration;

/**
 * The options every scheduler builder has: the timeouts of the control operations and the cap of
 * the controller's fetch cache. A backend's builder extends it with its own.
 *
 * @param <B> the concrete builder, returned by each setter
 */
public abstract class SchedulerSettings<B extends SchedulerSettings<B>> {
  private Duration startupTimeout;
  private Duration createEngineTimeout = Duration.ofMinutes(30);
  private Duration destroyTimeout;
  private long controllerCacheBytes = 1L << 30;
  private long controllerStoreBytes = 1L << 30;

  protected SchedulerSettings(Duration startupTimeout, Duration destroyTimeout) {
    this.startupTimeout = startupTimeout;
    this.destroyTimeout = destroyTimeout;
  }

  @SuppressWarnings("unchecked")
  private B self() {
    return (B) this;
  }

  /** How long placing and starting a role's workers may take. */
  public B startupTimeout(Duration timeout) {
    this.startupTimeout = timeout;
    return self();
  }

  /** How long creating an engine may take (default 30 minutes: loading a model is slow). */
  public B createEngineTimeout(Duration timeout) {
    this.createEngineTimeout = timeout;
    return self();
  }

  /** How long deleteWorkers waits for engines to destroy before it kills their workers. */
  public B destroyTimeout(Duration timeout) {
    this.destroyTimeout = timeout;
    return self();
  }

  /** Cap of the controller's fetch cache (default 1 GiB). */
  public B controllerCacheBytes(long bytes) {
    if (bytes <= 0) {
      throw new IllegalArgumentException("controller cache cap must be > 0, got " + bytes);
    }
    this.controllerCacheBytes = bytes;
    return self();
  }

  /**
   * Cap of the controller's own Flight shard store (default 1 GiB; Flight plane only): what {@code
   * dataPlane().remotize(...)} stores on the controller until it is cleared.
   */
  public B controllerStoreBytes(long bytes) {
    if (bytes <= 0) {
      throw new IllegalArgumentException("controller store cap must be > 0, got " + bytes);
    }
    this.controllerStoreBytes = bytes;
    return self();
  }

  /** The controller's shard store cap set so far. */
  public long controllerStoreCap() {
    return controllerStoreBytes;
  }

  /** The timeouts set so far. */
  public SchedulerCore.Timeouts timeoutSettings() {
    return new SchedulerCore.Timeouts(startupTimeout, createEngineTimeout, destroyTimeout);
  }

  /** The controller's fetch cache cap set so far. */
  public long controllerCacheCap() {
    return controllerCacheBytes;
  }
}

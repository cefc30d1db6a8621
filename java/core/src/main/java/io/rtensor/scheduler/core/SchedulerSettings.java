package io.rtensor.scheduler.core;

import io.rtensor.transport.FlightTlsMode;
import java.time.Duration;

/**
 * The options every scheduler builder has: the timeouts of the control operations, the caps of the
 * controller's fetch cache and shard store, and whether Flight runs over TLS. A backend's builder
 * extends it with its own.
 *
 * @param <B> the concrete builder, returned by each setter
 */
public abstract class SchedulerSettings<B extends SchedulerSettings<B>> {
  private Duration startupTimeout;
  private Duration createEngineTimeout = Duration.ofMinutes(30);
  private Duration destroyTimeout;
  private long controllerCacheBytes = 1L << 30;
  private long controllerStoreBytes = 1L << 30;
  private FlightTlsMode flightTls;

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

  /**
   * Whether the session's Flight data plane runs over TLS ({@link FlightTlsMode}): with it on, the
   * scheduler makes the session's key and certificate ({@link io.rtensor.auth.SessionTls}) in
   * memory and hands them to its workers as it hands them the session secret. Default: {@link
   * FlightTlsMode#fromEnvironment()} ({@code RTENSOR_FLIGHT_TLS} or {@code -Drtensor.flight.tls},
   * else off). Only the Flight plane uses it.
   */
  public B flightTls(FlightTlsMode mode) {
    this.flightTls = java.util.Objects.requireNonNull(mode, "mode");
    return self();
  }

  /** The Flight TLS mode set so far (else the environment's). */
  public FlightTlsMode flightTlsMode() {
    return flightTls != null ? flightTls : FlightTlsMode.fromEnvironment();
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

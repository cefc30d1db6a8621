package io.rtensor.transport;

import java.util.Locale;

/**
 * Whether a session's Flight data plane runs over TLS: every shard server of the session serves the
 * session's certificate ({@link io.rtensor.auth.SessionTls}) and every client trusts exactly it.
 * The session handshake runs on top either way. Set on a scheduler's builder ({@code
 * SchedulerSettings#flightTls}) or with the system property {@value #PROPERTY} or the environment
 * variable {@value #ENV} ({@code on}, {@code off} or {@code auto}); the default is {@link #OFF}.
 */
public enum FlightTlsMode {
  /** Plaintext Flight (the default). */
  OFF,
  /** TLS for every Flight server and client of the session. */
  ON,
  /**
   * TLS when the controller's advertised Flight host is not a loopback address, that is when shards
   * can cross between nodes (the local scheduler's sessions stay plaintext; a Ray session on a
   * cluster's node address uses TLS).
   */
  AUTO;

  /** The system property that sets the default mode. */
  public static final String PROPERTY = "rtensor.flight.tls";

  /** The environment variable that sets the default mode (the system property wins). */
  public static final String ENV = "RTENSOR_FLIGHT_TLS";

  /** The mode {@value #PROPERTY} or {@value #ENV} sets, else {@link #OFF}. */
  public static FlightTlsMode fromEnvironment() {
    String value = System.getProperty(PROPERTY);
    if (value == null || value.isBlank()) {
      value = System.getenv(ENV);
    }
    return value == null || value.isBlank() ? OFF : parse(value);
  }

  /** {@code on}/{@code true}/{@code 1}, {@code off}/{@code false}/{@code 0} or {@code auto}. */
  public static FlightTlsMode parse(String value) {
    return switch (value.trim().toLowerCase(Locale.ROOT)) {
      case "on", "true", "1", "yes" -> ON;
      case "off", "false", "0", "no" -> OFF;
      case "auto" -> AUTO;
      default ->
          throw new IllegalArgumentException(
              "Flight TLS mode must be on, off or auto, got '" + value + "'");
    };
  }

  /** Whether a session whose controller advertises {@code host} uses TLS in this mode. */
  public boolean enabledFor(String host) {
    return switch (this) {
      case ON -> true;
      case OFF -> false;
      case AUTO -> !isLoopback(host);
    };
  }

  private static boolean isLoopback(String host) {
    String h = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
    return h.equalsIgnoreCase("localhost")
        || h.startsWith("127.")
        || h.equals("::1")
        || h.equals("0:0:0:0:0:0:0:1");
  }
}

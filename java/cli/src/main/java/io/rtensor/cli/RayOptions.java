package io.rtensor.cli;

import io.rtensor.scheduler.ray.RayConnection;
import picocli.CommandLine.Option;

/**
 * The options of the commands that may drive Ray (demo, bench, doctor): where the head is, and
 * whether to show what Ray and rtensor log.
 */
final class RayOptions {
  @Option(
      names = "--ray-address",
      paramLabel = "HOST:PORT",
      description = "the Ray head (default: RTENSOR_RAY_ADDRESS)")
  String address;

  @Option(
      names = "--verbose",
      description =
          "also show what Ray and rtensor log below WARN on stderr (Ray's native client lines"
              + " while it connects, rtensor's INFO and DEBUG)")
  boolean verbose;

  /** The head's address: {@code --ray-address}, else RTENSOR_RAY_ADDRESS; null with neither. */
  String address() {
    if (address != null) {
      return address;
    }
    String configured =
        System.getProperty("rtensor.ray.address", System.getenv("RTENSOR_RAY_ADDRESS"));
    return configured == null || configured.isBlank() ? null : configured;
  }

  /** Applies {@code --verbose}: call first, before anything logs. */
  void applyLogging() {
    if (verbose) {
      CliLogging.verbose();
    }
  }

  /** Connects this JVM to the head at {@link #address()} as a Ray driver. */
  RayConnection connect() {
    return connect(address());
  }

  /** Connects this JVM to the head at {@code head} (null: as {@link RayConnection} finds it). */
  RayConnection connect(String head) {
    RayConnection.Builder builder = RayConnection.builder().quietStartup(!verbose);
    if (head != null) {
      builder.address(head);
    }
    return builder.connect();
  }
}

package io.rtensor.testing;

import static org.junit.jupiter.api.Assertions.fail;

import io.rtensor.scheduler.ray.RayConnection;
import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;

/**
 * The test JVM's one connection to the Ray head that {@code scripts/ray-head start} runs.
 *
 * <p>Without an address the Ray tests fail under CI (the {@code CI} variable is set) and skip with
 * a printed reason elsewhere.
 */
public final class RayTestCluster {
  private static RayConnection connection;

  private RayTestCluster() {}

  /** Connects once per JVM; the connection closes when the JVM exits. */
  public static synchronized RayConnection connect() {
    if (connection != null) {
      return connection;
    }
    String address =
        System.getProperty("rtensor.ray.address", System.getenv("RTENSOR_RAY_ADDRESS"));
    if (address == null || address.isBlank()) {
      String reason =
          "no Ray head: RTENSOR_RAY_ADDRESS is not set (run scripts/test, or scripts/ray-head start"
              + " and export the variables of scripts/ray-head env)";
      if (System.getenv("CI") != null) {
        fail(reason);
      }
      System.out.println("[ray tests] skipped: " + reason);
      Assumptions.abort(reason);
    }
    connection =
        RayConnection.builder().address(address).codeSearchPath(codeSearchPath()).connect();
    Runtime.getRuntime().addShutdownHook(new Thread(connection::close, "ray-test-shutdown"));
    return connection;
  }

  /**
   * This JVM's class path plus the tests' Python modules: Ray makes the job's code search path the
   * Python workers' {@code sys.path} too, so Java tests can call Python functions.
   */
  private static List<String> codeSearchPath() {
    List<String> entries = new ArrayList<>();
    for (String entry : System.getProperty("java.class.path", "").split(File.pathSeparator)) {
      if (!entry.isBlank() && !entry.contains("surefire") && new File(entry).exists()) {
        entries.add(new File(entry).getAbsolutePath());
      }
    }
    Path python =
        Path.of(
            System.getProperty("rtensor.root", "."),
            "java",
            "ray",
            "src",
            "test",
            "resources",
            "python");
    entries.add(python.toAbsolutePath().normalize().toString());
    return entries;
  }
}

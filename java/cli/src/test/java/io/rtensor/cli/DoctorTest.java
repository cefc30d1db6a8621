package io.rtensor.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.testing.RayTestCluster;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@code ./rtensor doctor} against the test head: every check runs, passes and says so. */
class DoctorTest {

  @Tag("ray")
  @Test
  void doctorPassesEveryCheckOnTheTestHeadAndVerboseShowsRaysStartupLines() throws Exception {
    RayTestCluster.connect(); // fails under CI, skips elsewhere, when no head is running
    // Its own JVM: doctor connects as a Ray driver, one per process.
    ChildLauncher.Result run = ChildLauncher.run(300, "doctor", "--verbose");
    assertEquals(0, run.code(), run.toString());
    List<String> lines = run.out().lines().toList();
    for (String check : List.of("native", "cluster", "actor", "objects", "shards", "placement")) {
      assertTrue(
          lines.stream().anyMatch(l -> l.matches(check + " +: .*")), check + ": " + run.out());
    }
    assertTrue(run.out().contains("cluster   : up at "), run.out());
    assertTrue(run.out().matches("(?s).*actor     : ProbeActor runs in worker JVM pid \\d+.*"));
    assertTrue(run.out().contains("64 MiB byte[] put + get in") && run.out().contains("intact"));
    assertTrue(
        run.out().contains("placement : 2 x 1-GPU bundles ready; actor in bundle 1 got GPU"));
    assertEquals("all checks passed", lines.get(lines.size() - 1), run.out());
    // --verbose leaves Ray's native client lines on stderr (the demo's test sees them gone).
    assertTrue(run.err().contains("gcs_client"), run.err());
  }
}

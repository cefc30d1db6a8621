package io.rtensor.cuda;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Runs only where an NVIDIA driver is installed; elsewhere it skips and says why. */
@Tag("gpu")
class GpuPresenceTest {

  static boolean nvidiaDriverPresent() {
    return Files.exists(Path.of("/proc/driver/nvidia/version"));
  }

  @Test
  void nvidiaDriverReportsAVersion() throws Exception {
    if (!nvidiaDriverPresent()) {
      System.out.println("[cuda-tests] skipped: no NVIDIA driver (/proc/driver/nvidia/version)");
    }
    assumeTrue(nvidiaDriverPresent(), "no NVIDIA driver on this machine");
    String version = Files.readString(Path.of("/proc/driver/nvidia/version"));
    assertTrue(version.contains("NVRM"), version);
  }
}

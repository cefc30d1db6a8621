package io.rtensor.cuda;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.device.Device;
import io.rtensor.device.DeviceRuntime;
import io.rtensor.device.RuntimeProbe;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Runs only where an NVIDIA driver is installed; elsewhere it skips and says why. */
@Tag("gpu")
@Order(1)
class GpuPresenceTest {

  @Test
  void nvidiaDriverReportsAVersionAndTheProbeSeesTheGpus() throws Exception {
    DeviceRuntime cuda = Gpu.cudaOrSkip();
    String version = Files.readString(Path.of("/proc/driver/nvidia/version"));
    assertTrue(version.contains("NVRM"), version);
    System.out.print(RuntimeProbe.describe(RuntimeProbe.probe()));
    for (Device d : cuda.devices()) {
      assertTrue(d.memoryInfo().totalBytes() > 0);
    }
  }
}

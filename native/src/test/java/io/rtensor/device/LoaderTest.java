package io.rtensor.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The loader's messages for libraries that are missing, incomplete or too old. */
class LoaderTest {

  @Test
  void aMissingLibraryIsReportedByName() {
    DeviceRuntimes.LibraryCheck check =
        DeviceRuntimes.checkLibrary(RuntimeKind.CUDA, "/nonexistent/libcuda.so.1");
    assertFalse(check.usable());
    assertEquals("LIBRARY_NOT_FOUND", check.status());
    assertTrue(check.message().contains("/nonexistent/libcuda.so.1"), check.message());
  }

  @Test
  void aDriverWithoutAV2EntryPointIsNamedTooOld() {
    String lib = FakeRuntime.directory().resolve("libfakecuda_nov2.so").toString();
    DeviceRuntimes.LibraryCheck check = DeviceRuntimes.checkLibrary(RuntimeKind.CUDA, lib);
    assertFalse(check.usable());
    assertEquals("SYMBOL_MISSING", check.status());
    assertTrue(check.message().contains("cuMemcpyDtoHAsync_v2"), check.message());
    assertTrue(check.message().contains("too old"), check.message());
  }

  @Test
  void anOldDriverVersionIsRefused() {
    String lib = FakeRuntime.directory().resolve("libfakecuda_old.so").toString();
    DeviceRuntimes.LibraryCheck check = DeviceRuntimes.checkLibrary(RuntimeKind.CUDA, lib);
    assertFalse(check.usable());
    assertEquals("DRIVER_TOO_OLD", check.status());
    assertTrue(check.message().contains("10020"), check.message());
  }

  @Test
  void theFakesPassTheCheck() {
    String cuda = FakeRuntime.directory().resolve("libfakecuda.so").toString();
    String acl = FakeRuntime.directory().resolve("libfakeacl.so").toString();
    assertTrue(DeviceRuntimes.checkLibrary(RuntimeKind.CUDA, cuda).usable());
    assertTrue(DeviceRuntimes.checkLibrary(RuntimeKind.ASCEND, acl).usable());
  }

  @Test
  void aclLibraryWithoutTheApiIsReported() {
    String notAcl = FakeRuntime.directory().resolve("libfakecuda.so").toString();
    DeviceRuntimes.LibraryCheck check = DeviceRuntimes.checkLibrary(RuntimeKind.ASCEND, notAcl);
    assertEquals("SYMBOL_MISSING", check.status());
    assertTrue(check.message().contains("aclInit"), check.message());
  }

  @Test
  void theProbeListsEveryRuntime() {
    List<RuntimeProbe.RuntimeReport> reports = RuntimeProbe.probe();
    assertEquals(3, reports.size());
    for (RuntimeProbe.RuntimeReport r : reports) {
      assertTrue(r.available(), r.kind() + ": " + r.message());
      assertFalse(r.devices().isEmpty());
    }
    String summary = RuntimeProbe.describe(reports);
    assertTrue(summary.contains("rtensor fake CUDA device 0"), summary);
  }

  /** Runs the probe in a fresh JVM (a process loads each runtime once) and returns its output. */
  private static String probeInChildProcess(String cudaFromEnvironment, String aclFromProperty)
      throws Exception {
    ProcessBuilder builder =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                "-Drtensor.acl.library=" + aclFromProperty,
                RuntimeProbe.class.getName())
            .redirectErrorStream(true);
    builder.environment().put("RTENSOR_CUDA_LIBRARY", cudaFromEnvironment);
    Process p = builder.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), out);
    return out;
  }

  @Test
  void aProcessWithoutDeviceRuntimesStillHasTheCpuBackend() throws Exception {
    // CUDA's override comes from the environment variable, ACL's from the system property.
    String out = probeInChildProcess("/nonexistent/libcuda.so.1", "/nonexistent/libascendcl.so");
    assertTrue(
        out.contains("CUDA: unavailable: CUDA driver library '/nonexistent/libcuda.so.1'"), out);
    assertTrue(out.contains("ASCEND: unavailable: Ascend ACL library"), out);
    assertTrue(out.contains("CPU: 1 device(s)"), out);
  }

  @Test
  void aTooOldDriverIsRefusedAtLoadWithAClearMessage() throws Exception {
    String old = FakeRuntime.directory().resolve("libfakecuda_old.so").toString();
    String acl = FakeRuntime.directory().resolve("libfakeacl.so").toString();
    String out = probeInChildProcess(old, acl);
    assertTrue(
        out.contains("CUDA: unavailable: CUDA driver '" + old + "' reports version 10020"), out);
    assertTrue(out.contains("ASCEND: 1 device(s) from " + acl), out);
  }

  @Test
  void aDriverMissingAnEntryPointIsRefusedAtLoad() throws Exception {
    String noV2 = FakeRuntime.directory().resolve("libfakecuda_nov2.so").toString();
    String out = probeInChildProcess(noV2, "/nonexistent/libascendcl.so");
    assertTrue(out.contains("does not export cuMemcpyDtoHAsync_v2"), out);
    assertTrue(out.contains("CPU: 1 device(s)"), out);
  }

  @Test
  void theLibraryOverrideComesFromThePropertyFirst() {
    assertEquals(System.getProperty("rtensor.cuda.library"), RuntimeKind.CUDA.libraryPath());
    assertEquals("", RuntimeKind.CPU.libraryPath());
  }
}

package io.rtensor.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Device visibility: worker processes restrict the fake CUDA driver and ACL runtime (a machine of
 * four physical devices) before first use and see only their devices, in their order; the fakes
 * read the variables as the vendors document; a restriction after initialisation is refused.
 */
class DeviceVisibilityTest {
  private static final int MACHINE = 4;
  private static final String CUDA = "CUDA";
  private static final String ACL = "ASCEND";
  private static Map<String, String> unrestricted;
  private static Map<String, String> restricted;

  /** Starts a worker JVM with the given KIND=MODE arguments and returns its report. */
  private static Process start(String... modes) throws IOException {
    ProcessBuilder builder = FakeRuntime.childJvm(VisibilityWorker.class, modes);
    builder.environment().put("RTENSOR_FAKE_DEVICE_COUNT", String.valueOf(MACHINE));
    builder.environment().remove("CUDA_VISIBLE_DEVICES");
    builder.environment().remove("ASCEND_RT_VISIBLE_DEVICES");
    return builder.start();
  }

  private static Map<String, String> report(Process p) throws Exception {
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), out);
    assertEquals(0, p.exitValue(), out);
    return FakeRuntime.report(out);
  }

  private static Map<String, String> worker(String... modes) throws Exception {
    return report(start(modes));
  }

  /** What a worker without restriction sees: every physical device of the machine. */
  private static synchronized Map<String, String> unrestricted() throws Exception {
    if (unrestricted == null) {
      unrestricted = worker("CUDA=unset", "ASCEND=unset");
    }
    return unrestricted;
  }

  /** A worker given CUDA devices 2 and 0 and Ascend devices 1 and 3. */
  private static synchronized Map<String, String> restricted() throws Exception {
    if (restricted == null) {
      restricted = worker("CUDA=ids:2,0", "ASCEND=ids:1,3");
    }
    return restricted;
  }

  private static String get(Map<String, String> report, String kind, String key) {
    String value = report.get(kind + "." + key);
    assertTrue(value != null, kind + "." + key + " missing from:\n" + report.get("output"));
    return value;
  }

  @Test
  void withoutRestrictionAWorkerSeesEveryPhysicalDeviceUnderItsOwnId() throws Exception {
    Map<String, String> all = unrestricted();
    assertEquals("<unset>", get(all, CUDA, "native"));
    assertEquals(String.valueOf(MACHINE), get(all, CUDA, "count"));
    assertEquals(String.valueOf(MACHINE), get(all, ACL, "count"));
    for (int i = 0; i < MACHINE; i++) {
      assertTrue(get(all, CUDA, "physical." + i).matches("[0-9A-F]{4}:[0-9A-F]{2}:00\\.0"));
      for (int j = 0; j < i; j++) {
        assertNotEquals(get(all, CUDA, "physical." + i), get(all, CUDA, "physical." + j));
      }
      assertEquals("npu:" + i, get(all, ACL, "physical." + i));
      assertEquals(String.valueOf(i), get(all, CUDA, "holder." + i));
      assertEquals(String.valueOf(i), get(all, ACL, "holder." + i));
    }
  }

  @Test
  void aRestrictedWorkerSeesItsPhysicalDevicesAsOrdinalsInTheGivenOrder() throws Exception {
    Map<String, String> all = unrestricted();
    Map<String, String> w = restricted();
    assertEquals("false", get(w, CUDA, "initializedBefore"));
    assertEquals("2,0", get(w, CUDA, "native"));
    assertEquals("null", get(w, CUDA, "java"), "System.getenv does not show the native variable");
    assertEquals("true", get(w, CUDA, "initialized"));
    assertEquals("2", get(w, CUDA, "count"));
    assertEquals(get(all, CUDA, "physical.2"), get(w, CUDA, "physical.0"));
    assertEquals(get(all, CUDA, "physical.0"), get(w, CUDA, "physical.1"));
    assertEquals("2", get(w, CUDA, "holder.0"), "memory of ordinal 0 lives on physical device 2");
    assertEquals("0", get(w, CUDA, "holder.1"));

    assertEquals("1,3", get(w, ACL, "native"));
    assertEquals("2", get(w, ACL, "count"));
    assertEquals("npu:1", get(w, ACL, "physical.0"));
    assertEquals("npu:3", get(w, ACL, "physical.1"));
    assertEquals("1", get(w, ACL, "holder.0"));
    assertEquals("3", get(w, ACL, "holder.1"));
  }

  @Test
  void aRestrictionAfterTheRuntimeInitialisedIsRefusedAndChangesNothing() throws Exception {
    Map<String, String> w = restricted();
    String cuda = get(w, CUDA, "late");
    assertTrue(cuda.startsWith("RuntimeAlreadyInitializedException CUDA "), cuda);
    assertTrue(cuda.contains("CUDA_VISIBLE_DEVICES='2,0'"), cuda);
    assertEquals("2,0", get(w, CUDA, "nativeAfter"));
    assertEquals("accepted", get(w, CUDA, "same"), "setting the value it initialised with is fine");
    String acl = get(w, ACL, "late");
    assertTrue(acl.startsWith("RuntimeAlreadyInitializedException ASCEND "), acl);
    assertTrue(acl.contains("aclInit"), acl);
    assertEquals("1,3", get(w, ACL, "nativeAfter"));
    assertEquals("accepted", get(w, ACL, "same"));
  }

  @Test
  void anEmptyRestrictionShowsNoDevice() throws Exception {
    Map<String, String> w = worker("CUDA=ids:", "ASCEND=ids:");
    assertEquals("", get(w, CUDA, "native"));
    assertEquals("0", get(w, CUDA, "count"), "cuInit's CUDA_ERROR_NO_DEVICE is a runtime of none");
    assertEquals("", get(w, ACL, "native"));
    assertEquals("0", get(w, ACL, "count"));
    assertTrue(get(w, CUDA, "late").startsWith("RuntimeAlreadyInitializedException"));
  }

  @Test
  void twoWorkersOpenDifferentPhysicalDevices() throws Exception {
    Map<String, String> all = unrestricted();
    Process first = start("CUDA=ids:1", "ASCEND=ids:0");
    Process second = start("CUDA=ids:3", "ASCEND=ids:2");
    Map<String, String> a = report(first);
    Map<String, String> b = report(second);
    for (Map<String, String> w : List.of(a, b)) {
      assertEquals("1", get(w, CUDA, "count"));
      assertEquals("1", get(w, ACL, "count"));
    }
    assertEquals(get(all, CUDA, "physical.1"), get(a, CUDA, "physical.0"));
    assertEquals(get(all, CUDA, "physical.3"), get(b, CUDA, "physical.0"));
    assertNotEquals(get(a, CUDA, "physical.0"), get(b, CUDA, "physical.0"));
    assertEquals("1", get(a, CUDA, "holder.0"));
    assertEquals("3", get(b, CUDA, "holder.0"));
    assertEquals("npu:0", get(a, ACL, "physical.0"));
    assertEquals("npu:2", get(b, ACL, "physical.0"));
    assertEquals("0", get(a, ACL, "holder.0"));
    assertEquals("2", get(b, ACL, "holder.0"));
  }

  // ---- in this JVM ----

  @Test
  void theFakeDriverReadsCudaVisibleDevicesAsTheDriverDoes() {
    DeviceRuntimes.get(RuntimeKind.CUDA);
    RuntimeKind k = RuntimeKind.CUDA;
    assertEquals(List.of(0, 1, 2, 3), FakeRuntime.parseVisible(k, null, 4), "unset: all");
    assertEquals(List.of(), FakeRuntime.parseVisible(k, "", 4), "empty: none");
    assertEquals(List.of(), FakeRuntime.parseVisible(k, "-1", 4));
    assertEquals(List.of(2, 1), FakeRuntime.parseVisible(k, "2,1", 4), "in the listed order");
    assertEquals(List.of(0, 2), FakeRuntime.parseVisible(k, "0,2,-1,1", 4), "up to an invalid one");
    assertEquals(List.of(1), FakeRuntime.parseVisible(k, "1,7,0", 4), "an index past the machine");
    assertEquals(List.of(1), FakeRuntime.parseVisible(k, "1,,2", 4), "an empty entry");
    assertEquals(List.of(1), FakeRuntime.parseVisible(k, "1,GPU-abc,2", 4), "no UUIDs in the fake");
    assertEquals(List.of(1, 2), FakeRuntime.parseVisible(k, "1gpu2, 2ampere", 4), "like strtoul");
    assertEquals(List.of(), FakeRuntime.parseVisible(k, "0,1,0", 4), "a repeated index: none");
  }

  @Test
  void theFakeAclReadsAscendRtVisibleDevicesAsCannDocumentsIt() {
    DeviceRuntimes.get(RuntimeKind.ASCEND);
    RuntimeKind k = RuntimeKind.ASCEND;
    assertEquals(List.of(0, 1, 2, 3), FakeRuntime.parseVisible(k, null, 4));
    assertEquals(List.of(), FakeRuntime.parseVisible(k, "", 4));
    assertEquals(List.of(1, 2, 3), FakeRuntime.parseVisible(k, "1,2,3", 4));
    assertEquals(List.of(1), FakeRuntime.parseVisible(k, "1, 2,3", 4), "stops at another char");
    assertEquals(List.of(1, 3), FakeRuntime.parseVisible(k, "1,3,8", 4), "stops at an invalid id");
    assertEquals(List.of(2), FakeRuntime.parseVisible(k, "2,0", 4), "ascending order only");
    assertEquals(List.of(1), FakeRuntime.parseVisible(k, "1,1", 4));
  }

  @Test
  void aRestrictionInThisJvmIsRefusedOnceTheRuntimeInitialised() {
    for (RuntimeKind kind : List.of(RuntimeKind.CUDA, RuntimeKind.ASCEND)) {
      DeviceRuntimes.get(kind);
      assertTrue(DeviceVisibility.initialized(kind));
      String variable = kind.visibleDevicesVariable();
      Optional<String> before = DeviceVisibility.nativeEnv(variable);
      RuntimeAlreadyInitializedException e =
          assertThrows(
              RuntimeAlreadyInitializedException.class,
              () -> DeviceVisibility.restrict(kind, List.of(7, 9)));
      assertEquals(kind, e.runtime());
      assertEquals(variable, e.variable());
      assertEquals("restrict", e.operation());
      assertEquals("RTENSOR_RUNTIME_ALREADY_INITIALIZED", e.errorName());
      assertTrue(e.getMessage().contains(variable + " cannot change"), e.getMessage());
      assertEquals(before, DeviceVisibility.nativeEnv(variable), "left as it was");
      DeviceVisibility.setNativeEnv(variable, before.orElse(null));
    }
    assertThrows(
        RuntimeAlreadyInitializedException.class,
        () -> DeviceVisibility.setNativeEnv("CUDA_DEVICE_ORDER", "NO_SUCH_ORDER"));
  }

  @Test
  void nativeEnvironmentIsTheProcessesNotTheJvmCopy() {
    String name = "RTENSOR_VISIBILITY_TEST_VARIABLE";
    assertEquals(Optional.empty(), DeviceVisibility.nativeEnv(name));
    DeviceVisibility.setNativeEnv(name, "a,b=c");
    try {
      assertEquals(Optional.of("a,b=c"), DeviceVisibility.nativeEnv(name));
      assertNull(System.getenv(name), "System.getenv is the JVM's copy");
      String longValue = "x".repeat(5000);
      DeviceVisibility.setNativeEnv(name, longValue);
      assertEquals(Optional.of(longValue), DeviceVisibility.nativeEnv(name));
    } finally {
      DeviceVisibility.setNativeEnv(name, null);
    }
    assertEquals(Optional.empty(), DeviceVisibility.nativeEnv(name));
    assertThrows(IllegalArgumentException.class, () -> DeviceVisibility.setNativeEnv("A=B", "1"));
    assertThrows(IllegalArgumentException.class, () -> DeviceVisibility.setNativeEnv("", "1"));
  }

  @Test
  void restrictionsAreCheckedBeforeAnythingIsSet() {
    assertThrows(
        IllegalArgumentException.class,
        () -> DeviceVisibility.restrict(RuntimeKind.CPU, List.of(0)));
    assertThrows(
        IllegalArgumentException.class,
        () -> DeviceVisibility.restrict(RuntimeKind.CUDA, List.of(0, -1)));
    assertThrows(
        IllegalArgumentException.class,
        () -> DeviceVisibility.restrict(RuntimeKind.CUDA, List.of(1, 1)));
    IllegalArgumentException descending =
        assertThrows(
            IllegalArgumentException.class,
            () -> DeviceVisibility.restrict(RuntimeKind.ASCEND, List.of(2, 0)));
    assertTrue(descending.getMessage().contains("ascending"), descending.getMessage());
    assertFalse(DeviceVisibility.initialized(RuntimeKind.CPU));
  }

  @Test
  void physicalIdsOfTheDefaultMachine() {
    assertEquals("cpu", DeviceRuntimes.cpu().physicalId(0));
    DeviceRuntime cuda = DeviceRuntimes.get(RuntimeKind.CUDA);
    assertEquals("0000:10:00.0", cuda.physicalId(0));
    assertEquals("0000:11:00.0", cuda.physicalId(1));
    assertEquals("npu:0", DeviceRuntimes.get(RuntimeKind.ASCEND).physicalId(0));
    assertThrows(IllegalArgumentException.class, () -> cuda.physicalId(2));
    try (DeviceBuffer b = cuda.device(1).allocate(64)) {
      assertEquals(1, FakeRuntime.physicalDeviceOf(RuntimeKind.CUDA, b));
    }
  }

  @Test
  void anAclWithoutThePhysicalIdCallStillLoads() {
    String old = FakeRuntime.directory().resolve("libfakeacl_nophy.so").toString();
    assertTrue(DeviceRuntimes.checkLibrary(RuntimeKind.ASCEND, old).usable());
  }
}

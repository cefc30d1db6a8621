package io.rtensor.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The Ascend backend against the fake ACL runtime. */
class FakeAclRuntimeTest extends FakeRuntimeTestBase {
  private static final int ACL_ERROR_BAD_ALLOC = 200000;
  private static final int ACL_ERROR_INVALID_PARAM = 100000;
  private static final int ACL_ERROR_UNINITIALIZE = 100001;

  @Override
  RuntimeKind kind() {
    return RuntimeKind.ASCEND;
  }

  @Override
  String asyncCopyFunction(boolean toDevice) {
    return "aclrtMemcpyAsync";
  }

  @Override
  int invalidArgumentCode() {
    return ACL_ERROR_INVALID_PARAM;
  }

  @Override
  String streamSyncFunction() {
    return "aclrtSynchronizeStream";
  }

  @Override
  String invalidArgumentName() {
    return "ACL_ERROR_INVALID_PARAM";
  }

  @Test
  void loadsTheFakeAclThroughTheOverrideProperty() {
    assertTrue(runtime().library().endsWith("libfakeacl.so"), runtime().library());
    assertEquals(1, runtime().deviceCount());
    assertFalse(runtime().supportsEvents());
    assertTrue(FakeRuntime.calls(kind(), "aclInit") >= 1);
  }

  @Test
  void badAllocCarriesTheRuntimesRecentErrorMessage() {
    FakeRuntime.injectError(kind(), "aclrtMalloc", ACL_ERROR_BAD_ALLOC, 0);
    DeviceException e = assertThrows(DeviceException.class, () -> device().allocate(4096));
    assertEquals(RuntimeKind.ASCEND, e.runtime());
    assertEquals("ACL_ERROR_BAD_ALLOC", e.errorName());
    assertEquals(ACL_ERROR_BAD_ALLOC, e.code());
    assertEquals("injected failure", e.errorText());
    assertEquals("memAlloc", e.operation());
    assertEquals(4096, e.bytes());
  }

  @Test
  void invalidParamAndUninitializedAreNamed() {
    try (DeviceBuffer b = device().allocate(64);
        HostBytes h = new HostBytes(64)) {
      FakeRuntime.injectError(kind(), "aclrtMemcpy", ACL_ERROR_INVALID_PARAM, 0);
      DeviceException e =
          assertThrows(DeviceException.class, () -> device().copyToHost(b, 0, h.memory(), 0, 64));
      assertEquals("ACL_ERROR_INVALID_PARAM", e.errorName());
      FakeRuntime.injectError(kind(), "aclrtCreateStream", ACL_ERROR_UNINITIALIZE, 0);
      DeviceException u = assertThrows(DeviceException.class, () -> device().createStream());
      assertEquals("ACL_ERROR_UNINITIALIZE", u.errorName());
    }
  }

  @Test
  void anInvalidDevicePointerIsADeviceException() {
    try (HostBytes h = new HostBytes(64)) {
      DeviceBuffer bogus = device().wrap(0x1000, 64);
      DeviceException e =
          assertThrows(
              DeviceException.class, () -> device().copyToHost(bogus, 0, h.memory(), 0, 64));
      assertEquals("ACL_ERROR_INVALID_PARAM", e.errorName());
      assertEquals("source is not device memory of this size", e.errorText());
    }
  }

  @Test
  void releasingDevicesResetsTheDeviceAndFinalizesAclUntilNextUse() {
    device().memoryInfo();
    long resets = FakeRuntime.calls(kind(), "aclrtResetDevice");
    long finalizes = FakeRuntime.calls(kind(), "aclFinalize");
    long inits = FakeRuntime.calls(kind(), "aclInit");
    runtime().releaseDevices();
    assertEquals(1, FakeRuntime.calls(kind(), "aclrtResetDevice") - resets);
    assertEquals(1, FakeRuntime.calls(kind(), "aclFinalize") - finalizes);
    try (DeviceBuffer b = device().allocate(64)) {
      assertEquals(64, b.size(), "ACL is initialised and the device set again on next use");
    }
    assertEquals(1, FakeRuntime.calls(kind(), "aclInit") - inits);
  }

  @Test
  void hostRegistrationIsNotBoundForAscend() {
    try (HostBytes h = new HostBytes(64)) {
      assertThrows(UnsupportedOperationException.class, () -> device().register(h.memory()));
    }
  }

  @Test
  void pinnedHostMemoryComesFromAclrtMallocHost() {
    long before = FakeRuntime.calls(kind(), "aclrtMallocHost");
    try (HostBuffer b = device().allocateHost(1 << 16)) {
      assertTrue(b.memory().pinned());
      assertEquals(1, FakeRuntime.calls(kind(), "aclrtMallocHost") - before);
    }
  }
}

package io.rtensor.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.device.internal.DeviceOps;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * CUDA IPC on the fake driver, across two real processes: this JVM and an {@link IpcWorker}. The
 * fake backs device memory with memfds the other process maps through /proc, so the bytes one
 * process writes are the bytes the other reads.
 */
class CudaIpcTest {
  private static final int CUDA_ERROR_INVALID_CONTEXT = 201;
  private static final int CUDA_ERROR_INVALID_HANDLE = 400;
  private static final long BYTES = 256 * 1024 + 5;
  private static final long PART_OFFSET = 1000;
  private static final long PART_LENGTH = 3000;
  private static final int SEED = 11;

  private long deviceBytesBefore;

  private static DeviceRuntime cuda() {
    return DeviceRuntimes.get(RuntimeKind.CUDA);
  }

  private static Device device() {
    return cuda().device(0);
  }

  @BeforeEach
  void theFakeDriverIsLoaded() {
    assertTrue(cuda().isFake(), "these tests run on the fake CUDA driver");
    FakeRuntime.reset(RuntimeKind.CUDA);
    deviceBytesBefore = FakeRuntime.liveBytes(RuntimeKind.CUDA, FakeRuntime.DEVICE_MEMORY);
  }

  @AfterEach
  void nothingIsLeftMappedOrAllocated() {
    FakeRuntime.reset(RuntimeKind.CUDA);
    assertEquals(0, FakeRuntime.ipcOpenMappings(), "IPC mappings left open");
    assertEquals(
        deviceBytesBefore,
        FakeRuntime.liveBytes(RuntimeKind.CUDA, FakeRuntime.DEVICE_MEMORY),
        "device memory leaked");
  }

  private static Process startWorker(String... args) throws IOException {
    ProcessBuilder builder = FakeRuntime.childJvm(IpcWorker.class, args);
    builder.environment().remove("CUDA_VISIBLE_DEVICES");
    builder.environment().remove("RTENSOR_FAKE_DEVICE_COUNT");
    return builder.start();
  }

  private static Map<String, String> finish(Process p, String soFar) throws Exception {
    String out = soFar + new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), out);
    assertEquals(0, p.exitValue(), out);
    Map<String, String> report = FakeRuntime.report(out);
    assertEquals("true", report.get("done"), out);
    return report;
  }

  private static String encode(DeviceIpcHandle handle) {
    return Base64.getEncoder().encodeToString(handle.toBytes());
  }

  private static void assertReport(Map<String, String> report, String key, Object expected) {
    assertEquals(String.valueOf(expected), report.get(key), key + " in:\n" + report.get("output"));
  }

  @Test
  void anotherProcessReadsTheExportedBytesWritesThroughItsMappingAndClosesIt() throws Exception {
    Device device = device();
    try (DeviceBuffer buffer = device.allocate(BYTES);
        HostBytes host = new HostBytes(BYTES).fillPattern(SEED)) {
      device.copyToDevice(host.memory(), 0, buffer, 0, BYTES);
      DeviceIpcHandle whole = device.exportIpc(buffer, 0, BYTES);
      DeviceIpcHandle part = device.exportIpc(buffer, PART_OFFSET, PART_LENGTH);
      assertEquals(0, whole.offset());
      assertEquals(PART_OFFSET, part.offset());
      assertEquals(PART_LENGTH, part.length());
      assertEquals(device.physicalId(), whole.physicalId());
      assertEquals(ProcessHandle.current().pid(), whole.exporterPid());
      assertArrayEquals(whole.handle(), part.handle(), "one allocation, one driver handle");

      Map<String, String> report =
          finish(
              startWorker(
                  "open",
                  encode(whole),
                  encode(part),
                  String.valueOf(SEED),
                  String.valueOf(PART_OFFSET)),
              "");
      assertReport(report, "physicalId", device.physicalId());
      assertReport(report, "owned", false);
      assertReport(report, "ipcMapped", true);
      assertReport(report, "size", BYTES);
      assertReport(report, "mappings.open", 1);
      // Read through a D2H copy and through a D2D copy into the opener's own allocation, which the
      // driver counts as device-to-device bytes, not host copies.
      assertReport(report, "d2h.mismatch", -1);
      assertReport(report, "d2d.mismatch", -1);
      assertReport(report, "d2d.counted", BYTES);
      assertReport(report, "h2h.counted", 0);
      // The part of the same allocation: the driver's mapping again, one reference more.
      assertReport(report, "part.delta", PART_OFFSET);
      assertReport(report, "part.size", PART_LENGTH);
      assertReport(report, "part.mismatch", -1);
      assertReport(report, "mappings.twice", 2);
      assertReport(report, "mappings.partClosed", 1);
      assertReport(report, "afterPartClosed.mismatch", -1);
      assertReport(report, "memFree", "CUDA_ERROR_INVALID_VALUE");
      assertReport(report, "mappings.closed", 0);
      assertReport(report, "closed.copy", "IllegalStateException");
      assertReport(report, "forged", "CUDA_ERROR_INVALID_HANDLE ipcOpenMemHandle");
      assertReport(report, "mappings.end", 0);

      // What the other process wrote through its mapping is in this process's memory.
      try (HostBytes back = new HostBytes(BYTES)) {
        device.copyToHost(buffer, 0, back.memory(), 0, BYTES);
        assertEquals(-1, back.firstMismatch(0, BYTES, 0, SEED + 1));
      }
    }
  }

  @Test
  void thisProcessOpensWhatAnotherExportedUntilTheExporterIsGone() throws Exception {
    Device device = device();
    long bytes = 64 * 1024;
    Process worker = startWorker("export", String.valueOf(SEED), String.valueOf(bytes));
    StringBuilder out = new StringBuilder();
    DeviceIpcHandle handle = null;
    java.io.BufferedReader lines =
        new java.io.BufferedReader(
            new java.io.InputStreamReader(worker.getInputStream(), StandardCharsets.UTF_8));
    for (String line = lines.readLine(); line != null; line = lines.readLine()) {
      out.append(line).append('\n');
      if (line.startsWith("handle=")) {
        handle = DeviceIpcHandle.fromBytes(Base64.getDecoder().decode(line.substring(7)));
        break;
      }
    }
    assertTrue(handle != null, "no handle from the worker:\n" + out);
    assertEquals(worker.pid(), handle.exporterPid());
    assertEquals(16, handle.offset());
    assertEquals(bytes - 16, handle.length());
    long n = handle.length();
    try (DeviceBuffer mapped = device.openIpc(handle);
        DeviceBuffer own = device.allocate(n);
        HostBytes host = new HostBytes(n)) {
      assertEquals(1, FakeRuntime.ipcOpenMappings());
      assertEquals(n, mapped.size());
      device.copyOnDevice(mapped, 0, own, 0, n);
      device.copyToHost(own, 0, host.memory(), 0, n);
      assertEquals(-1, host.firstMismatch(0, n, 16, SEED));
      host.fillPattern(SEED + 1);
      device.copyToDevice(host.memory(), 0, mapped, 0, n);
    }
    assertEquals(0, FakeRuntime.ipcOpenMappings());
    try (OutputStream in = worker.getOutputStream()) {
      in.write("go\n".getBytes(StandardCharsets.UTF_8));
    }
    StringBuilder rest = new StringBuilder();
    for (String line = lines.readLine(); line != null; line = lines.readLine()) {
      rest.append(line).append('\n');
    }
    Map<String, String> report = finish(worker, out.toString() + rest);
    assertReport(report, "go", "go");
    assertReport(report, "head.mismatch", -1);
    assertReport(report, "written.mismatch", -1);

    // The exporter has exited: its memory is gone, and the driver says the handle is invalid.
    DeviceIpcHandle stale = handle;
    DeviceException e = assertThrows(DeviceException.class, () -> device.openIpc(stale));
    assertEquals("CUDA_ERROR_INVALID_HANDLE", e.errorName());
    assertEquals(CUDA_ERROR_INVALID_HANDLE, e.code());
    assertEquals("ipcOpenMemHandle", e.operation());
    assertEquals(0, FakeRuntime.ipcOpenMappings());
  }

  @Test
  void aHandleOfThisProcessIsRefusedBeforeTheDriverIsCalled() {
    Device device = device();
    try (DeviceBuffer buffer = device.allocate(4096)) {
      DeviceIpcHandle own = device.exportIpc(buffer, 0, 4096);
      long opens = FakeRuntime.calls(RuntimeKind.CUDA, "cuIpcOpenMemHandle_v2");
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> device.openIpc(own));
      assertTrue(e.getMessage().contains("exported by this process"), e.getMessage());
      assertEquals(opens, FakeRuntime.calls(RuntimeKind.CUDA, "cuIpcOpenMemHandle_v2"));
      // The driver refuses it too.
      long[] base = new long[1];
      int code =
          DeviceOps.ipc_open(
              DeviceOps.BACKEND_CUDA, 0, own.handle(), own.offset(), own.length(), base);
      assertEquals(CUDA_ERROR_INVALID_CONTEXT, code);
      assertEquals("CUDA_ERROR_INVALID_CONTEXT", DeviceOps.last_error_name());
      assertEquals(0, base[0]);
    }
  }

  @Test
  void handleBytesThatAreNotTheDriversAreAnInvalidHandle() {
    long otherPid = ProcessHandle.current().pid() + 1;
    DeviceIpcHandle forged = new DeviceIpcHandle(new byte[64], 0, 4096, "0000:10:00.0", otherPid);
    DeviceException e = assertThrows(DeviceException.class, () -> device().openIpc(forged));
    assertEquals("CUDA_ERROR_INVALID_HANDLE", e.errorName());
    assertEquals(CUDA_ERROR_INVALID_HANDLE, e.code());
    assertEquals(RuntimeKind.CUDA, e.runtime());
    assertEquals(0, FakeRuntime.ipcOpenMappings());
  }

  @Test
  void exportRecordsTheRangesOffsetFromItsAllocationsBase() {
    Device device = device();
    try (DeviceBuffer buffer = device.allocate(8192)) {
      DeviceBuffer inner = device.wrap(buffer.address() + 4096, 1000);
      DeviceIpcHandle handle = device.exportIpc(inner, 24, 100);
      assertEquals(4096 + 24, handle.offset());
      assertEquals(100, handle.length());
      // A wrapped range that runs past its allocation.
      DeviceBuffer past = device.wrap(buffer.address() + 8000, 1000);
      DeviceException e =
          assertThrows(DeviceException.class, () -> device.exportIpc(past, 0, 1000));
      assertEquals(DeviceOps.RT_E_INVALID_ARGUMENT, e.code());
      assertTrue(e.getMessage().contains("runs past its allocation"), e.getMessage());
    }
  }

  @Test
  void exportChecksTheBufferAndRangeInJava() {
    Device device = device();
    long before = FakeRuntime.calls(RuntimeKind.CUDA, "cuIpcGetMemHandle");
    DeviceBuffer closed = device.allocate(64);
    closed.close();
    assertThrows(IllegalStateException.class, () -> device.exportIpc(closed, 0, 64));
    try (DeviceBuffer buffer = device.allocate(64)) {
      assertThrows(IndexOutOfBoundsException.class, () -> device.exportIpc(buffer, 60, 8));
      assertThrows(IllegalArgumentException.class, () -> device.exportIpc(buffer, -1, 8));
      assertThrows(IllegalArgumentException.class, () -> device.exportIpc(buffer, 0, 0));
      assertThrows(IllegalArgumentException.class, () -> cuda().device(1).exportIpc(buffer, 0, 64));
    }
    assertEquals(before, FakeRuntime.calls(RuntimeKind.CUDA, "cuIpcGetMemHandle"));
  }

  @Test
  void theDriverRefusesToExportMemoryItDidNotAllocate() {
    try (HostBytes host = new HostBytes(4096)) {
      DeviceBuffer notDevice = device().wrap(host.address(), 4096);
      DeviceException e =
          assertThrows(DeviceException.class, () -> device().exportIpc(notDevice, 0, 4096));
      assertEquals("CUDA_ERROR_NOT_FOUND", e.errorName());
      assertEquals("ipcGetMemHandle", e.operation());
    }
  }

  @Test
  void cudaSupportsIpcAndTheOtherRuntimesSayTheyDoNot() {
    assertTrue(device().supportsIpc());
    Device cpu = DeviceRuntimes.cpu().device(0);
    Device ascend = DeviceRuntimes.get(RuntimeKind.ASCEND).device(0);
    DeviceIpcHandle handle = new DeviceIpcHandle(new byte[64], 0, 64, "0000:10:00.0", 1);
    for (Device d : List.of(cpu, ascend)) {
      assertFalse(d.supportsIpc());
      try (DeviceBuffer b = d.allocate(64)) {
        UnsupportedOperationException e =
            assertThrows(UnsupportedOperationException.class, () -> d.exportIpc(b, 0, 64));
        assertTrue(e.getMessage().contains(d.kind().toString()), e.getMessage());
      }
      assertThrows(UnsupportedOperationException.class, () -> d.openIpc(handle));
      // The native layer answers the same for these backends.
      long[] out = new long[1];
      assertEquals(
          DeviceOps.RT_E_UNSUPPORTED,
          DeviceOps.ipc_export(d.kind().backend(), 0, 0, 64, new byte[64], out));
    }
  }

  private static DeviceIpcHandle sample() {
    byte[] bytes = new byte[64];
    for (int i = 0; i < bytes.length; i++) {
      bytes[i] = (byte) (0xA0 + i);
    }
    return new DeviceIpcHandle(bytes, 4096, 1 << 20, "0000:1A:00.0", 4242);
  }

  @Test
  void aHandleSurvivesJavaSerializationAndItsBinaryForm() throws Exception {
    DeviceIpcHandle handle = sample();
    ByteArrayOutputStream buffer = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(buffer)) {
      out.writeObject(handle);
    }
    Object back;
    try (ObjectInputStream in =
        new ObjectInputStream(new ByteArrayInputStream(buffer.toByteArray()))) {
      back = in.readObject();
    }
    assertEquals(handle, back);
    assertEquals(handle.hashCode(), back.hashCode());
    DeviceIpcHandle decoded = DeviceIpcHandle.fromBytes(handle.toBytes());
    assertEquals(handle, decoded);
    assertArrayEquals(handle.handle(), decoded.handle());
    assertEquals(4096, decoded.offset());
    assertEquals(1 << 20, decoded.length());
    assertEquals("0000:1A:00.0", decoded.physicalId());
    assertEquals(4242, decoded.exporterPid());
  }

  @Test
  void theHandleBytesAreCopiedInAndOut() {
    byte[] bytes = new byte[64];
    DeviceIpcHandle handle = new DeviceIpcHandle(bytes, 0, 1, "0000:10:00.0", 7);
    bytes[0] = 1;
    assertEquals(0, handle.handle()[0]);
    handle.handle()[1] = 1;
    assertEquals(0, handle.handle()[1]);
    assertNotEquals(handle, new DeviceIpcHandle(bytes, 0, 1, "0000:10:00.0", 7));
  }

  @Test
  void toStringNamesTheRangeButNeverTheHandleBytes() {
    DeviceIpcHandle handle = sample();
    String text = handle.toString();
    assertTrue(text.contains("4242") && text.contains("0000:1A:00.0"), text);
    String lower = text.toLowerCase(java.util.Locale.ROOT);
    for (String leaked :
        List.of("a0a1a2", "a0, a1", "-96", java.util.Arrays.toString(handle.handle()))) {
      assertFalse(lower.contains(leaked), text);
    }
    assertFalse(text.contains(Base64.getEncoder().encodeToString(handle.handle())), text);
  }

  @Test
  void badBinaryFormsAreRefusedWithAClearMessage() {
    byte[] good = sample().toBytes();
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> DeviceIpcHandle.fromBytes(new byte[3]));
    assertTrue(e.getMessage().contains("not a device IPC handle"), e.getMessage());
    byte[] magic = good.clone();
    magic[0] ^= 1;
    e = assertThrows(IllegalArgumentException.class, () -> DeviceIpcHandle.fromBytes(magic));
    assertTrue(e.getMessage().contains("magic"), e.getMessage());
    byte[] version = good.clone();
    version[4] = 9;
    e = assertThrows(IllegalArgumentException.class, () -> DeviceIpcHandle.fromBytes(version));
    assertTrue(e.getMessage().contains("version 9"), e.getMessage());
    byte[] truncated = java.util.Arrays.copyOf(good, good.length - 1);
    assertThrows(IllegalArgumentException.class, () -> DeviceIpcHandle.fromBytes(truncated));
    byte[] trailing = java.util.Arrays.copyOf(good, good.length + 1);
    assertThrows(IllegalArgumentException.class, () -> DeviceIpcHandle.fromBytes(trailing));
    byte[] negativeLength = good.clone();
    // The length follows magic (4), version (1), handle (64) and offset (8).
    negativeLength[4 + 1 + 64 + 8] = (byte) 0x80;
    e =
        assertThrows(
            IllegalArgumentException.class, () -> DeviceIpcHandle.fromBytes(negativeLength));
    assertTrue(e.getMessage().contains("length"), e.getMessage());
    assertThrows(
        IllegalArgumentException.class,
        () -> new DeviceIpcHandle(new byte[63], 0, 1, "0000:10:00.0", 7));
    assertThrows(
        IllegalArgumentException.class,
        () -> new DeviceIpcHandle(new byte[64], 0, 1, "0000:10:00.0", 0));
  }
}

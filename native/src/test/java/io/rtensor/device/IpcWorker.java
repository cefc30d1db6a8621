package io.rtensor.device;

import io.rtensor.device.internal.DeviceOps;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * The main class of the second process {@link CudaIpcTest} starts, on the fake CUDA driver. Prints
 * what it sees as {@code key=value} lines.
 *
 * <ul>
 *   <li>{@code open <whole> <part> <seed> <partOffset>}: opens two handles the test exported (the
 *       whole pattern-filled range and a part of it at {@code partOffset}, both {@link
 *       DeviceIpcHandle#toBytes} in Base64), reads them, copies them into its own allocation,
 *       writes the pattern of {@code seed + 1} through the mapping, closes everything and reports.
 *   <li>{@code export <seed> <bytes>}: allocates {@code bytes}, fills them with the pattern of
 *       {@code seed}, exports them from offset 16 and prints the handle, then waits for a line on
 *       its input and reports whether the pattern of {@code seed + 1} was written into its memory.
 * </ul>
 */
final class IpcWorker {
  private IpcWorker() {}

  public static void main(String[] args) throws Exception {
    Device device = DeviceRuntimes.get(RuntimeKind.CUDA).device(0);
    switch (args[0]) {
      case "open" ->
          open(
              device,
              handle(args[1]),
              handle(args[2]),
              Integer.parseInt(args[3]),
              Long.parseLong(args[4]));
      case "export" -> export(device, Integer.parseInt(args[1]), Long.parseLong(args[2]));
      default -> throw new IllegalArgumentException("unknown mode " + args[0]);
    }
    print("done", "true");
  }

  private static DeviceIpcHandle handle(String base64) {
    return DeviceIpcHandle.fromBytes(Base64.getDecoder().decode(base64));
  }

  private static void open(
      Device device, DeviceIpcHandle whole, DeviceIpcHandle part, int seed, long partOffset) {
    long n = whole.length();
    print("physicalId", device.physicalId());
    DeviceBuffer mapped = device.openIpc(whole);
    print("owned", mapped.owned());
    print("ipcMapped", mapped.ipcMapped());
    print("size", mapped.size());
    print("mappings.open", FakeRuntime.ipcOpenMappings());
    try (HostBytes host = new HostBytes(n)) {
      device.copyToHost(mapped, 0, host.memory(), 0, n);
      print("d2h.mismatch", host.firstMismatch(0, n, 0, seed));
    }
    try (DeviceBuffer own = device.allocate(n);
        HostBytes host = new HostBytes(n)) {
      long[] before = FakeRuntime.copiedBytes(RuntimeKind.CUDA);
      device.copyOnDevice(mapped, 0, own, 0, n);
      long[] after = FakeRuntime.copiedBytes(RuntimeKind.CUDA);
      print("d2d.counted", after[FakeRuntime.COPIED_D2D] - before[FakeRuntime.COPIED_D2D]);
      print("h2h.counted", after[FakeRuntime.COPIED_H2H] - before[FakeRuntime.COPIED_H2H]);
      device.copyToHost(own, 0, host.memory(), 0, n);
      print("d2d.mismatch", host.firstMismatch(0, n, 0, seed));
    }
    // The part: the same allocation opened again, so the driver's mapping with one more reference.
    DeviceBuffer partMapped = device.openIpc(part);
    print("part.delta", partMapped.address() - mapped.address());
    print("part.size", partMapped.size());
    print("mappings.twice", FakeRuntime.ipcOpenMappings());
    try (HostBytes host = new HostBytes(part.length())) {
      device.copyToHost(partMapped, 0, host.memory(), 0, part.length());
      print("part.mismatch", host.firstMismatch(0, part.length(), partOffset, seed));
    }
    partMapped.close();
    partMapped.close();
    print("mappings.partClosed", FakeRuntime.ipcOpenMappings());
    try (HostBytes host = new HostBytes(n)) {
      device.copyToHost(mapped, 0, host.memory(), 0, n);
      print("afterPartClosed.mismatch", host.firstMismatch(0, n, 0, seed));
    }
    // The driver frees no memory it mapped from another process.
    int freed = DeviceOps.mem_free(DeviceOps.BACKEND_CUDA, 0, mapped.address());
    print("memFree", freed == 0 ? "accepted" : DeviceOps.last_error_name());
    try (HostBytes host = new HostBytes(n)) {
      host.fillPattern(seed + 1);
      device.copyToDevice(host.memory(), 0, mapped, 0, n);
    }
    mapped.close();
    mapped.close();
    print("mappings.closed", FakeRuntime.ipcOpenMappings());
    try (HostBytes host = new HostBytes(n)) {
      device.copyToHost(mapped, 0, host.memory(), 0, n);
      print("closed.copy", "accepted");
    } catch (IllegalStateException e) {
      print("closed.copy", "IllegalStateException");
    }
    // The handle bytes of another process that are not the driver's.
    byte[] bad = whole.handle();
    bad[0] ^= 0x5a;
    DeviceIpcHandle forged =
        new DeviceIpcHandle(bad, 0, n, whole.physicalId(), whole.exporterPid());
    try (DeviceBuffer b = device.openIpc(forged)) {
      print("forged", "opened");
    } catch (DeviceException e) {
      print("forged", e.errorName() + " " + e.operation());
    }
    print("mappings.end", FakeRuntime.ipcOpenMappings());
  }

  private static void export(Device device, int seed, long bytes) throws Exception {
    try (DeviceBuffer buffer = device.allocate(bytes)) {
      try (HostBytes host = new HostBytes(bytes).fillPattern(seed)) {
        device.copyToDevice(host.memory(), 0, buffer, 0, bytes);
      }
      DeviceIpcHandle handle = device.exportIpc(buffer, 16, bytes - 16);
      print("handle", Base64.getEncoder().encodeToString(handle.toBytes()));
      System.out.flush();
      BufferedReader in =
          new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      print("go", in.readLine());
      try (HostBytes host = new HostBytes(bytes)) {
        device.copyToHost(buffer, 0, host.memory(), 0, bytes);
        print("head.mismatch", host.firstMismatch(0, 16, 0, seed));
        print("written.mismatch", host.firstMismatch(16, bytes - 16, 0, seed + 1));
      }
    }
  }

  private static void print(String key, Object value) {
    System.out.println(key + "=" + value);
  }
}

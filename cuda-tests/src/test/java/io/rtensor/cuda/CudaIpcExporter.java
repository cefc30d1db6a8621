package io.rtensor.cuda;

import io.rtensor.device.Device;
import io.rtensor.device.DeviceBuffer;
import io.rtensor.device.DeviceIpcHandle;
import io.rtensor.device.DeviceRuntimes;
import io.rtensor.device.HostBuffer;
import io.rtensor.device.NativeHost;
import io.rtensor.device.RuntimeKind;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * The exporting process of {@link CudaIpcTest}: allocates {@code bytes} on GPU 0, fills them with
 * three byte values by range, prints the checksum of the range it exports (from offset {@value
 * #OFFSET}) and its handle, then keeps the memory alive until a line arrives on its input.
 */
final class CudaIpcExporter {
  static final long OFFSET = 4096 + 7;

  private CudaIpcExporter() {}

  public static void main(String[] args) throws Exception {
    long bytes = Long.parseLong(args[0]);
    Device gpu = DeviceRuntimes.get(RuntimeKind.CUDA).device(0);
    long length = bytes - OFFSET;
    try (DeviceBuffer buffer = gpu.allocate(bytes);
        HostBuffer host = gpu.allocateHost(length)) {
      gpu.fill(buffer, 0, bytes, 0x11);
      gpu.fill(buffer, OFFSET, length / 3, 0x5A);
      gpu.fill(buffer, OFFSET + length / 3, length / 3, 0xC3);
      gpu.copyToHost(buffer, OFFSET, host.memory(), 0, length);
      DeviceIpcHandle handle = gpu.exportIpc(buffer, OFFSET, length);
      System.out.println("checksum=" + NativeHost.checksum(host.address(), length));
      System.out.println("handle=" + Base64.getEncoder().encodeToString(handle.toBytes()));
      System.out.flush();
      new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
    }
    System.out.println("done=true");
  }
}

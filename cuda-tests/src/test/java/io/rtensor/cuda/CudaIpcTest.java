package io.rtensor.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.device.Device;
import io.rtensor.device.DeviceBuffer;
import io.rtensor.device.DeviceIpcHandle;
import io.rtensor.device.HostBuffer;
import io.rtensor.device.NativeHost;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * CUDA IPC between two processes on one real GPU: a child JVM ({@link CudaIpcExporter}) exports a
 * range of its memory, this JVM opens it, copies it device-to-device into its own memory and
 * compares the bytes, then closes the mapping before the child frees the memory.
 */
@Tag("gpu")
@Order(5)
class CudaIpcTest {
  private static final long BYTES = (64L << 20) + 4096 + 7;

  private static Process startExporter(long bytes) throws Exception {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    // The child finds the driver (and JavaCPP its cache) as this JVM does.
    System.getProperties()
        .stringPropertyNames()
        .forEach(
            name -> {
              if (name.startsWith("rtensor.") || name.startsWith("org.bytedeco.")) {
                command.add("-D" + name + "=" + System.getProperty(name));
              }
            });
    command.add(CudaIpcExporter.class.getName());
    command.add(String.valueOf(bytes));
    return new ProcessBuilder(command).redirectErrorStream(true).start();
  }

  @Test
  void aRangeAnotherProcessExportedIsOpenedCopiedOnTheGpuAndClosed() throws Exception {
    Device gpu = Gpu.cudaOrSkip().device(0);
    assertTrue(gpu.supportsIpc());
    Process child = startExporter(BYTES);
    StringBuilder out = new StringBuilder();
    try {
      BufferedReader lines =
          new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
      Long checksum = null;
      DeviceIpcHandle handle = null;
      for (String line = lines.readLine(); line != null; line = lines.readLine()) {
        out.append(line).append('\n');
        if (line.startsWith("checksum=")) {
          checksum = Long.parseLong(line.substring("checksum=".length()));
        } else if (line.startsWith("handle=")) {
          handle =
              DeviceIpcHandle.fromBytes(
                  Base64.getDecoder().decode(line.substring("handle=".length())));
          break;
        }
      }
      assertNotNull(handle, "the exporter printed no handle:\n" + out);
      assertNotNull(checksum, "the exporter printed no checksum:\n" + out);
      assertEquals(child.pid(), handle.exporterPid());
      assertEquals(CudaIpcExporter.OFFSET, handle.offset());
      assertEquals(gpu.physicalId(), handle.physicalId());
      long n = handle.length();
      System.out.println("[cuda-tests] opening " + handle + " on " + gpu.physicalId());
      DeviceBuffer mapped = gpu.openIpc(handle);
      try (DeviceBuffer own = gpu.allocate(n);
          HostBuffer host = gpu.allocateHost(n)) {
        assertFalse(mapped.owned());
        assertTrue(mapped.ipcMapped());
        assertEquals(n, mapped.size());
        gpu.copyOnDevice(mapped, 0, own, 0, n);
        gpu.copyToHost(own, 0, host.memory(), 0, n);
        assertEquals(checksum, NativeHost.checksum(host.address(), n), "bytes copied on the GPU");
        // Cleared, then read straight from the mapping.
        gpu.fill(own, 0, n, 0);
        gpu.copyToHost(own, 0, host.memory(), 0, n);
        assertNotEquals(checksum, NativeHost.checksum(host.address(), n));
        gpu.copyToHost(mapped, 0, host.memory(), 0, n);
        assertEquals(checksum, NativeHost.checksum(host.address(), n), "bytes read through D2H");
      } finally {
        mapped.close();
        mapped.close();
      }
      assertTrue(mapped.isClosed());
      try (OutputStream in = child.getOutputStream()) {
        in.write("closed\n".getBytes(StandardCharsets.UTF_8));
      }
      for (String line = lines.readLine(); line != null; line = lines.readLine()) {
        out.append(line).append('\n');
      }
      assertTrue(child.waitFor(60, TimeUnit.SECONDS), out.toString());
      assertEquals(0, child.exitValue(), out.toString());
      assertTrue(out.toString().contains("done=true"), out.toString());
    } finally {
      child.destroyForcibly();
    }
  }
}

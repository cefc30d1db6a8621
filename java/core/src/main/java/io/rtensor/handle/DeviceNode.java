package io.rtensor.handle;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

/**
 * Which machine this process runs on, as far as device memory handed over by address goes: two
 * processes with the same id share a kernel and a host name, so a CUDA IPC handle one exports the
 * other can open. The id is the kernel's boot id ({@code /proc/sys/kernel/random/boot_id}, a random
 * UUID per boot) and the host name; containers on one machine share the boot id but not (by
 * default) the host name, and are told apart. Where the boot id cannot be read the id is unique to
 * this process, so nothing is ever opened across processes there.
 */
public final class DeviceNode {
  private static final String ID = compute();

  private DeviceNode() {}

  /** This process's node id. */
  public static String id() {
    return ID;
  }

  private static String compute() {
    String host;
    try {
      host = InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      host = "unknown-host";
    }
    try {
      String boot =
          Files.readString(Path.of("/proc/sys/kernel/random/boot_id"), StandardCharsets.US_ASCII)
              .trim();
      if (!boot.isEmpty()) {
        return host + "/" + boot;
      }
    } catch (IOException | RuntimeException e) {
      // no boot id: fall through to a process-unique id
    }
    return host + "/process-" + UUID.randomUUID();
  }
}

package io.rtensor.runtime;

import java.io.IOException;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;

/** Free TCP ports of this machine, for engines that open their own servers. */
public final class Ports {
  private Ports() {}

  /**
   * {@code count} distinct ports that were free a moment ago (each bound, then released together,
   * so the list has no repeats). An engine binds them next; a rare race with another process is the
   * engine's to retry.
   *
   * @throws IllegalArgumentException for a count outside [0, 64] or when the ports run out
   */
  public static List<Integer> free(int count) {
    if (count < 0 || count > 64) {
      throw new IllegalArgumentException("port count must be in [0, 64], got " + count);
    }
    List<ServerSocket> sockets = new ArrayList<>();
    List<Integer> ports = new ArrayList<>();
    try {
      for (int i = 0; i < count; i++) {
        ServerSocket socket = new ServerSocket(0);
        sockets.add(socket);
        ports.add(socket.getLocalPort());
      }
      return ports;
    } catch (IOException e) {
      throw new IllegalArgumentException(
          "cannot allocate " + count + " ports: " + e.getMessage(), e);
    } finally {
      for (ServerSocket socket : sockets) {
        try {
          socket.close();
        } catch (IOException ignored) {
          // The port is reported either way; closing a bound socket does not fail in practice.
        }
      }
    }
  }
}

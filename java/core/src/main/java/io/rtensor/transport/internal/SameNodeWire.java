package io.rtensor.transport.internal;

import io.rtensor.auth.StreamAuth;
import io.rtensor.ipc.UnixSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The same-node protocol of a shard server's Unix socket (see {@link SameNodeServer}). Every
 * message is a frame: a 4-byte big-endian length, then that many bytes. After the {@link
 * StreamAuth} handshake the client sends requests, each {@code GET ids} ({@link #GET}, then the ids
 * as in a Flight ticket); the server answers with a status frame:
 *
 * <ul>
 *   <li>{@link #OK}, count: then one 9-byte record per id, in order: {@link #SHARED} and the
 *       shard's length (8 bytes), sent with a read-only descriptor of the shard's segment, or
 *       {@link #NOT_SHARED} and the length, for a shard to fetch over Flight instead;
 *   <li>{@link #MISSING}: then a frame of the ids the store lacks; nothing else is sent;
 *   <li>{@link #ERROR}: then a frame with a message.
 * </ul>
 */
public final class SameNodeWire {
  /** The Flight action that negotiates it: its result names the socket, or it is unknown. */
  public static final String ACTION = "same-node";

  static final byte GET = 1;
  static final byte OK = 0;
  static final byte MISSING = 1;
  static final byte ERROR = 2;
  static final byte SHARED = 0;
  static final byte NOT_SHARED = 1;
  static final int RECORD_BYTES = 9;

  /** Largest frame either side accepts: a request of {@link FlightWire#MAX_IDS} ids and slack. */
  static final int MAX_FRAME = FlightWire.MAX_REQUEST_MESSAGE_BYTES;

  private SameNodeWire() {}

  /** What both sides name the server as in the handshake. */
  static String identity(String flightAddress, String socketPath) {
    return "same-node " + flightAddress + " " + socketPath;
  }

  static void sendFrame(UnixSocket socket, byte[] payload) {
    byte[] frame =
        ByteBuffer.allocate(4 + payload.length).putInt(payload.length).put(payload).array();
    socket.send(frame, -1);
  }

  /** The next frame; a length past {@link #MAX_FRAME} or a descriptor is a protocol error. */
  static byte[] receiveFrame(UnixSocket socket) {
    byte[] head = new byte[4];
    expectNoDescriptor(socket.receive(head));
    int length = ByteBuffer.wrap(head).getInt();
    if (length < 0 || length > MAX_FRAME) {
      throw new IllegalArgumentException(
          "frame of " + length + " bytes (at most " + MAX_FRAME + " accepted)");
    }
    byte[] body = new byte[length];
    if (length > 0) {
      expectNoDescriptor(socket.receive(body));
    }
    return body;
  }

  private static void expectNoDescriptor(int fd) {
    if (fd >= 0) {
      UnixSocket.closeDescriptor(fd);
      throw new IllegalArgumentException("a descriptor came with a frame that carries none");
    }
  }

  static StreamAuth.Messages messages(UnixSocket socket) {
    return new StreamAuth.Messages() {
      @Override
      public void send(byte[] message) {
        sendFrame(socket, message);
      }

      @Override
      public byte[] receive() {
        return receiveFrame(socket);
      }
    };
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** This node's boot id: two processes that read the same one run on one kernel. */
  static String bootId() {
    try {
      return Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).trim();
    } catch (java.io.IOException | RuntimeException e) {
      return "";
    }
  }
}

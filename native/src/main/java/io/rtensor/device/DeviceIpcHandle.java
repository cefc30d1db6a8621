package io.rtensor.device;

import java.io.IOException;
import java.io.InvalidObjectException;
import java.io.ObjectInputStream;
import java.io.Serializable;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/**
 * A range of device memory another process may map ({@link Device#exportIpc}, {@link
 * Device#openIpc}): the runtime's IPC handle of the allocation holding the range (64 bytes, CUDA's
 * {@code CUipcMemHandle}), the range's offset from that allocation's base and its length, and who
 * exported it: the physical device ({@link Device#physicalId()}) and the process id.
 *
 * <p>The handle bytes are a capability: whoever holds them (and runs as the same user on the same
 * machine) can map the memory. {@link #toString()} never prints them.
 *
 * <p>A plain class rather than a record: Ray's Java serializer (FST) sets fields reflectively,
 * which the JDK forbids for a record's final fields. Java serialization checks the fields it reads
 * as the constructor does.
 */
public final class DeviceIpcHandle implements Serializable {
  private static final long serialVersionUID = 1L;

  /** Bytes of the runtime's handle ({@code CU_IPC_HANDLE_SIZE}). */
  public static final int HANDLE_BYTES = 64;

  // toBytes: magic "RTIH", format version, handle, offset, length, pid, physical id (UTF-8).
  private static final int MAGIC = 0x52544948;
  private static final byte FORMAT_VERSION = 1;
  private static final int FIXED_BYTES = 4 + 1 + HANDLE_BYTES + 8 + 8 + 8 + 2;
  private static final int MAX_PHYSICAL_ID_BYTES = 256;

  private byte[] handle;
  private long offset;
  private long length;
  private String physicalId;
  private long exporterPid;

  /** For serializers. */
  DeviceIpcHandle() {}

  /**
   * A handle as {@link Device#exportIpc} makes it.
   *
   * @param handle the runtime's 64 handle bytes (copied)
   * @param offset the range's start from the base of its allocation, {@code >= 0}
   * @param length the range's bytes, {@code > 0}
   * @param physicalId the exporting device's {@link Device#physicalId()}
   * @param exporterPid the exporting process's id, {@code > 0}
   * @throws IllegalArgumentException when a value is out of range
   */
  public DeviceIpcHandle(
      byte[] handle, long offset, long length, String physicalId, long exporterPid) {
    Objects.requireNonNull(handle, "handle");
    Objects.requireNonNull(physicalId, "physicalId");
    this.handle = handle.clone();
    this.offset = offset;
    this.length = length;
    this.physicalId = physicalId;
    this.exporterPid = exporterPid;
    validate(IllegalArgumentException::new);
  }

  private <E extends Exception> void validate(java.util.function.Function<String, E> error)
      throws E {
    if (handle == null || handle.length != HANDLE_BYTES) {
      throw error.apply(
          "an IPC handle has "
              + HANDLE_BYTES
              + " bytes, got "
              + (handle == null ? "none" : handle.length));
    }
    if (offset < 0) {
      throw error.apply("IPC range offset must be >= 0, got " + offset);
    }
    if (length <= 0) {
      throw error.apply("IPC range length must be > 0, got " + length);
    }
    if (offset > Long.MAX_VALUE - length) {
      throw error.apply("IPC range [" + offset + ", " + offset + " + " + length + ") overflows");
    }
    if (physicalId == null || physicalId.isEmpty()) {
      throw error.apply("an IPC handle needs the exporter's physical device id");
    }
    if (physicalId.getBytes(StandardCharsets.UTF_8).length > MAX_PHYSICAL_ID_BYTES) {
      throw error.apply("physical device id longer than " + MAX_PHYSICAL_ID_BYTES + " bytes");
    }
    if (exporterPid <= 0) {
      throw error.apply("exporter pid must be > 0, got " + exporterPid);
    }
  }

  /** The runtime's handle bytes (a copy). */
  public byte[] handle() {
    return handle.clone();
  }

  /** Where the range starts, from the base of the exported allocation. */
  public long offset() {
    return offset;
  }

  /** The range's bytes. */
  public long length() {
    return length;
  }

  /** The exporting device's {@link Device#physicalId()} (for CUDA its PCI bus id). */
  public String physicalId() {
    return physicalId;
  }

  /** The id of the process that exported the memory. */
  public long exporterPid() {
    return exporterPid;
  }

  /**
   * A compact binary form: a magic number and format version, the handle bytes, offset, length,
   * exporter pid and physical id. {@link #fromBytes} reads it back.
   */
  public byte[] toBytes() {
    byte[] id = physicalId.getBytes(StandardCharsets.UTF_8);
    ByteBuffer out = ByteBuffer.allocate(FIXED_BYTES + id.length);
    out.putInt(MAGIC).put(FORMAT_VERSION).put(handle);
    out.putLong(offset).putLong(length).putLong(exporterPid);
    out.putShort((short) id.length).put(id);
    return out.array();
  }

  /**
   * Reads the form {@link #toBytes()} writes.
   *
   * @throws IllegalArgumentException when the bytes are not such a handle (wrong magic number,
   *     unknown version, truncated or trailing bytes, values out of range)
   */
  public static DeviceIpcHandle fromBytes(byte[] bytes) {
    Objects.requireNonNull(bytes, "bytes");
    if (bytes.length < FIXED_BYTES) {
      throw new IllegalArgumentException(
          "not a device IPC handle: "
              + bytes.length
              + " bytes, the form has at least "
              + FIXED_BYTES);
    }
    ByteBuffer in = ByteBuffer.wrap(bytes);
    int magic = in.getInt();
    if (magic != MAGIC) {
      throw new IllegalArgumentException(
          "not a device IPC handle: magic 0x"
              + Integer.toHexString(magic)
              + ", expected 0x52544948");
    }
    byte version = in.get();
    if (version != FORMAT_VERSION) {
      throw new IllegalArgumentException(
          "device IPC handle of format version "
              + version
              + "; this rtensor reads version "
              + FORMAT_VERSION);
    }
    try {
      byte[] handle = new byte[HANDLE_BYTES];
      in.get(handle);
      long offset = in.getLong();
      long length = in.getLong();
      long pid = in.getLong();
      int idLength = Short.toUnsignedInt(in.getShort());
      if (idLength != in.remaining()) {
        throw new IllegalArgumentException(
            "device IPC handle: physical id of "
                + idLength
                + " bytes, but "
                + in.remaining()
                + " bytes follow");
      }
      byte[] id = new byte[idLength];
      in.get(id);
      return new DeviceIpcHandle(
          handle, offset, length, new String(id, StandardCharsets.UTF_8), pid);
    } catch (BufferUnderflowException e) {
      throw new IllegalArgumentException("device IPC handle truncated", e);
    }
  }

  private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
    in.defaultReadObject();
    validate(InvalidObjectException::new);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof DeviceIpcHandle h
        && offset == h.offset
        && length == h.length
        && exporterPid == h.exporterPid
        && physicalId.equals(h.physicalId)
        && Arrays.equals(handle, h.handle);
  }

  @Override
  public int hashCode() {
    return Objects.hash(Arrays.hashCode(handle), offset, length, physicalId, exporterPid);
  }

  /** Who exported which range; never the handle bytes, which grant access to the memory. */
  @Override
  public String toString() {
    return "DeviceIpcHandle[pid "
        + exporterPid
        + ", device "
        + physicalId
        + ", offset "
        + offset
        + ", "
        + length
        + " B]";
  }
}

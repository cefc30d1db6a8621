package io.rtensor.wire;

/**
 * Bytes that are not a valid shard: bad framing, truncation, lengths past the end or above a {@link
 * DecodeLimits} limit, shapes that do not match the body, unsupported types. The message says what
 * is wrong; {@link #offset()} says where.
 */
public final class WireFormatException extends io.rtensor.RTensorException {
  private final long offset;

  public WireFormatException(String message, long offset) {
    super(message + (offset >= 0 ? " (at byte " + offset + ")" : ""));
    this.offset = offset;
  }

  public WireFormatException(String message, long offset, Throwable cause) {
    super(message + (offset >= 0 ? " (at byte " + offset + ")" : ""), cause);
    this.offset = offset;
  }

  /** Byte offset in the stream where the problem was found, or -1 if unknown. */
  public long offset() {
    return offset;
  }
}

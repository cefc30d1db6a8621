package io.rtensor.transport;

/**
 * A fetch would push a {@link FetchCache} past its cap. Nothing already cached is lost and the
 * fetched bytes are released; clear shards that are no longer needed, or raise the cap.
 */
public final class FetchCacheFullException extends io.rtensor.RTensorException {
  private final long capBytes;
  private final long cachedBytes;
  private final long requestedBytes;

  public FetchCacheFullException(long capBytes, long cachedBytes, long requestedBytes) {
    super(
        "fetch cache full: caching "
            + requestedBytes
            + " more bytes would exceed the cap of "
            + capBytes
            + " bytes ("
            + cachedBytes
            + " cached); clear shards that are no longer needed (Remotizer.clear) or raise the cap");
    this.capBytes = capBytes;
    this.cachedBytes = cachedBytes;
    this.requestedBytes = requestedBytes;
  }

  /** The cache's cap in bytes. */
  public long capBytes() {
    return capBytes;
  }

  /** Bytes cached when the fetch was refused. */
  public long cachedBytes() {
    return cachedBytes;
  }

  /** Bytes the refused fetch needed. */
  public long requestedBytes() {
    return requestedBytes;
  }
}

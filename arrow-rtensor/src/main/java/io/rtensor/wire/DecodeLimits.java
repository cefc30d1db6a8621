package io.rtensor.wire;

/**
 * Upper bounds a decoder checks before it allocates anything.
 *
 * @param maxMetadataBytes largest flatbuffer metadata of one message
 * @param maxBodyBytes largest record batch body (the tensor bytes of one shard)
 * @param maxColumns most columns in a shard
 */
public record DecodeLimits(int maxMetadataBytes, long maxBodyBytes, int maxColumns) {
  /** 1 MiB of metadata, 4 GiB of body, 4096 columns. */
  public static final DecodeLimits DEFAULT = new DecodeLimits(1 << 20, 4L << 30, 4096);

  public DecodeLimits {
    if (maxMetadataBytes < 8 || maxBodyBytes < 0 || maxColumns < 0) {
      throw new IllegalArgumentException(
          "limits must be non-negative (metadata at least 8): "
              + maxMetadataBytes
              + ", "
              + maxBodyBytes
              + ", "
              + maxColumns);
    }
  }

  /** These limits with another body limit. */
  public DecodeLimits withMaxBodyBytes(long bytes) {
    return new DecodeLimits(maxMetadataBytes, bytes, maxColumns);
  }
}

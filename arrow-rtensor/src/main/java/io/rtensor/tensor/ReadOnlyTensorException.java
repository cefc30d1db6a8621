package io.rtensor.tensor;

/**
 * A write was asked of a read-only tensor ({@link Tensor#isReadOnly()}): memory that is not
 * rtensor's to write, such as a shard mapped in place from the object store. Copy the tensor to
 * write.
 */
public final class ReadOnlyTensorException extends io.rtensor.RTensorException {
  private static final long serialVersionUID = 1L;

  public ReadOnlyTensorException(String message) {
    super(message);
  }
}

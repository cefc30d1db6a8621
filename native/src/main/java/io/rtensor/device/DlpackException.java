package io.rtensor.device;

/**
 * A DLPack tensor cannot be imported or exported: its device, dtype or layout is one rtensor does
 * not take (another device type, vector lanes, strides that are not compact row-major), or its
 * fields are inconsistent. When thrown by an import, the producer's deleter has been called: the
 * tensor was taken and given back.
 */
public class DlpackException extends io.rtensor.RTensorException {
  private static final long serialVersionUID = 1L;

  public DlpackException(String message) {
    super(message);
  }

  public DlpackException(String message, Throwable cause) {
    super(message, cause);
  }
}

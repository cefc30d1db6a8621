package io.rtensor;

/**
 * The root of every exception rtensor throws on purpose: device runtime errors, invalid wire bytes,
 * data-plane failures and scheduler failures all extend it, so a controller can catch the library's
 * failures in one place and tell them from its own.
 */
public class RTensorException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public RTensorException(String message) {
    super(message);
  }

  public RTensorException(String message, Throwable cause) {
    super(message, cause);
  }
}

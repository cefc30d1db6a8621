package io.rtensor.device;

/**
 * A runtime could not be loaded: its library is missing, lacks an entry point, the driver is too
 * old, or its initialisation failed. The message names the library and the reason; the CPU backend
 * keeps working.
 */
public final class RuntimeUnavailableException extends DeviceException {
  private static final long serialVersionUID = 1L;

  private final String library;

  public RuntimeUnavailableException(
      RuntimeKind runtime, String library, String reason, int status, String message) {
    super(runtime, reason, message, status, -1, "load", -1);
    this.library = library;
  }

  /** The library file the loader tried. */
  public String library() {
    return library;
  }
}

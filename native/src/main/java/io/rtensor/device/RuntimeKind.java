package io.rtensor.device;

import io.rtensor.device.internal.DeviceOps;

/** The device runtimes rtensor can drive; which ones work is decided at run time. */
public enum RuntimeKind {
  /** Plain host memory; always available. */
  CPU(DeviceOps.BACKEND_CPU, "", "", ""),
  /** The NVIDIA CUDA driver API, {@code libcuda.so.1}. */
  CUDA(DeviceOps.BACKEND_CUDA, "rtensor.cuda.library", "RTENSOR_CUDA_LIBRARY", "libcuda.so.1"),
  /** The Ascend CANN runtime (AscendCL), {@code libascendcl.so}. */
  ASCEND(DeviceOps.BACKEND_ACL, "rtensor.acl.library", "RTENSOR_ACL_LIBRARY", "libascendcl.so");

  private final int backend;
  private final String libraryProperty;
  private final String libraryEnvironment;
  private final String defaultLibrary;

  RuntimeKind(int backend, String property, String environment, String defaultLibrary) {
    this.backend = backend;
    this.libraryProperty = property;
    this.libraryEnvironment = environment;
    this.defaultLibrary = defaultLibrary;
  }

  int backend() {
    return backend;
  }

  /** The system property that overrides the library file (empty for the CPU). */
  public String libraryProperty() {
    return libraryProperty;
  }

  /** The environment variable that overrides the library file (empty for the CPU). */
  public String libraryEnvironment() {
    return libraryEnvironment;
  }

  /**
   * The library file the loader opens: the system property if set, else the environment variable,
   * else the vendor's default name (found through the dynamic linker's search path).
   */
  public String libraryPath() {
    if (this == CPU) {
      return "";
    }
    String fromProperty = System.getProperty(libraryProperty);
    if (fromProperty != null && !fromProperty.isBlank()) {
      return fromProperty;
    }
    String fromEnvironment = System.getenv(libraryEnvironment);
    if (fromEnvironment != null && !fromEnvironment.isBlank()) {
      return fromEnvironment;
    }
    return defaultLibrary;
  }
}

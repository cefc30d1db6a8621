package io.rtensor.scheduler;

/** The device resource a task asks for. */
public enum DeviceType {
  /** NVIDIA GPUs (Ray resource {@code GPU}, {@code CUDA_VISIBLE_DEVICES}). */
  GPU("GPU", "CUDA_VISIBLE_DEVICES"),
  /** Ascend NPUs (Ray custom resource {@code NPU}, {@code ASCEND_RT_VISIBLE_DEVICES}). */
  NPU("NPU", "ASCEND_RT_VISIBLE_DEVICES"),
  /** No accelerator. */
  CPU("CPU", null);

  private final String resourceName;
  private final String visibleDevicesVariable;

  DeviceType(String resourceName, String visibleDevicesVariable) {
    this.resourceName = resourceName;
    this.visibleDevicesVariable = visibleDevicesVariable;
  }

  /** The cluster resource name for this device. */
  public String resourceName() {
    return resourceName;
  }

  /** The environment variable that restricts a process to its devices, or null for CPU. */
  public String visibleDevicesVariable() {
    return visibleDevicesVariable;
  }
}

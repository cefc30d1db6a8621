package io.rtensor.scheduler;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * What one task of a job needs: CPUs, devices, memory, environment, ports and placement.
 *
 * @param cpu CPUs (may be fractional, > 0)
 * @param devices devices of {@code deviceType} (whole devices, >= 0)
 * @param deviceType the kind of device; CPU when {@code devices} is 0
 * @param memoryBytes memory to reserve, 0 for none
 * @param env environment variables for the worker process
 * @param portCount ports to allocate for the engine on the worker's node
 * @param placement how the job reserves its resources
 */
public record SchedulingSpec(
    double cpu,
    int devices,
    DeviceType deviceType,
    long memoryBytes,
    Map<String, String> env,
    int portCount,
    PlacementStrategy placement) {

  public SchedulingSpec {
    Objects.requireNonNull(deviceType, "deviceType");
    Objects.requireNonNull(placement, "placement");
    env = Map.copyOf(env);
    if (!(cpu > 0) || Double.isInfinite(cpu)) {
      throw new IllegalArgumentException("cpu must be > 0, got " + cpu);
    }
    if (devices < 0) {
      throw new IllegalArgumentException("devices must be >= 0, got " + devices);
    }
    if (devices > 0 && deviceType == DeviceType.CPU) {
      throw new IllegalArgumentException("devices > 0 needs deviceType GPU or NPU, got CPU");
    }
    if (memoryBytes < 0) {
      throw new IllegalArgumentException("memoryBytes must be >= 0, got " + memoryBytes);
    }
    if (portCount < 0 || portCount > 64) {
      throw new IllegalArgumentException("portCount must be in [0, 64], got " + portCount);
    }
  }

  /** A builder starting from 1 CPU, no device, no memory, no ports, SHARED placement. */
  public static Builder builder() {
    return new Builder();
  }

  /** The GPUs this task asks for (0 unless the device type is GPU). */
  public int gpu() {
    return deviceType == DeviceType.GPU ? devices : 0;
  }

  /** Builder for {@link SchedulingSpec}. */
  public static final class Builder {
    private double cpu = 1;
    private int devices;
    private DeviceType deviceType = DeviceType.CPU;
    private long memoryBytes;
    private final Map<String, String> env = new LinkedHashMap<>();
    private int portCount;
    private PlacementStrategy placement = PlacementStrategy.SHARED;

    private Builder() {}

    public Builder cpu(double cpu) {
      this.cpu = cpu;
      return this;
    }

    /** Whole GPUs. */
    public Builder gpu(int gpus) {
      this.devices = gpus;
      this.deviceType = gpus > 0 ? DeviceType.GPU : DeviceType.CPU;
      return this;
    }

    /** Whole devices of the given type. */
    public Builder devices(int devices, DeviceType type) {
      this.devices = devices;
      this.deviceType = type;
      return this;
    }

    public Builder memoryBytes(long memoryBytes) {
      this.memoryBytes = memoryBytes;
      return this;
    }

    public Builder env(String name, String value) {
      this.env.put(name, value);
      return this;
    }

    public Builder env(Map<String, String> env) {
      this.env.putAll(env);
      return this;
    }

    public Builder portCount(int portCount) {
      this.portCount = portCount;
      return this;
    }

    public Builder placement(PlacementStrategy placement) {
      this.placement = placement;
      return this;
    }

    public SchedulingSpec build() {
      return new SchedulingSpec(cpu, devices, deviceType, memoryBytes, env, portCount, placement);
    }
  }
}

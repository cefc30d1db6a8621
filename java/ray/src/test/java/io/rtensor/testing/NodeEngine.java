package io.rtensor.testing;

import io.ray.api.Ray;
import io.rtensor.device.DeviceVisibility;
import io.rtensor.engine.Engine;
import io.rtensor.engine.EngineContext;
import java.util.ArrayList;
import java.util.List;

/** A test engine that reports which Ray node its worker runs on. */
public class NodeEngine implements Engine {
  private EngineContext context;

  @Override
  public void initialize(EngineContext context) {
    this.context = context;
  }

  /** The id (hex) of the Ray node this worker runs on, as Ray's runtime context says. */
  public String nodeId() {
    return Ray.getRuntimeContext().getCurrentNodeId().toString();
  }

  /** The IP of the node this worker runs on, as its raylet handed it to the worker JVM. */
  public String nodeIp() {
    return System.getProperty("ray.node-ip", "");
  }

  public long pid() {
    return ProcessHandle.current().pid();
  }

  /** The device ids this worker was assigned. */
  public List<Long> gpuIds() {
    List<Long> ids = new ArrayList<>();
    context.deviceIds().forEach(id -> ids.add((long) id));
    return ids;
  }

  /** A variable of this process's native environment (what dlopened runtimes read), or "". */
  public String nativeEnv(String name) {
    return DeviceVisibility.nativeEnv(name).orElse("");
  }

  public String getenv(String name) {
    String value = context.getenv(name);
    return value == null ? "" : value;
  }

  /** Sleeps {@code millis} (a call as long as a training step), then answers its node's IP. */
  public String sleep(long millis) throws InterruptedException {
    Thread.sleep(millis);
    return nodeIp();
  }
}

package io.rtensor.host;

import java.io.Serializable;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One {@link WorkerControl} operation as a typed value: what a scheduler sends and a worker's
 * transport adapter hands to {@link #applyTo}. {@code R} is the type of the reply.
 */
public sealed interface ControlRequest<R> extends Serializable {

  /** The operation's name, as errors and logs print it. */
  String name();

  /** Runs the operation on {@code control}. */
  R applyTo(WorkerControl control);

  /** See {@link WorkerControl#ping}. */
  record Ping() implements ControlRequest<WorkerInfo> {
    @Override
    public String name() {
      return "ping";
    }

    @Override
    public WorkerInfo applyTo(WorkerControl control) {
      return control.ping();
    }
  }

  /** See {@link WorkerControl#createEngine}. */
  record CreateEngine(String className, String engineName, Object[] args)
      implements ControlRequest<CallResult> {
    public CreateEngine {
      Objects.requireNonNull(className, "className");
      args = args == null ? new Object[0] : args;
    }

    @Override
    public String name() {
      return "createEngine";
    }

    @Override
    public CallResult applyTo(WorkerControl control) {
      return control.createEngine(className, engineName, args);
    }
  }

  /**
   * See {@link WorkerControl#call}; {@code engineName} null for the default engine, {@code device}
   * null for the default placement of tensor arguments.
   */
  record Call(String engineName, String method, Object[] args, Integer device)
      implements ControlRequest<CallResult> {
    public Call {
      Objects.requireNonNull(method, "method");
      args = args == null ? new Object[0] : args;
      if (device != null && device < 0) {
        throw new IllegalArgumentException("device must be >= 0, got " + device);
      }
    }

    /** A call with the default placement of tensor arguments. */
    public Call(String engineName, String method, Object[] args) {
      this(engineName, method, args, null);
    }

    @Override
    public String name() {
      return "call";
    }

    @Override
    public CallResult applyTo(WorkerControl control) {
      return control.call(engineName, method, args, device);
    }
  }

  /** See {@link WorkerControl#setEnv}. */
  record SetEnv(Map<String, String> env) implements ControlRequest<Boolean> {
    public SetEnv {
      env = Map.copyOf(env);
    }

    @Override
    public String name() {
      return "setEnv";
    }

    @Override
    public Boolean applyTo(WorkerControl control) {
      return control.setEnv(env);
    }
  }

  /** See {@link WorkerControl#configure}. */
  record Configure(String role, int rank, long seed) implements ControlRequest<Boolean> {
    public Configure {
      Objects.requireNonNull(role, "role");
    }

    @Override
    public String name() {
      return "configure";
    }

    @Override
    public Boolean applyTo(WorkerControl control) {
      return control.configure(role, rank, seed);
    }
  }

  /** See {@link WorkerControl#allocPorts}. */
  record AllocPorts(int count) implements ControlRequest<List<Integer>> {
    public AllocPorts {
      if (count < 0 || count > 1024) {
        throw new IllegalArgumentException("port count must be in [0, 1024], got " + count);
      }
    }

    @Override
    public String name() {
      return "allocPorts";
    }

    @Override
    public List<Integer> applyTo(WorkerControl control) {
      return control.allocPorts(count);
    }
  }

  /** See {@link WorkerControl#clearCache}. */
  record ClearCache(List<String> shardIds) implements ControlRequest<Integer> {
    public ClearCache {
      shardIds = List.copyOf(shardIds);
    }

    @Override
    public String name() {
      return "clearCache";
    }

    @Override
    public Integer applyTo(WorkerControl control) {
      return control.clearCache(shardIds);
    }
  }

  /** See {@link WorkerControl#memory}. */
  record Memory() implements ControlRequest<WorkerMemory> {
    @Override
    public String name() {
      return "memory";
    }

    @Override
    public WorkerMemory applyTo(WorkerControl control) {
      return control.memory();
    }
  }

  /** See {@link WorkerControl#destroy}. */
  record Destroy() implements ControlRequest<List<String>> {
    @Override
    public String name() {
      return "destroy";
    }

    @Override
    public List<String> applyTo(WorkerControl control) {
      return control.destroy();
    }
  }

  /** See {@link WorkerControl#exit}. */
  record Exit() implements ControlRequest<Boolean> {
    @Override
    public String name() {
      return "exit";
    }

    @Override
    public Boolean applyTo(WorkerControl control) {
      return control.exit();
    }
  }
}

package io.rtensor.cli.demo;

import io.rtensor.engine.Engine;
import io.rtensor.engine.EngineContext;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * What the demo's two engines share: the engine context, an allocator of their own (closed with the
 * engine), and the kind of device the worker opened, which the controller checks before the steps.
 */
abstract class DemoEngine implements Engine {
  /** The engine's context, from {@link #initialize}. */
  protected EngineContext context;

  /** The engine's own Arrow memory, closed by {@link #destroy}. */
  protected BufferAllocator allocator;

  @Override
  public void initialize(EngineContext context) {
    this.context = context;
    allocator = new RootAllocator();
  }

  @Override
  public void destroy() {
    allocator.close();
  }

  /** The kind of the worker's device ({@code CUDA}, {@code ASCEND}), or "" when it has none. */
  public String deviceKind() {
    return context.device() == null ? "" : context.device().kind().name();
  }
}

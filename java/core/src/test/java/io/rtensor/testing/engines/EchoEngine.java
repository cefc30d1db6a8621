package io.rtensor.testing.engines;

import io.rtensor.engine.EngineContext;
import io.rtensor.engine.TrainEngine;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/** A test engine: echoes, adds (overloaded), sleeps, throws, and reports where it runs. */
public class EchoEngine implements TrainEngine {
  private final String label;
  private final AtomicInteger calls = new AtomicInteger();
  private EngineContext context;
  private volatile boolean destroyed;

  public EchoEngine() {
    this("echo");
  }

  public EchoEngine(String label) {
    this.label = label;
  }

  @Override
  public void initialize(EngineContext context) {
    this.context = context;
  }

  @Override
  public void destroy() {
    destroyed = true;
  }

  public String label() {
    return label;
  }

  public Object echo(Object value) {
    return value;
  }

  public int add(int a, int b) {
    return a + b;
  }

  public String add(String a, String b) {
    return a + b;
  }

  /** The role this engine's context names (set by configure before the engine was created). */
  public String role() {
    return context.role();
  }

  public int rank() {
    return context.rank();
  }

  public long seed() {
    return context.seed();
  }

  public long pid() {
    return ProcessHandle.current().pid();
  }

  /** The device ids the scheduler assigned to this worker, as its engines see them. */
  public List<Long> gpuIds() {
    List<Long> ids = new ArrayList<>();
    context.deviceIds().forEach(id -> ids.add((long) id));
    return ids;
  }

  public String getenv(String name) {
    String value = context.getenv(name);
    return value == null ? "" : value;
  }

  public String describe() {
    return context.workerId() + " " + context.role() + " " + context.rank() + " " + context.seed();
  }

  /** Counts every call to this method, so tests can see retries. */
  public int countedSleep(long millis) throws InterruptedException {
    int n = calls.incrementAndGet();
    Thread.sleep(millis);
    return n;
  }

  /**
   * Sleeps {@code millis} and answers when it slept, as {@code "start,end"} in milliseconds of the
   * wall clock (comparable across the worker processes of one machine).
   */
  public String sleepWindow(long millis) throws InterruptedException {
    long start = System.currentTimeMillis();
    Thread.sleep(millis);
    return start + "," + System.currentTimeMillis();
  }

  public int calls() {
    return calls.get();
  }

  public void fail(String message) {
    calls.incrementAndGet();
    throw new IllegalStateException(message);
  }

  public CompletableFuture<Integer> later(int value) {
    return CompletableFuture.supplyAsync(() -> value * 2);
  }

  public Map<String, Object> noop() {
    return null;
  }

  public boolean destroyed() {
    return destroyed;
  }
}

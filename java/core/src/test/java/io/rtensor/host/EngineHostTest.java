package io.rtensor.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.engine.Engine;
import io.rtensor.transport.ValueTransport;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

class EngineHostTest {

  /** An engine with overloads that tell the resolver's choices apart. */
  public static class Overloaded implements Engine {
    public Overloaded() {}

    public String pick(Object value) {
      return "object";
    }

    public String pick(String value) {
      return "string";
    }

    public String pick(Integer a, Object b) {
      return "integer-object";
    }

    public String pick(Object a, Integer b) {
      return "object-integer";
    }

    public long widen(long value) {
      return value + 1;
    }

    public CompletableFuture<String> async() {
      return CompletableFuture.supplyAsync(() -> "done");
    }

    public void boom() {
      throw new UnsupportedOperationException("boom");
    }
  }

  /** Records destroy calls; one of them throws. */
  public static class Destroyable implements Engine {
    static int destroyed;
    private final boolean fail;

    public Destroyable(Boolean fail) {
      this.fail = fail;
    }

    @Override
    public void destroy() {
      destroyed++;
      if (fail) {
        throw new IllegalStateException("cannot release");
      }
    }
  }

  private static EngineHost host() {
    return new EngineHost("role/2", ValueTransport.IDENTITY, EngineHostTest.class.getClassLoader());
  }

  @Test
  void overloadsResolveToTheMostSpecificMethod() {
    EngineHost host = host();
    assertTrue(host.createEngine(Overloaded.class.getName(), null, new Object[0]).ok());
    assertEquals("string", host.call(null, "pick", new Object[] {"s"}).value());
    assertEquals("object", host.call(null, "pick", new Object[] {3.5}).value());
    assertEquals("string", host.call("Overloaded", "pick", new Object[] {null}).value());
  }

  @Test
  void ambiguousOverloadsAreReportedWithTheCandidates() {
    EngineHost host = host();
    host.createEngine(Overloaded.class.getName(), "o", new Object[0]);
    CallResult result = host.call("o", "pick", new Object[] {1, 2});
    assertEquals(CallResult.Status.NO_SUCH_METHOD, result.status());
    assertTrue(result.errorMessage().contains("ambiguous"), result.errorMessage());
  }

  @Test
  void integersWidenToLongParametersAndFuturesAreAwaited() {
    EngineHost host = host();
    host.createEngine(Overloaded.class.getName(), "o", new Object[0]);
    assertEquals(8L, host.call("o", "widen", new Object[] {7}).value());
    assertEquals("done", host.call("o", "async", new Object[0]).value());
  }

  @Test
  void engineExceptionsComeBackAsValuesWithTheirStack() {
    EngineHost host = host();
    host.createEngine(Overloaded.class.getName(), "o", new Object[0]);
    CallResult result = host.call("o", "boom", new Object[0]);
    assertEquals(CallResult.Status.ENGINE_EXCEPTION, result.status());
    assertEquals(UnsupportedOperationException.class.getName(), result.errorClass());
    assertEquals("boom", result.errorMessage());
    assertTrue(result.errorStack().contains("Overloaded.boom"));
  }

  @Test
  void aCallOnADeviceToAWorkerWithoutOneIsRefusedBeforeTheEngineRuns() {
    EngineHost host = host();
    host.createEngine(Overloaded.class.getName(), "o", new Object[0]);
    CallResult refused = host.call("o", "boom", new Object[0], 0);
    assertEquals(CallResult.Status.DEVICE_ARGUMENT, refused.status(), refused.toString());
    assertTrue(refused.errorMessage().contains("role/2 holds no device"), refused.errorMessage());
    assertEquals(
        CallResult.Status.ENGINE_EXCEPTION, host.call("o", "boom", new Object[0], null).status());
  }

  @Test
  void destroyAllDestroysEveryEngineOnceAndReportsFailures() {
    EngineHost host = host();
    Destroyable.destroyed = 0;
    assertTrue(host.createEngine(Destroyable.class.getName(), "a", new Object[] {false}).ok());
    assertTrue(host.createEngine(Destroyable.class.getName(), "b", new Object[] {true}).ok());
    assertEquals(List.of("a", "b"), host.engineNames());
    List<String> failures = host.destroyAll();
    assertEquals(2, Destroyable.destroyed);
    assertEquals(1, failures.size());
    assertTrue(failures.get(0).startsWith("b: "), failures.get(0));
    assertTrue(host.engineNames().isEmpty());
    assertEquals(CallResult.Status.NOT_FOUND, host.call(null, "x", new Object[0]).status());
  }

  @Test
  void duplicateEngineNamesAreRefused() {
    EngineHost host = host();
    host.createEngine(Overloaded.class.getName(), "o", new Object[0]);
    CallResult again = host.createEngine(Overloaded.class.getName(), "o", new Object[0]);
    assertEquals(CallResult.Status.BAD_ARGUMENT, again.status());
  }
}

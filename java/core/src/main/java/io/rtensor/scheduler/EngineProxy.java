package io.rtensor.scheduler;

import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import net.bytebuddy.ByteBuddy;
import net.bytebuddy.description.method.MethodDescription;
import net.bytebuddy.dynamic.loading.ClassLoadingStrategy;
import net.bytebuddy.implementation.InvocationHandlerAdapter;
import net.bytebuddy.matcher.ElementMatcher;
import net.bytebuddy.matcher.ElementMatchers;

/**
 * Typed clients for engines on workers: {@code EngineProxy.of(scheduler, "actor/0",
 * TrainEngine.class)} returns an object whose method calls run remotely through {@link
 * Scheduler#callEngine}. Methods returning {@link CompletableFuture} (or {@link CompletionStage})
 * are asynchronous ({@link Scheduler#callEngineAsync}); every other method blocks.
 *
 * <p>The type may be an interface or a non-final class (the proxy is a generated subclass whose
 * constructor is never run). Methods of {@link Object} and the lifecycle methods {@code initialize}
 * / {@code destroy} are not forwarded: the worker owns the engine's lifecycle.
 */
public final class EngineProxy {
  private static final ConcurrentMap<Class<?>, Class<?>> PROXY_CLASSES = new ConcurrentHashMap<>();

  private EngineProxy() {}

  /** A proxy for the default engine of a worker, with default call options. */
  public static <T> T of(Scheduler scheduler, String workerId, Class<T> type) {
    return of(scheduler, workerId, null, type, CallOptions.DEFAULT);
  }

  /**
   * A proxy for engine {@code engineName} (null: the worker's default engine) of a worker.
   *
   * @throws IllegalArgumentException for a final class or a primitive or array type
   */
  public static <T> T of(
      Scheduler scheduler, String workerId, String engineName, Class<T> type, CallOptions options) {
    Objects.requireNonNull(scheduler, "scheduler");
    Objects.requireNonNull(workerId, "workerId");
    Objects.requireNonNull(type, "type");
    CallOptions callOptions = options == null ? CallOptions.DEFAULT : options;
    if (type.isPrimitive() || type.isArray() || Modifier.isFinal(type.getModifiers())) {
      throw new IllegalArgumentException(
          "cannot proxy " + type.getName() + ": use an interface or a non-final class");
    }
    Class<?> proxyClass = PROXY_CLASSES.computeIfAbsent(type, EngineProxy::generate);
    Object proxy = instantiate(proxyClass);
    Handler handler = new Handler(scheduler, workerId, engineName, callOptions);
    try {
      proxyClass.getField(HANDLER_FIELD).set(proxy, handler);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("generated proxy for " + type.getName() + " is unusable", e);
    }
    return type.cast(proxy);
  }

  private static final String HANDLER_FIELD = "rtensor$handler";

  private static Class<?> generate(Class<?> type) {
    ElementMatcher.Junction<MethodDescription> forwarded =
        ElementMatchers.not(ElementMatchers.isDeclaredBy(Object.class))
            .and(ElementMatchers.not(ElementMatchers.named("initialize")))
            .and(ElementMatchers.not(ElementMatchers.named("destroy")))
            .and(ElementMatchers.not(ElementMatchers.isStatic()))
            .and(ElementMatchers.not(ElementMatchers.isFinal()));
    var builder =
        type.isInterface()
            ? new ByteBuddy().subclass(Object.class).implement(type)
            : new ByteBuddy().subclass(type);
    return builder
        .name(type.getName() + "$RtensorProxy")
        .defineField(HANDLER_FIELD, InvocationHandler.class, Modifier.PUBLIC)
        .method(forwarded)
        .intercept(InvocationHandlerAdapter.toField(HANDLER_FIELD))
        .make()
        .load(type.getClassLoader(), ClassLoadingStrategy.Default.WRAPPER)
        .getLoaded();
  }

  /** Allocates the proxy without running any constructor of the engine class. */
  private static Object instantiate(Class<?> proxyClass) {
    try {
      Class<?> factoryType = Class.forName("sun.reflect.ReflectionFactory");
      Object factory = factoryType.getMethod("getReflectionFactory").invoke(null);
      Constructor<?> objectConstructor = Object.class.getDeclaredConstructor();
      Constructor<?> constructor =
          (Constructor<?>)
              factoryType
                  .getMethod("newConstructorForSerialization", Class.class, Constructor.class)
                  .invoke(factory, proxyClass, objectConstructor);
      return constructor.newInstance();
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("cannot instantiate proxy " + proxyClass.getName(), e);
    }
  }

  /** Forwards a proxy's calls to the scheduler. */
  private record Handler(
      Scheduler scheduler, String workerId, String engineName, CallOptions options)
      implements InvocationHandler {
    @Override
    public Object invoke(Object proxy, Method method, Object[] args) {
      Object[] callArgs = args == null ? new Object[0] : args;
      Class<?> returnType = method.getReturnType();
      if (CompletionStage.class.isAssignableFrom(returnType)) {
        return scheduler.callEngineAsync(workerId, method.getName(), engineName, options, callArgs);
      }
      Object result =
          scheduler.callEngine(workerId, method.getName(), engineName, options, callArgs);
      return coerce(result, returnType);
    }
  }

  /** Numbers cross the wire in the narrowest box; give the method its declared type. */
  static Object coerce(Object value, Class<?> type) {
    if (type == void.class) {
      return null;
    }
    if (!(value instanceof Number n)) {
      return value;
    }
    if (type == long.class || type == Long.class) {
      return n.longValue();
    }
    if (type == int.class || type == Integer.class) {
      return n.intValue();
    }
    if (type == double.class || type == Double.class) {
      return n.doubleValue();
    }
    if (type == float.class || type == Float.class) {
      return n.floatValue();
    }
    if (type == short.class || type == Short.class) {
      return n.shortValue();
    }
    if (type == byte.class || type == Byte.class) {
      return n.byteValue();
    }
    return value;
  }
}

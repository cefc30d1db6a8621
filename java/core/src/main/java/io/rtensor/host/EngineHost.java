package io.rtensor.host;

import io.rtensor.device.Device;
import io.rtensor.engine.Engine;
import io.rtensor.engine.EngineContext;
import io.rtensor.engine.KeepOnDevice;
import io.rtensor.handle.RTensor;
import io.rtensor.tensor.DeviceTensor;
import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.transport.Remotizer;
import io.rtensor.transport.ValueTransport;
import java.lang.reflect.Constructor;
import java.lang.reflect.Executable;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.stream.Collectors;

/**
 * The engines of one worker, by name, and the calls into them. Both the Ray actor and the local
 * worker process serve the control plane through one of these.
 *
 * <p>Engines are created from a class name with constructor arguments; the first is the default. A
 * call resolves the method by name and argument types (overloads included), localizes tensor
 * handles in the arguments, waits for a returned {@link Future}, and remotizes tensors in the
 * result. Every failure comes back as a {@link CallResult}, never as a thrown exception.
 */
public final class EngineHost implements AutoCloseable {
  private final String workerId;
  private final ValueTransport transport;
  private final ClassLoader classLoader;
  private final List<Integer> deviceIds;
  private final Device device;
  private final Map<String, Engine> engines = new ConcurrentHashMap<>();
  private final Map<String, String> env = new ConcurrentHashMap<>();
  private volatile String defaultEngine;
  private volatile String role;
  private volatile int rank;
  private volatile long seed;

  /** A host for a worker that holds no device. */
  public EngineHost(String workerId, ValueTransport transport, ClassLoader classLoader) {
    this(workerId, transport, classLoader, List.of());
  }

  /**
   * A host whose engines see {@code deviceIds} (the node's device ids assigned to this worker) in
   * their {@link EngineContext}.
   */
  public EngineHost(
      String workerId, ValueTransport transport, ClassLoader classLoader, List<Integer> deviceIds) {
    this(workerId, transport, classLoader, deviceIds, null);
  }

  /**
   * As {@link #EngineHost(String, ValueTransport, ClassLoader, List)}, for a worker whose engines
   * compute on {@code device} (null: none): an engine parameter of type {@link DeviceTensor}
   * receives the tensor its argument's handle names on this device.
   */
  public EngineHost(
      String workerId,
      ValueTransport transport,
      ClassLoader classLoader,
      List<Integer> deviceIds,
      Device device) {
    this.device = device;
    this.deviceIds = List.copyOf(deviceIds);
    this.workerId = Objects.requireNonNull(workerId, "workerId");
    this.transport = Objects.requireNonNull(transport, "transport");
    this.classLoader = Objects.requireNonNull(classLoader, "classLoader");
    int slash = workerId.lastIndexOf('/');
    this.role = slash < 0 ? workerId : workerId.substring(0, slash);
    this.rank = slash < 0 ? 0 : parseRank(workerId.substring(slash + 1));
  }

  private static int parseRank(String text) {
    try {
      return Integer.parseInt(text);
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  /** The node's device ids this worker was assigned. */
  public List<Integer> deviceIds() {
    return deviceIds;
  }

  /**
   * The device engine parameters of type {@link DeviceTensor} receive their tensors on, or null.
   */
  public Device device() {
    return device;
  }

  /** The worker this host serves. */
  public String workerId() {
    return workerId;
  }

  /** Drops shards from this worker's fetch cache (see {@link ValueTransport#evict}). */
  public int evict(java.util.Collection<String> shardIds) {
    return transport.evict(shardIds);
  }

  /** Sets role, rank and seed for engines created afterwards. */
  public void configure(String role, int rank, long seed) {
    this.role = Objects.requireNonNull(role, "role");
    this.rank = rank;
    this.seed = seed;
  }

  /** Adds environment variables that engines read through {@link EngineContext#getenv}. */
  public void setEnv(Map<String, String> variables) {
    env.putAll(variables);
  }

  /** The context an engine named {@code engineName} would be created with now. */
  public EngineContext context(String engineName) {
    return new EngineContext(
        workerId, engineName, role, rank, seed, Map.copyOf(env), deviceIds, device);
  }

  /** The names of the engines, default first. */
  public List<String> engineNames() {
    List<String> names = new ArrayList<>(engines.keySet());
    names.sort((a, b) -> a.equals(defaultEngine) ? -1 : b.equals(defaultEngine) ? 1 : 0);
    return names;
  }

  /** Creates engine {@code name} (null: the class's simple name) from a class name. */
  public synchronized CallResult createEngine(String className, String name, Object[] args) {
    String engineName = name == null ? simpleName(className) : name;
    if (engines.containsKey(engineName)) {
      return CallResult.failure(
          CallResult.Status.BAD_ARGUMENT,
          "an engine named '" + engineName + "' already exists on " + workerId);
    }
    Class<?> type;
    try {
      type = Class.forName(className, true, classLoader);
    } catch (ClassNotFoundException | LinkageError e) {
      return CallResult.failure(
          CallResult.Status.NOT_FOUND,
          "engine class " + className + " not found on " + workerId + " (" + e + ")");
    }
    if (!Engine.class.isAssignableFrom(type)) {
      return CallResult.failure(
          CallResult.Status.BAD_ARGUMENT,
          className + " does not implement " + Engine.class.getName());
    }
    if (Modifier.isAbstract(type.getModifiers())) {
      return CallResult.failure(
          CallResult.Status.BAD_ARGUMENT, className + " is abstract or an interface");
    }
    Object[] localArgs;
    try {
      localArgs = localizeAll(args, false);
    } catch (RuntimeException e) {
      return CallResult.failure(CallResult.Status.BAD_ARGUMENT, e);
    }
    List<Constructor<?>> candidates = Arrays.asList(type.getConstructors());
    Resolution<Constructor<?>> resolved = resolve(candidates, localArgs, Placement.HOST);
    if (resolved.error != null) {
      return CallResult.failure(
          CallResult.Status.NO_SUCH_METHOD, "constructor of " + className + ": " + resolved.error);
    }
    Engine engine;
    try {
      engine = (Engine) resolved.match.newInstance(localArgs);
      engine.initialize(context(engineName));
    } catch (InvocationTargetException e) {
      return CallResult.failure(CallResult.Status.ENGINE_EXCEPTION, e.getCause());
    } catch (Exception | LinkageError e) {
      return CallResult.failure(CallResult.Status.ENGINE_EXCEPTION, e);
    }
    engines.put(engineName, engine);
    if (defaultEngine == null) {
      defaultEngine = engineName;
    }
    return CallResult.ok(engineName);
  }

  /**
   * Calls {@code method} on engine {@code engineName} (null: the default engine), its tensor
   * arguments on the host except those passed to a {@link DeviceTensor} parameter.
   */
  public CallResult call(String engineName, String method, Object[] args) {
    return call(engineName, method, args, null);
  }

  /**
   * As {@link #call(String, String, Object[])}; with {@code deviceOrdinal} (null: as there) every
   * tensor the arguments carry, nested ones included, is received as a {@link DeviceTensor} on this
   * worker's device of that ordinal ({@code device().runtime().device(deviceOrdinal)}). A call that
   * cannot be placed so fails with {@link CallResult.Status#DEVICE_ARGUMENT} before the engine
   * runs: the worker holds no such device, the method declares a host {@link Tensor} parameter for
   * a tensor argument, or an argument is (or holds) a batch.
   */
  public CallResult call(String engineName, String method, Object[] args, Integer deviceOrdinal) {
    String name = engineName == null ? defaultEngine : engineName;
    Engine engine = name == null ? null : engines.get(name);
    if (engine == null) {
      return CallResult.failure(
          CallResult.Status.NOT_FOUND,
          (name == null ? "no engine" : "no engine named '" + name + "'")
              + " on "
              + workerId
              + "; engines: "
              + engineNames());
    }
    Device target = null;
    if (deviceOrdinal != null) {
      String refusal = deviceRefusal(deviceOrdinal);
      if (refusal != null) {
        return CallResult.failure(CallResult.Status.DEVICE_ARGUMENT, refusal);
      }
      target = device.runtime().device(deviceOrdinal);
    }
    Object[] localArgs;
    try {
      localArgs = localizeAll(args, true);
    } catch (RuntimeException e) {
      return CallResult.failure(CallResult.Status.BAD_ARGUMENT, e);
    }
    List<Method> candidates = PUBLIC_METHODS.get(engine.getClass()).getOrDefault(method, List.of());
    Placement placement =
        target != null
            ? Placement.ALL_ON_DEVICE
            : device != null ? Placement.DEVICE_PARAMETERS : Placement.HOST;
    Resolution<Method> resolved = resolve(candidates, localArgs, placement);
    if (resolved.error != null) {
      Resolution<Method> onHost =
          placement == Placement.ALL_ON_DEVICE
              ? resolve(candidates, localArgs, Placement.DEVICE_PARAMETERS)
              : resolved;
      if (onHost.error == null) {
        return CallResult.failure(
            CallResult.Status.DEVICE_ARGUMENT,
            hostParameterRefusal(engine, onHost.match, localArgs, deviceOrdinal));
      }
      return CallResult.failure(
          CallResult.Status.NO_SUCH_METHOD,
          engine.getClass().getName() + "." + method + ": " + resolved.error);
    }
    if (target != null && holdsBatch(localArgs)) {
      return CallResult.failure(
          CallResult.Status.DEVICE_ARGUMENT,
          engine.getClass().getName()
              + "."
              + method
              + " was asked to receive its tensors on device "
              + deviceOrdinal
              + ", but an argument is a tensor batch, which has no device form: pass its tensors"
              + " (batch.tensor(name)) or call without CallOptions.withDevice");
    }
    // Tensors the engine receives on its device: borrowed like every localized argument, so they
    // are closed once the call and the storing of its result are done.
    List<DeviceTensor> onDevice = new ArrayList<>();
    try {
      Object[] callArgs;
      try {
        callArgs =
            target != null
                ? allOnDevice(localArgs, target, onDevice)
                : onHostElsewhere(
                    toDevice(resolved.match.getParameterTypes(), localArgs, onDevice));
      } catch (RuntimeException e) {
        return CallResult.failure(CallResult.Status.BAD_ARGUMENT, e);
      }
      return invoke(engine, resolved.match, callArgs);
    } finally {
      onDevice.forEach(DeviceTensor::close);
    }
  }

  private CallResult invoke(Engine engine, Method target, Object[] args) {
    Object result;
    try {
      result = target.invoke(engine, args);
      if (result instanceof Future<?> future) {
        // No deadline here: this is the engine's own work, as long as a training step may be, like
        // a method that runs long. The caller's call timeout bounds the wait for the answer.
        result = future.get();
      }
    } catch (InvocationTargetException e) {
      return CallResult.failure(CallResult.Status.ENGINE_EXCEPTION, e.getCause());
    } catch (ExecutionException e) {
      return CallResult.failure(CallResult.Status.ENGINE_EXCEPTION, e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return CallResult.failure(CallResult.Status.ENGINE_EXCEPTION, e);
    } catch (Exception | LinkageError e) {
      return CallResult.failure(CallResult.Status.ENGINE_EXCEPTION, e);
    }
    try {
      return CallResult.ok(
          transport.remotize(result, target.isAnnotationPresent(KeepOnDevice.class)));
    } catch (RuntimeException e) {
      return CallResult.failure(CallResult.Status.BAD_ARGUMENT, e);
    }
  }

  /**
   * The arguments with each host tensor passed to a {@link DeviceTensor} parameter copied onto this
   * worker's device; the copies are added to {@code made}.
   */
  private Object[] toDevice(Class<?>[] parameters, Object[] args, List<DeviceTensor> made) {
    Object[] out = args.clone();
    for (int i = 0; i < parameters.length; i++) {
      if (parameters[i] == DeviceTensor.class && args[i] instanceof Tensor host) {
        DeviceTensor t = transport.toDevice(host, device);
        made.add(t);
        out[i] = t;
      } else if (parameters[i] == DeviceTensor.class && args[i] instanceof DeviceHandle h) {
        out[i] = onDevice(h, device, made);
      }
    }
    return out;
  }

  /**
   * A tensor handle whose tensor its producer keeps in device memory this worker can map (CUDA IPC
   * on one node): it stands for its tensor while the call is resolved, and becomes a copy made
   * device to device where the tensor goes onto a device ({@link #onDevice}), or the localized host
   * tensor everywhere else ({@link #onHostElsewhere}).
   */
  private record DeviceHandle(RTensor handle) {}

  /** The tensor {@code h} names on {@code target}: device to device, else fetched and copied. */
  private DeviceTensor onDevice(DeviceHandle h, Device target, List<DeviceTensor> made) {
    DeviceTensor t = transport.openOnDevice(h.handle(), target);
    if (t == null) {
      t = transport.toDevice((Tensor) transport.localize(h.handle()), target);
    }
    made.add(t);
    return t;
  }

  /** The arguments with each remaining {@link DeviceHandle} localized onto the host. */
  private Object[] onHostElsewhere(Object[] args) {
    Object[] out = new Object[args.length];
    for (int i = 0; i < args.length; i++) {
      out[i] =
          Remotizer.mapLeaves(
              args[i],
              leaf -> leaf instanceof DeviceHandle h ? transport.localize(h.handle()) : leaf);
    }
    return out;
  }

  /**
   * The arguments with every tensor in them, nested ones included, copied onto {@code target}; the
   * copies are added to {@code made}.
   */
  private Object[] allOnDevice(Object[] args, Device target, List<DeviceTensor> made) {
    Object[] out = new Object[args.length];
    for (int i = 0; i < args.length; i++) {
      out[i] =
          Remotizer.mapLeaves(
              args[i],
              leaf -> {
                if (leaf instanceof Tensor host) {
                  DeviceTensor t = transport.toDevice(host, target);
                  made.add(t);
                  return t;
                }
                if (leaf instanceof DeviceHandle h) {
                  return onDevice(h, target, made);
                }
                return leaf;
              });
    }
    return out;
  }

  /** Why this worker cannot receive tensors on its device {@code ordinal}, or null when it can. */
  private String deviceRefusal(int ordinal) {
    if (device == null) {
      return "worker "
          + workerId
          + " holds no device, so it cannot receive tensors on device "
          + ordinal
          + ": give its job devices (SchedulingSpec.gpu or devices) or call without"
          + " CallOptions.withDevice";
    }
    int count = device.runtime().deviceCount();
    if (ordinal < 0 || ordinal >= count) {
      return "worker "
          + workerId
          + " holds "
          + count
          + " "
          + device.kind()
          + " device(s) (ordinals 0 to "
          + (count - 1)
          + "), not device "
          + ordinal;
    }
    return null;
  }

  /**
   * The refusal of a call on a device whose method {@code match} takes a host {@link Tensor}
   * parameter for a tensor argument.
   */
  private static String hostParameterRefusal(
      Engine engine, Method match, Object[] args, int ordinal) {
    Class<?>[] parameters = match.getParameterTypes();
    List<String> host = new ArrayList<>();
    for (int i = 0; i < parameters.length; i++) {
      if ((args[i] instanceof Tensor || args[i] instanceof DeviceHandle)
          && !fits(parameters[i], args[i], Placement.ALL_ON_DEVICE)) {
        host.add(i + " (" + parameters[i].getSimpleName() + ")");
      }
    }
    return engine.getClass().getName()
        + "."
        + signature(match)
        + " takes a host tensor as parameter "
        + String.join(", ", host)
        + ", but the call asks for every tensor argument on device "
        + ordinal
        + " (CallOptions.withDevice): declare the parameter DeviceTensor (or Object), or call"
        + " without withDevice";
  }

  /** Whether an argument is, or holds, a tensor batch. */
  private static boolean holdsBatch(Object[] args) {
    boolean[] found = new boolean[1];
    for (Object arg : args) {
      Remotizer.mapLeaves(
          arg,
          leaf -> {
            found[0] |= leaf instanceof TensorBatch;
            return leaf;
          });
    }
    return found[0];
  }

  /**
   * Destroys every engine, each once, and forgets them.
   *
   * @return one line per engine whose {@code destroy} threw (empty when all succeeded)
   */
  public synchronized List<String> destroyAll() {
    List<String> failures = new ArrayList<>();
    for (String name : engineNames()) {
      Engine engine = engines.remove(name);
      try {
        engine.destroy();
      } catch (Exception | LinkageError e) {
        failures.add(name + ": " + e);
      }
    }
    defaultEngine = null;
    return failures;
  }

  @Override
  public void close() {
    destroyAll();
  }

  /**
   * An engine class's public methods by name, {@code Object}'s left out: looked up once a class,
   * not on every call ({@code getMethods} copies the class's methods each time). Each is made
   * accessible once, so that the public methods of an engine class that is not public itself (a
   * nested class, say) can be called.
   */
  private static final ClassValue<Map<String, List<Method>>> PUBLIC_METHODS =
      new ClassValue<>() {
        @Override
        protected Map<String, List<Method>> computeValue(Class<?> type) {
          Map<String, List<Method>> byName = new LinkedHashMap<>();
          for (Method m : type.getMethods()) {
            if (m.getDeclaringClass() != Object.class) {
              m.trySetAccessible();
              byName.computeIfAbsent(m.getName(), k -> new ArrayList<>()).add(m);
            }
          }
          byName.replaceAll((name, methods) -> List.copyOf(methods));
          return Map.copyOf(byName);
        }
      };

  /**
   * The arguments localized; with {@code deviceHandles}, handles to tensors kept in device memory
   * this worker's device can map are left for the call to place ({@link DeviceHandle}).
   */
  private Object[] localizeAll(Object[] args, boolean deviceHandles) {
    Object[] source = args == null ? new Object[0] : args;
    Object[] out = new Object[source.length];
    for (int i = 0; i < source.length; i++) {
      Object arg = source[i];
      if (deviceHandles && device != null) {
        arg =
            Remotizer.mapLeaves(
                arg,
                leaf ->
                    leaf instanceof RTensor h
                            && h.kind() == RTensor.Kind.TENSOR
                            && transport.canOpenOnDevice(h, device)
                        ? new DeviceHandle(h)
                        : leaf);
      }
      out[i] = transport.localize(arg);
    }
    return out;
  }

  private static String simpleName(String className) {
    int cut = Math.max(className.lastIndexOf('.'), className.lastIndexOf('$'));
    return className.substring(cut + 1);
  }

  private record Resolution<T extends Executable>(T match, String error) {}

  /** Where the tensor arguments of a call go, which decides the parameters they fit. */
  enum Placement {
    /** On the host: a tensor fits a parameter of its own type. */
    HOST,
    /**
     * On the host, except that a tensor also fits a {@link DeviceTensor} parameter (it is copied
     * onto the worker's device): a worker with a device, called without one.
     */
    DEVICE_PARAMETERS,
    /** Every tensor on a device: a tensor fits only a parameter a {@link DeviceTensor} fits. */
    ALL_ON_DEVICE
  }

  /**
   * Picks the one executable whose parameters accept the arguments, preferring the most specific;
   * how a host {@link Tensor} argument fits depends on {@code placement}.
   */
  static <T extends Executable> Resolution<T> resolve(
      List<T> candidates, Object[] args, Placement placement) {
    List<T> applicable = new ArrayList<>();
    for (T candidate : candidates) {
      if (accepts(candidate.getParameterTypes(), args, placement)) {
        applicable.add(candidate);
      }
    }
    if (applicable.isEmpty()) {
      return new Resolution<>(
          null,
          "nothing accepts ("
              + Arrays.stream(args)
                  .map(
                      a ->
                          a == null
                              ? "null"
                              : a instanceof DeviceHandle ? "Tensor" : a.getClass().getSimpleName())
                  .collect(Collectors.joining(", "))
              + "); candidates: "
              + (candidates.isEmpty()
                  ? "none"
                  : candidates.stream()
                      .map(EngineHost::signature)
                      .collect(Collectors.joining(", "))));
    }
    List<T> mostSpecific = new ArrayList<>();
    for (T a : applicable) {
      boolean dominated = false;
      for (T b : applicable) {
        if (a != b && moreSpecific(b, a) && !moreSpecific(a, b)) {
          dominated = true;
          break;
        }
      }
      if (!dominated) {
        mostSpecific.add(a);
      }
    }
    if (mostSpecific.size() > 1) {
      return new Resolution<>(
          null,
          "ambiguous: "
              + mostSpecific.stream().map(EngineHost::signature).collect(Collectors.joining(", ")));
    }
    return new Resolution<>(mostSpecific.get(0), null);
  }

  private static boolean moreSpecific(Executable a, Executable b) {
    Class<?>[] pa = a.getParameterTypes();
    Class<?>[] pb = b.getParameterTypes();
    for (int i = 0; i < pa.length; i++) {
      if (!box(pb[i]).isAssignableFrom(box(pa[i]))) {
        return false;
      }
    }
    return true;
  }

  private static boolean accepts(Class<?>[] parameters, Object[] args, Placement placement) {
    if (parameters.length != args.length) {
      return false;
    }
    for (int i = 0; i < parameters.length; i++) {
      Object arg = args[i];
      if (arg == null) {
        if (parameters[i].isPrimitive()) {
          return false;
        }
      } else if (!fits(parameters[i], arg, placement)) {
        return false;
      }
    }
    return true;
  }

  private static boolean fits(Class<?> parameter, Object arg, Placement placement) {
    boolean tensor = arg instanceof Tensor || arg instanceof DeviceHandle;
    if (tensor && placement == Placement.ALL_ON_DEVICE) {
      return parameter.isAssignableFrom(DeviceTensor.class);
    }
    if (arg instanceof DeviceHandle) {
      return parameter.isAssignableFrom(Tensor.class)
          || (placement == Placement.DEVICE_PARAMETERS && parameter == DeviceTensor.class);
    }
    return box(parameter).isInstance(arg)
        || widens(parameter, arg)
        || (placement == Placement.DEVICE_PARAMETERS
            && parameter == DeviceTensor.class
            && arg instanceof Tensor);
  }

  /** Ray and JSON deliver numbers in the narrowest boxed type; accept widening to a primitive. */
  private static boolean widens(Class<?> parameter, Object arg) {
    if (!(arg instanceof Number) || !parameter.isPrimitive()) {
      return false;
    }
    Class<?> p = box(parameter);
    if (arg instanceof Byte || arg instanceof Short || arg instanceof Integer) {
      return p == Long.class || p == Integer.class || p == Double.class || p == Float.class;
    }
    if (arg instanceof Long) {
      return p == Double.class;
    }
    if (arg instanceof Float) {
      return p == Double.class;
    }
    return false;
  }

  private static Class<?> box(Class<?> type) {
    if (!type.isPrimitive()) {
      return type;
    }
    return PRIMITIVES.get(type);
  }

  private static final Map<Class<?>, Class<?>> PRIMITIVES = new LinkedHashMap<>();

  static {
    PRIMITIVES.put(boolean.class, Boolean.class);
    PRIMITIVES.put(byte.class, Byte.class);
    PRIMITIVES.put(short.class, Short.class);
    PRIMITIVES.put(char.class, Character.class);
    PRIMITIVES.put(int.class, Integer.class);
    PRIMITIVES.put(long.class, Long.class);
    PRIMITIVES.put(float.class, Float.class);
    PRIMITIVES.put(double.class, Double.class);
    PRIMITIVES.put(void.class, Void.class);
  }

  private static String signature(Executable e) {
    return e.getName().substring(e.getName().lastIndexOf('.') + 1)
        + Arrays.stream(e.getParameterTypes())
            .map(Class::getSimpleName)
            .collect(Collectors.joining(", ", "(", ")"));
  }
}

package io.rtensor.scheduler.local.internal;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.NotSerializableException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.ObjectStreamClass;

/**
 * The local workers' control protocol: Arrow Flight actions whose bodies are Java-serialized
 * values. Every call carries the session secret; only the scheduler that launched a worker knows
 * it, which is what makes deserializing its bodies acceptable.
 *
 * <table>
 *   <caption>Actions</caption>
 *   <tr><th>type</th><th>body</th><th>result</th></tr>
 *   <tr><td>ping</td><td>none</td><td>String "id pid N"</td></tr>
 *   <tr><td>createEngine</td><td>Object[]{className, name, Object[] args}</td><td>CallResult</td></tr>
 *   <tr><td>call</td><td>Object[]{engineName, method, Object[] args}</td><td>CallResult</td></tr>
 *   <tr><td>setEnv</td><td>Map&lt;String,String&gt;</td><td>Boolean</td></tr>
 *   <tr><td>configure</td><td>Object[]{role, rank, seed}</td><td>Boolean</td></tr>
 *   <tr><td>allocPorts</td><td>Integer count</td><td>List&lt;Integer&gt;</td></tr>
 *   <tr><td>destroy</td><td>none</td><td>List&lt;String&gt; failures</td></tr>
 *   <tr><td>clearCache</td><td>List&lt;String&gt; shard ids</td><td>Integer evicted</td></tr>
 *   <tr><td>memory</td><td>none</td><td>WorkerMemory</td></tr>
 *   <tr><td>exit</td><td>none</td><td>Boolean; the process exits after replying</td></tr>
 * </table>
 */
public final class ControlProtocol {
  public static final String PING = "ping";
  public static final String CREATE_ENGINE = "createEngine";
  public static final String CALL = "call";
  public static final String SET_ENV = "setEnv";
  public static final String CONFIGURE = "configure";
  public static final String ALLOC_PORTS = "allocPorts";
  public static final String DESTROY = "destroy";
  public static final String EXIT = "exit";
  public static final String CLEAR_CACHE = "clearCache";
  public static final String MEMORY = "memory";

  /** The header that carries the session secret. */
  public static final String SECRET_HEADER = "rtensor-session-secret";

  private ControlProtocol() {}

  /** Java-serializes a value (null allowed). */
  public static byte[] encode(Object value) throws NotSerializableException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(value);
    } catch (NotSerializableException e) {
      throw e;
    } catch (IOException e) {
      throw new IllegalStateException("cannot serialize " + value.getClass().getName(), e);
    }
    return bytes.toByteArray();
  }

  /** Reads a value written by {@link #encode}, resolving classes in {@code loader}. */
  public static Object decode(byte[] bytes, ClassLoader loader)
      throws IOException, ClassNotFoundException {
    if (bytes == null || bytes.length == 0) {
      return null;
    }
    try (ObjectInputStream in =
        new LoaderObjectInputStream(new ByteArrayInputStream(bytes), loader)) {
      return in.readObject();
    }
  }

  private static final class LoaderObjectInputStream extends ObjectInputStream {
    private final ClassLoader loader;

    LoaderObjectInputStream(InputStream in, ClassLoader loader) throws IOException {
      super(in);
      this.loader = loader;
    }

    @Override
    protected Class<?> resolveClass(ObjectStreamClass desc)
        throws IOException, ClassNotFoundException {
      try {
        return Class.forName(desc.getName(), false, loader);
      } catch (ClassNotFoundException e) {
        return super.resolveClass(desc);
      }
    }
  }
}

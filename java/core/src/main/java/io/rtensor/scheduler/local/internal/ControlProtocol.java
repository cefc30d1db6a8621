package io.rtensor.scheduler.local.internal;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.NotSerializableException;
import java.io.ObjectInputFilter;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.ObjectStreamClass;

/**
 * The local workers' control protocol: one Arrow Flight action per {@link
 * io.rtensor.host.ControlRequest}, its type the request's name and its body the Java-serialized
 * request; the result's body is the Java-serialized reply. Every call carries a token the worker
 * issued after a mutual handshake proving both sides hold the session's control key ({@link
 * io.rtensor.auth.SessionAuth}); only the scheduler that launched a worker holds it, which is what
 * makes deserializing its bodies acceptable.
 */
public final class ControlProtocol {
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
      in.setObjectInputFilter(boundedBy(bytes.length));
      return in.readObject();
    }
  }

  /** Deepest nesting of objects a control message may have. */
  static final int MAX_DEPTH = 256;

  /**
   * Bounds what a message of {@code length} bytes may make the decoder allocate: no array longer
   * than the message has bytes (each element takes at least one), no more bytes read and no more
   * references than it has, and a bounded depth. A mutated length field is refused before its array
   * is allocated.
   */
  private static ObjectInputFilter boundedBy(int length) {
    return info -> {
      if (info.arrayLength() > length
          || info.streamBytes() > length
          || info.references() > length
          || info.depth() > MAX_DEPTH) {
        return ObjectInputFilter.Status.REJECTED;
      }
      return ObjectInputFilter.Status.UNDECIDED;
    };
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

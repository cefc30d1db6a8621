package io.rtensor.runtime;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The JVM flags every rtensor JVM needs (Ray's FST serializer and Arrow reflect into the JDK).
 *
 * <p>The single source is {@code etc/jvm.args} at the repository root; the build packs it into this
 * jar so the same list reaches Surefire (as an {@code @argfile}), the launcher script and Ray
 * worker JVMs on any node.
 */
public final class JvmFlags {
  private static final String RESOURCE = "/io/rtensor/jvm.args";

  private JvmFlags() {}

  /** The flags, one per element, in file order. */
  public static List<String> list() {
    try (InputStream in = JvmFlags.class.getResourceAsStream(RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException(
            "resource " + RESOURCE + " is missing from the rtensor-core jar; rebuild the project");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8)
          .lines()
          .map(String::strip)
          .filter(line -> !line.isEmpty())
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + RESOURCE, e);
    }
  }
}

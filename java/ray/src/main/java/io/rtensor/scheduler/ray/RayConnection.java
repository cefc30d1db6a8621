package io.rtensor.scheduler.ray;

import io.ray.api.Ray;
import io.rtensor.runtime.HostPort;
import io.rtensor.runtime.JvmFlags;
import java.io.File;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * This JVM's connection, as a Ray driver, to an existing Ray cluster.
 *
 * <p>Ray's Java API is one connection per process: {@link #connect()} calls {@code Ray.init()} and
 * {@link #close()} calls {@code Ray.shutdown()}. The connection hands Ray's Java workers the JVM
 * flags of {@link JvmFlags} and a code search path (by default this JVM's class path), so actors of
 * project classes start in worker JVMs on any node.
 *
 * <p>Settings come from the builder, else from system properties {@code rtensor.ray.address},
 * {@code rtensor.ray.node-ip}, {@code rtensor.ray.code-search-path}, else from the environment
 * ({@code RTENSOR_RAY_ADDRESS}, {@code RTENSOR_RAY_NODE_IP}, {@code RTENSOR_RAY_CODE_SEARCH_PATH})
 * that {@code scripts/ray-head env} prints.
 */
public final class RayConnection implements AutoCloseable {
  private final String address;
  private final String nodeIp;
  private final List<String> codeSearchPath;
  private final List<String> jvmOptions;
  private final String namespace;
  private boolean closed;

  private RayConnection(Builder b) {
    this.address = b.address;
    this.nodeIp = b.nodeIp;
    this.codeSearchPath = List.copyOf(b.codeSearchPath);
    this.jvmOptions = List.copyOf(b.jvmOptions);
    this.namespace = b.namespace;
  }

  /** A builder with the defaults described in the class comment. */
  public static Builder builder() {
    return new Builder();
  }

  /** The cluster's GCS address ({@code host:port}). */
  public String address() {
    return address;
  }

  /** The code search path handed to Ray's Java workers. */
  public List<String> codeSearchPath() {
    return codeSearchPath;
  }

  /** The Ray namespace of this driver's job, or null for a fresh one. */
  public String namespace() {
    return namespace;
  }

  /** Closes the Ray driver of this JVM. */
  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      Ray.shutdown();
    }
  }

  /**
   * The address of this machine on the route to the cluster's GCS (what Ray's Python driver finds
   * the same way: the local end of a UDP socket connected toward it, which sends nothing). On the
   * head's machine that is the head's own address; on another node it is that node's address.
   */
  static String localAddressToward(HostPort gcs) {
    String host = gcs.host().equals("localhost") ? "127.0.0.1" : gcs.host();
    try (DatagramSocket socket = new DatagramSocket()) {
      socket.connect(new InetSocketAddress(InetAddress.getByName(host), gcs.port()));
      InetAddress local = socket.getLocalAddress();
      if (local != null && !local.isAnyLocalAddress()) {
        return local.getHostAddress();
      }
    } catch (IOException | RuntimeException e) {
      // Fall back to the GCS host: right on the head's machine, which is the common case.
    }
    return host;
  }

  /** Settings for {@link RayConnection}. */
  public static final class Builder {
    private String address = setting("rtensor.ray.address", "RTENSOR_RAY_ADDRESS");
    private String nodeIp = setting("rtensor.ray.node-ip", "RTENSOR_RAY_NODE_IP");
    private List<String> codeSearchPath = defaultCodeSearchPath();
    private final List<String> jvmOptions = new ArrayList<>(JvmFlags.list());
    private String namespace;

    private Builder() {}

    /** The GCS address, {@code host:port}. */
    public Builder address(String address) {
      this.address = Objects.requireNonNull(address, "address");
      return this;
    }

    /**
     * The IP of this node as the cluster knows it: the address its raylet was started with. By
     * default the local address on the route to the GCS, which is right on the head's machine and
     * on a node whose raylet uses the machine's primary address; set it when this node's raylet was
     * started with another {@code --node-ip-address}.
     */
    public Builder nodeIp(String nodeIp) {
      this.nodeIp = Objects.requireNonNull(nodeIp, "nodeIp");
      return this;
    }

    /** Jars and class directories Ray's Java workers load project classes from. */
    public Builder codeSearchPath(List<String> entries) {
      this.codeSearchPath = List.copyOf(entries);
      return this;
    }

    /** An extra JVM option for Ray's Java workers (after the project's {@link JvmFlags}). */
    public Builder addJvmOption(String option) {
      this.jvmOptions.add(Objects.requireNonNull(option, "option"));
      return this;
    }

    /** The Ray namespace of the job; named actors are looked up in it. */
    public Builder namespace(String namespace) {
      this.namespace = namespace;
      return this;
    }

    /**
     * Connects: {@code Ray.init()} with these settings.
     *
     * @throws IllegalStateException if no address is set or Ray is already initialized here
     */
    public RayConnection connect() {
      if (address == null || address.isBlank()) {
        throw new IllegalStateException(
            "no Ray address: set RTENSOR_RAY_ADDRESS (scripts/ray-head start prints it) or call"
                + " RayConnection.builder().address(\"host:port\")");
      }
      if (Ray.isInitialized()) {
        throw new IllegalStateException(
            "Ray is already initialized in this JVM; a process holds one Ray connection");
      }
      String ip = nodeIp;
      if (ip == null || ip.isBlank()) {
        ip = localAddressToward(HostPort.parse(address));
      }
      RayConnection connection = new RayConnection(this);
      System.setProperty("ray.address", address);
      System.setProperty("ray.node-ip", ip);
      System.setProperty("ray.run-mode", "CLUSTER");
      System.setProperty(
          "ray.job.code-search-path", String.join(File.pathSeparator, connection.codeSearchPath));
      for (int i = 0; i < connection.jvmOptions.size(); i++) {
        System.setProperty("ray.job.jvm-options." + i, connection.jvmOptions.get(i));
      }
      if (namespace != null) {
        System.setProperty("ray.job.namespace", namespace);
      }
      Ray.init();
      return connection;
    }

    private static String setting(String property, String env) {
      String value = System.getProperty(property);
      return value != null ? value : System.getenv(env);
    }

    private static List<String> defaultCodeSearchPath() {
      String configured = setting("rtensor.ray.code-search-path", "RTENSOR_RAY_CODE_SEARCH_PATH");
      String path = configured != null ? configured : System.getProperty("java.class.path", "");
      List<String> entries = new ArrayList<>();
      for (String entry : path.split(File.pathSeparator)) {
        // Surefire's own booter jars carry nothing a worker needs.
        if (!entry.isBlank() && !entry.contains("surefire") && new File(entry).exists()) {
          entries.add(new File(entry).getAbsolutePath());
        }
      }
      return entries;
    }
  }
}

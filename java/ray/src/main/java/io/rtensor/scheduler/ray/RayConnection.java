package io.rtensor.scheduler.ray;

import com.sun.jna.Function;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;
import io.ray.api.Ray;
import io.rtensor.runtime.HostPort;
import io.rtensor.runtime.JvmFlags;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
 *
 * <p>Ray's native client writes a few INFO lines to stderr while it connects, before the core
 * worker's own log (a file in the session's logs directory) is set up; {@link
 * Builder#quietStartup(boolean)} keeps them off stderr.
 */
public final class RayConnection implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RayConnection.class);

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
      LOG.debug("disconnecting from the Ray cluster at {}", address);
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

  /**
   * The node IP this machine's raylet was started with, as {@code ray start} records it in its
   * session directory ({@code TEMP_DIR/session_latest/node_ip_address.json}, which Ray's Python
   * driver reads the same way), or null when there is no such record or it is not an IP literal.
   */
  static String cachedNodeIp(Path tempDir) {
    Path file = tempDir.resolve("session_latest").resolve("node_ip_address.json");
    try {
      if (!Files.isRegularFile(file) || Files.size(file) > 4096) {
        return null;
      }
      Matcher m = CACHED_NODE_IP.matcher(Files.readString(file, StandardCharsets.UTF_8));
      if (!m.find()) {
        return null;
      }
      String ip = m.group(1);
      return IP_LITERAL.matcher(ip).matches() ? ip : null;
    } catch (IOException | RuntimeException e) {
      LOG.debug("cannot read Ray's cached node IP from {}: {}", file, e.toString());
      return null;
    }
  }

  private static final Pattern CACHED_NODE_IP =
      Pattern.compile("\"node_ip_address\"\\s*:\\s*\"([^\"]{1,64})\"");
  private static final Pattern IP_LITERAL =
      Pattern.compile("[0-9]{1,3}(\\.[0-9]{1,3}){3}|[0-9a-fA-F.]*:[0-9a-fA-F:.]*");

  /**
   * Ray's temporary directory on this machine: {@code rtensor.ray.temp-dir} or {@code
   * RTENSOR_RAY_TEMP_DIR} (what {@code scripts/ray-head} starts its nodes with), else Ray's own
   * default, {@code $RAY_TMPDIR/ray} or {@code /tmp/ray}.
   */
  static Path rayTempDir() {
    String configured = Builder.setting("rtensor.ray.temp-dir", "RTENSOR_RAY_TEMP_DIR");
    if (configured != null && !configured.isBlank()) {
      return Path.of(configured);
    }
    String base = System.getenv("RAY_TMPDIR");
    return Path.of(
        base != null && !base.isBlank() ? base : System.getProperty("java.io.tmpdir"), "ray");
  }

  /** Settings for {@link RayConnection}. */
  public static final class Builder {
    private String address = setting("rtensor.ray.address", "RTENSOR_RAY_ADDRESS");
    private String nodeIp = setting("rtensor.ray.node-ip", "RTENSOR_RAY_NODE_IP");
    private List<String> codeSearchPath = defaultCodeSearchPath();
    private final List<String> jvmOptions = new ArrayList<>(JvmFlags.list());
    private String namespace;
    private boolean quietStartup;

    private Builder() {}

    /** The GCS address, {@code host:port}. */
    public Builder address(String address) {
      this.address = Objects.requireNonNull(address, "address");
      return this;
    }

    /**
     * The IP of this node as the cluster knows it: the address its raylet was started with, which
     * decides the raylet this driver connects through. By default the address that raylet recorded
     * in Ray's session directory ({@link #rayTempDir}; Ray's Python driver reads the same record),
     * else the local address on the route to the GCS; set it where one machine runs more than one
     * raylet, or Ray's temporary directory is not the default.
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
     * Whether to keep the INFO lines Ray's native client writes while it connects off stderr
     * (default false: Ray's own behaviour).
     *
     * <p>While {@code Ray.init()} connects, Ray's C++ GCS client logs at INFO to stderr (for
     * example {@code gcs_client.cc: GcsClient has no Cluster ID set}) before the core worker starts
     * its log, which in a Java driver is a file in the session's logs directory. No setting of Ray
     * 2.39 reaches those first lines: {@code RAY_BACKEND_LOG_LEVEL} is read only when that log
     * starts (and then adds a line of its own), and {@code ray.logging.level} is the Java side's
     * log4j level. With {@code quiet} set, file descriptor 2 is a pipe during {@code Ray.init()}:
     * every line but Ray's INFO and DEBUG ones (warnings, errors, anything Java writes meanwhile)
     * goes on to stderr as it comes, so an error Ray reports before it ends the process is seen;
     * the INFO and DEBUG lines go to this class's DEBUG log once the connection is made.
     */
    public Builder quietStartup(boolean quiet) {
      this.quietStartup = quiet;
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
        ip = cachedNodeIp(rayTempDir());
      }
      if (ip == null) {
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
      LOG.debug(
          "connecting to the Ray cluster at {} as node {}, code search path {}",
          address,
          ip,
          connection.codeSearchPath);
      StderrCapture capture = quietStartup ? StderrCapture.start() : null;
      try {
        Ray.init();
      } finally {
        if (capture != null) {
          capture.finish();
        }
      }
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

  /**
   * File descriptor 2 pointed at a pipe for a while, then back, through the C library (with the JNA
   * that Ray's runtime ships); a thread passes on every line but Ray's INFO and DEBUG ones. Where
   * the descriptors cannot be moved, nothing is captured.
   */
  private static final class StderrCapture {
    /**
     * The start of a line of Ray's C++ log at INFO or below: {@code [2024-11-29 14:39:55,616 I}.
     */
    private static final Pattern RAY_INFO =
        Pattern.compile("^\\[\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d,\\d{3} [TDI] .*");

    private static final int STDERR = 2;
    private static final int EINTR = 4; // Linux and macOS alike

    private final int saved;
    private final int readEnd;
    private final List<String> held = new ArrayList<>();
    private final Thread forwarder;

    private StderrCapture(int saved, int readEnd) {
      this.saved = saved;
      this.readEnd = readEnd;
      this.forwarder = new Thread(this::forward, "ray-startup-stderr");
      forwarder.setDaemon(true);
    }

    static StderrCapture start() {
      try {
        int[] pipe = new int[2];
        if (call("pipe", (Object) pipe) != 0) {
          throw new IllegalStateException("pipe() failed");
        }
        System.err.flush();
        int saved = call("dup", STDERR);
        if (saved < 0 || call("dup2", pipe[1], STDERR) < 0) {
          if (saved >= 0) {
            call("close", saved);
          }
          call("close", pipe[0]);
          call("close", pipe[1]);
          throw new IllegalStateException("cannot point stderr at a pipe");
        }
        call("close", pipe[1]); // descriptor 2 is now the pipe's only write end
        StderrCapture capture = new StderrCapture(saved, pipe[0]);
        capture.forwarder.start();
        return capture;
      } catch (RuntimeException | LinkageError e) {
        LOG.debug("Ray's startup lines stay on stderr: {}", e.toString());
        return null;
      }
    }

    /** Reads the pipe to its end: Ray's INFO lines are held, the others written to stderr. */
    private void forward() {
      byte[] chunk = new byte[8192];
      ByteArrayOutputStream line = new ByteArrayOutputStream();
      while (true) {
        int n = call("read", readEnd, chunk, chunk.length);
        if (n < 0 && Native.getLastError() == EINTR) {
          continue;
        }
        if (n <= 0) {
          break;
        }
        for (int i = 0; i < n; i++) {
          line.write(chunk[i]);
          if (chunk[i] == '\n') {
            pass(line.toByteArray());
            line.reset();
          }
        }
      }
      if (line.size() > 0) {
        pass(line.toByteArray());
      }
    }

    private void pass(byte[] line) {
      String text = new String(line, StandardCharsets.UTF_8).stripTrailing();
      if (RAY_INFO.matcher(text).matches()) {
        synchronized (held) {
          held.add(text);
        }
        return;
      }
      for (int done = 0; done < line.length; ) {
        byte[] rest = done == 0 ? line : Arrays.copyOfRange(line, done, line.length);
        int wrote = call("write", saved, rest, rest.length);
        if (wrote <= 0) {
          return; // stderr itself is gone: nothing to tell
        }
        done += wrote;
      }
    }

    /** Points descriptor 2 back at stderr, lets the pipe drain and logs the held lines. */
    void finish() {
      System.err.flush();
      call("dup2", saved, STDERR); // closes the pipe's write end: the forwarder reads its end
      try {
        forwarder.join(2_000); // bounded: a process started meanwhile may hold the write end
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      if (!forwarder.isAlive()) {
        call("close", readEnd);
        call("close", saved);
      } // else both stay open for the forwarder: closed, their numbers could name other files
      synchronized (held) {
        held.forEach(line -> LOG.debug("ray: {}", line));
        held.clear();
      }
    }

    private static int call(String function, Object... args) {
      Function f = NativeLibrary.getInstance(Platform.C_LIBRARY_NAME).getFunction(function);
      return f.invokeInt(args);
    }
  }
}

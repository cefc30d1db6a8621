package io.rtensor.testing;

import java.io.IOException;
import java.util.concurrent.TimeUnit;

/**
 * A process this test started, stopped with SIGSTOP (alive, its sockets open, answering nothing)
 * until {@link #close()} continues it with SIGCONT: a hung peer. Use in try-with-resources so the
 * process is always continued.
 */
public final class StoppedProcess implements AutoCloseable {
  private final long pid;
  private boolean continued;

  private StoppedProcess(long pid) {
    this.pid = pid;
  }

  /** Stops the process {@code pid} (one this test started). */
  public static StoppedProcess stop(long pid) throws IOException, InterruptedException {
    signal("STOP", pid);
    StoppedProcess p = new StoppedProcess(pid);
    return p;
  }

  /** Continues it now (also done by close). */
  public void resume() throws IOException, InterruptedException {
    if (!continued) {
      continued = true;
      signal("CONT", pid);
    }
  }

  private static void signal(String name, long pid) throws IOException, InterruptedException {
    Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(pid)).inheritIO().start();
    if (!kill.waitFor(10, TimeUnit.SECONDS)) {
      kill.destroyForcibly();
      throw new IOException("kill -" + name + " " + pid + " did not finish");
    }
    if (kill.exitValue() != 0) {
      throw new IOException("kill -" + name + " " + pid + " exited with " + kill.exitValue());
    }
  }

  @Override
  public void close() throws IOException, InterruptedException {
    resume();
  }
}

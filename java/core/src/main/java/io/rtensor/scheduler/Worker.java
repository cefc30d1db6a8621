package io.rtensor.scheduler;

import java.util.List;
import java.util.Objects;

/**
 * A scheduled worker process.
 *
 * @param id {@code role/index}
 * @param role the role
 * @param index the rank within the role
 * @param ip the node's address
 * @param workerPorts the worker's own ports (control and data endpoints)
 * @param enginePorts ports allocated for the engine ({@link SchedulingSpec#portCount()})
 */
public record Worker(
    String id,
    String role,
    int index,
    String ip,
    List<Integer> workerPorts,
    List<Integer> enginePorts)
    implements java.io.Serializable {

  public Worker {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(role, "role");
    workerPorts = List.copyOf(workerPorts);
    enginePorts = List.copyOf(enginePorts);
  }

  /** The role part of a worker id ({@code role/index}); an id without '/' is a role. */
  public static String roleOf(String workerId) {
    int slash = workerId.lastIndexOf('/');
    return slash < 0 ? workerId : workerId.substring(0, slash);
  }

  /** The worker id of rank {@code index} of {@code role}. */
  public static String id(String role, int index) {
    return role + "/" + index;
  }
}

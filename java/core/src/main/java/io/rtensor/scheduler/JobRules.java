package io.rtensor.scheduler;

import io.rtensor.runtime.HostPort;
import java.util.function.Function;

/**
 * The rules both schedulers apply to a job: validation before touching anything, and worker env.
 */
public final class JobRules {
  private JobRules() {}

  /**
   * Validates a job against the roles a scheduler already runs.
   *
   * @param replicasOfRole the replica count of an existing role, or null when it does not exist
   * @throws WorkerCreationException naming what is wrong
   */
  public static void validate(Job job, Function<String, Integer> replicasOfRole) {
    String role = job.role();
    if (role.isBlank() || role.contains("/")) {
      throw new WorkerCreationException(role, "a role is a non-empty name without '/'");
    }
    if (job.replicas() <= 0) {
      throw new WorkerCreationException(role, "replicas must be > 0, got " + job.replicas());
    }
    if (job.tasks().size() != 1 && job.tasks().size() != job.replicas()) {
      throw new WorkerCreationException(
          role,
          "give 1 task spec or one per replica: got "
              + job.tasks().size()
              + " for "
              + job.replicas()
              + " replicas");
    }
    if (replicasOfRole.apply(role) != null) {
      throw new WorkerCreationException(role, "the role already exists; delete it first");
    }
    if (job.tasks().stream().map(SchedulingSpec::placement).distinct().count() > 1) {
      throw new WorkerCreationException(
          role, "all tasks of a job need the same placement strategy");
    }
    if (job.tasks().stream().map(SchedulingSpec::deviceType).distinct().count() > 1) {
      throw new WorkerCreationException(role, "all tasks of a job need the same device type");
    }
    if (job.strategy().colocated()) {
      String target = job.strategy().targetRole();
      Integer targetReplicas = replicasOfRole.apply(target);
      if (targetReplicas == null) {
        throw new WorkerCreationException(
            role, "colocation target role '" + target + "' does not exist");
      }
      if (targetReplicas != job.replicas()) {
        throw new WorkerCreationException(
            role,
            "colocation needs the target's replica count: target '"
                + target
                + "' has "
                + targetReplicas
                + ", the job asks for "
                + job.replicas());
      }
    }
  }

  /** The thread-count variables derived from a task's CPUs, the spec's env and the identity. */
  public static java.util.Map<String, String> workerEnv(
      SchedulingSpec spec, String workerId, int rank, int worldSize, String masterAddress) {
    java.util.Map<String, String> env = new java.util.LinkedHashMap<>();
    String threads = Integer.toString(Math.max(1, (int) Math.floor(spec.cpu())));
    for (String name :
        java.util.List.of(
            "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")) {
      env.put(name, threads);
    }
    env.put("RTENSOR_WORKER_ID", workerId);
    env.put("RANK", Integer.toString(rank));
    env.put("WORLD_SIZE", Integer.toString(worldSize));
    if (masterAddress != null) {
      HostPort master = HostPort.parse(masterAddress);
      env.put("MASTER_ADDR", master.host());
      env.put("MASTER_PORT", Integer.toString(master.port()));
    }
    env.putAll(spec.env());
    return env;
  }
}

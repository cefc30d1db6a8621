package io.rtensor.scheduler;

/** How a job's tasks reserve devices on a cluster. */
public enum PlacementStrategy {
  /** One placement group for the whole job, one bundle per rank, packed (training ranks). */
  SHARED,
  /** One placement group per instance (rollout instances that can land anywhere). */
  SEPARATE,
  /**
   * A group is reserved for the job, bundles split across nodes by GPUs per node, while the worker
   * itself takes no CPU or device: for engines that launch their own device servers.
   */
  DEFERRED
}

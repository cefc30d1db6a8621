package io.rtensor.scheduler;

import java.util.Objects;

/**
 * Where a job's workers go relative to other roles.
 *
 * @param kind separation (own resources) or colocation with {@code targetRole}
 * @param targetRole the role to colocate with, or null for separation
 * @param fork with colocation: start new workers on the target's devices (true), or reuse the
 *     target's workers (false)
 */
public record SchedulingStrategy(Kind kind, String targetRole, boolean fork) {
  /** The two strategies. */
  public enum Kind {
    SEPARATION,
    COLOCATION
  }

  public SchedulingStrategy {
    Objects.requireNonNull(kind, "kind");
    if (kind == Kind.COLOCATION && (targetRole == null || targetRole.isBlank())) {
      throw new IllegalArgumentException("colocation needs a target role");
    }
    if (kind == Kind.SEPARATION && (targetRole != null || fork)) {
      throw new IllegalArgumentException("separation takes no target role and no fork");
    }
  }

  /** Workers on their own resources. */
  public static SchedulingStrategy separation() {
    return new SchedulingStrategy(Kind.SEPARATION, null, false);
  }

  /** Reuse the workers of {@code targetRole}: no new process. */
  public static SchedulingStrategy colocation(String targetRole) {
    return new SchedulingStrategy(Kind.COLOCATION, targetRole, false);
  }

  /** New workers sharing the devices of {@code targetRole}'s workers. */
  public static SchedulingStrategy forkOf(String targetRole) {
    return new SchedulingStrategy(Kind.COLOCATION, targetRole, true);
  }

  /** True for colocation. */
  public boolean colocated() {
    return kind == Kind.COLOCATION;
  }
}

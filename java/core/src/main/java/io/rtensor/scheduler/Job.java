package io.rtensor.scheduler;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A role to run: {@code replicas} workers, each with a {@link SchedulingSpec} (one spec for all, or
 * one per replica), placed by a {@link SchedulingStrategy}.
 */
public record Job(
    String role, int replicas, List<SchedulingSpec> tasks, SchedulingStrategy strategy) {

  public Job {
    Objects.requireNonNull(role, "role");
    Objects.requireNonNull(strategy, "strategy");
    tasks = List.copyOf(tasks);
  }

  /** A builder for role {@code role}. */
  public static Builder builder(String role) {
    return new Builder(role);
  }

  /** The spec of replica {@code index}. */
  public SchedulingSpec spec(int index) {
    return tasks.size() == 1 ? tasks.get(0) : tasks.get(index);
  }

  /** Builder for {@link Job}. */
  public static final class Builder {
    private final String role;
    private int replicas = 1;
    private final List<SchedulingSpec> tasks = new ArrayList<>();
    private SchedulingStrategy strategy = SchedulingStrategy.separation();

    private Builder(String role) {
      this.role = role;
    }

    public Builder replicas(int replicas) {
      this.replicas = replicas;
      return this;
    }

    /** Adds a task spec: one spec applies to every replica, or give one per replica. */
    public Builder task(SchedulingSpec spec) {
      this.tasks.add(Objects.requireNonNull(spec, "spec"));
      return this;
    }

    public Builder strategy(SchedulingStrategy strategy) {
      this.strategy = strategy;
      return this;
    }

    public Job build() {
      List<SchedulingSpec> specs =
          tasks.isEmpty() ? List.of(SchedulingSpec.builder().build()) : tasks;
      return new Job(role, replicas, specs, strategy);
    }
  }
}

package io.rtensor.scheduler;

import java.util.Collection;

/** No worker (or role) of that name exists in this scheduler. */
public class WorkerNotFoundException extends SchedulerException {
  private static final long serialVersionUID = 1L;

  public WorkerNotFoundException(String workerIdOrRole, Collection<String> known) {
    super(
        "no worker or role '" + workerIdOrRole + "'; known: " + known,
        workerIdOrRole.contains("/") ? workerIdOrRole : null,
        roleOf(workerIdOrRole),
        null,
        0,
        null);
  }
}

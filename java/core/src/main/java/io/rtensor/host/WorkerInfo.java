package io.rtensor.host;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/**
 * A worker's answer to a ping: its id, process id and the address of the node it runs on.
 *
 * <p>A plain serializable class (not a record): it crosses Ray's Java serializer.
 */
public final class WorkerInfo implements Serializable {
  private static final long serialVersionUID = 1L;

  private final String workerId;
  private final long pid;
  private final String host;
  private final ArrayList<Integer> deviceIds;

  public WorkerInfo(String workerId, long pid, String host, List<Integer> deviceIds) {
    this.workerId = workerId;
    this.pid = pid;
    this.host = host;
    this.deviceIds = new ArrayList<>(deviceIds);
  }

  /** The worker's id ({@code role/index}). */
  public String workerId() {
    return workerId;
  }

  /** The worker's process id. */
  public long pid() {
    return pid;
  }

  /** The address of the worker's node, as the worker serves from it. */
  public String host() {
    return host;
  }

  /** The node's device ids the worker was assigned (what its engines see as 0, 1, ...). */
  public List<Integer> deviceIds() {
    return List.copyOf(deviceIds);
  }

  @Override
  public String toString() {
    return workerId + " pid " + pid + " on " + host;
  }
}

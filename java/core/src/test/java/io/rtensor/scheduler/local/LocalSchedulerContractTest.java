package io.rtensor.scheduler.local;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.scheduler.DeviceType;
import io.rtensor.scheduler.Scheduler;
import io.rtensor.scheduler.SchedulerContractTest;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The scheduler contract on child JVMs; this machine is told it has 4 GPUs to hand out. */
class LocalSchedulerContractTest extends SchedulerContractTest {

  @Override
  protected Scheduler newScheduler() {
    return LocalScheduler.builder().devices(DeviceType.GPU, 4).build();
  }

  @Override
  protected void killWorker(String workerId) {
    ProcessHandle.of(((LocalScheduler) scheduler).pid(workerId)).orElseThrow().destroyForcibly();
  }

  @Override
  protected Object processOf(String workerId) {
    return ProcessHandle.of(((LocalScheduler) scheduler).pid(workerId)).orElseThrow();
  }

  @Override
  protected void assertGone(Object process) throws Exception {
    ProcessHandle handle = (ProcessHandle) process;
    handle.onExit().get(30, TimeUnit.SECONDS);
    assertTrue(!handle.isAlive(), "process " + handle.pid() + " ended");
  }

  @Override
  protected List<?> deviceIdsOf(String workerId) {
    String visible = (String) call(workerId, "getenv", "CUDA_VISIBLE_DEVICES");
    return visible.isEmpty() ? List.of() : Arrays.asList(visible.split(","));
  }
}

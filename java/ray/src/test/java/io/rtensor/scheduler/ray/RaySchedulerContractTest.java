package io.rtensor.scheduler.ray;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ray.api.Ray;
import io.rtensor.scheduler.Scheduler;
import io.rtensor.scheduler.SchedulerContractTest;
import io.rtensor.testing.RayTestCluster;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;

/** The scheduler contract on the project's real Ray head (4 GPUs declared). */
@Tag("ray")
class RaySchedulerContractTest extends SchedulerContractTest {

  @Override
  protected Scheduler newScheduler() {
    RayTestCluster.connect();
    return RayScheduler.builder()
        .startupTimeout(Duration.ofSeconds(90))
        .shardGetTimeout(Duration.ofSeconds(20))
        .build();
  }

  @Override
  protected void killWorker(String workerId) {
    String name = ((RayScheduler) scheduler).actorName(workerId);
    Ray.getActor(name).orElseThrow().kill();
  }

  @Override
  protected Object processOf(String workerId) {
    long pid = (Long) call(workerId, "pid");
    return ProcessHandle.of(pid).orElseThrow();
  }

  @Override
  protected void assertGone(Object process) throws Exception {
    ProcessHandle handle = (ProcessHandle) process;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (handle.isAlive() && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    assertTrue(!handle.isAlive(), "worker JVM " + handle.pid() + " ended");
  }

  @Override
  protected List<?> deviceIdsOf(String workerId) {
    return (List<?>) call(workerId, "gpuIds");
  }
}

package io.rtensor.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rtensor.device.RuntimeKind;
import io.rtensor.engine.EngineContext;
import io.rtensor.engine.InferenceEngine;
import io.rtensor.engine.TrainEngine;
import io.rtensor.handle.RTensor;
import io.rtensor.runtime.JvmFlags;
import io.rtensor.scheduler.CallOptions;
import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.SchedulingSpec;
import io.rtensor.scheduler.local.LocalScheduler;
import io.rtensor.tensor.DeviceTensor;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import io.rtensor.testing.engines.DeviceEngine;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Test;

/**
 * The README's GPU engine example, run as written: the engines and the controller between the
 * {@code --8<--} markers are the README's code blocks (the test compares them), and the controller
 * runs in a JVM of its own on the fake CUDA runtime, so its local workers load it as they would the
 * real one (through {@code RTENSOR_CUDA_LIBRARY}, which child processes inherit).
 */
public class GpuEngineExampleTest {

  // --8<-- [start:gpu-engines]
  /** A rollout engine on a GPU: it returns its hidden states in device memory. */
  public static class GpuRollout implements InferenceEngine {
    private EngineContext context;

    @Override
    public void initialize(EngineContext context) {
      this.context = context; // context.device(): the GPU the worker was given
    }

    public DeviceTensor rollout(int batch, int hidden) {
      float[] states = new float[batch * hidden];
      for (int i = 0; i < states.length; i++) {
        states[i] = i * 0.5f;
      }
      // A model's forward pass leaves its output on the device; here a host array is copied there.
      try (BufferAllocator allocator = new RootAllocator();
          Tensor host = Tensor.of(allocator, states, Shape.of(batch, hidden))) {
        return DeviceTensor.copyOf(context.device(), host);
      }
    }
  }

  /** A training engine on another GPU: a DeviceTensor parameter receives its tensor there. */
  public static class GpuTrainer implements TrainEngine {
    public double trainStep(DeviceTensor hiddenStates) {
      // hiddenStates is in this worker's GPU memory; a trainer hands it to its kernels (toDlpack()
      // gives it to PyTorch). This one reads it back to the host to sum it.
      try (BufferAllocator allocator = new RootAllocator();
          Tensor host = hiddenStates.toHost(allocator)) {
        double sum = 0;
        for (float v : host.toFloatArray()) {
          sum += v;
        }
        return sum;
      }
    }
  }

  // --8<-- [end:gpu-engines]

  /** The example's controller: a LocalScheduler finds this machine's GPUs itself. */
  public static void main(String[] args) {
    // --8<-- [start:gpu-controller]
    try (LocalScheduler scheduler = LocalScheduler.builder().build()) {
      SchedulingSpec oneGpu = SchedulingSpec.builder().cpu(1).gpu(1).build();
      scheduler.createWorkers(Job.builder("rollout").replicas(1).task(oneGpu).build());
      scheduler.createWorkers(Job.builder("trainer").replicas(1).task(oneGpu).build());
      scheduler.createEngine("rollout/0", GpuRollout.class.getName(), "gen");
      scheduler.createEngine("trainer/0", GpuTrainer.class.getName(), "train");

      // rollout/0 stores the device tensor with one device-to-host copy into page-locked memory;
      // the controller gets a handle.
      RTensor states =
          (RTensor)
              scheduler.callEngine("rollout/0", "rollout", "gen", CallOptions.DEFAULT, 4, 1024);

      // trainer/0 fetches it and receives it on its own GPU: one host-to-device copy.
      double sum = (double) scheduler.callEngine("trainer/0", "trainStep", "train", null, states);
      System.out.println(sum); // 4193280.0

      scheduler.clearShards(List.of(states));
      System.out.println(scheduler.workerMemory("rollout/0")); // ... device to host 16384 bytes ...
      System.out.println(scheduler.workerMemory("trainer/0")); // ... host to device 16384 bytes
    }
    // --8<-- [end:gpu-controller]
  }

  @Test
  void theReadmeShowsThisCodeAsWritten() throws IOException {
    Path root = Path.of(System.getProperty("rtensor.root", "."));
    String readme = Files.readString(root.resolve("README.md"), StandardCharsets.UTF_8);
    String source =
        Files.readString(
            root.resolve("java/core/src/test/java/io/rtensor/examples/GpuEngineExampleTest.java"),
            StandardCharsets.UTF_8);
    for (String region : List.of("gpu-engines", "gpu-controller")) {
      assertEquals(
          Snippets.region(source, region),
          Snippets.readmeBlock(readme, "GpuEngineExampleTest " + region),
          "README.md's block " + region + " differs from this test's code");
    }
  }

  @Test
  void theExampleRunsOnTheFakeCudaRuntime() throws Exception {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(JvmFlags.list());
    command.add("-Drtensor.root=" + System.getProperty("rtensor.root", "."));
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(GpuEngineExampleTest.class.getName());
    File out = File.createTempFile("rtensor-gpu-example-", ".out");
    try {
      ProcessBuilder builder =
          new ProcessBuilder(command)
              .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
              .redirectErrorStream(true)
              .redirectOutput(out);
      builder.environment().putAll(DeviceEngine.fakeRuntimeEnv(RuntimeKind.CUDA, 2));
      Process process = builder.start();
      boolean exited = process.waitFor(180, TimeUnit.SECONDS);
      if (!exited) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
      String text = Files.readString(out.toPath(), StandardCharsets.UTF_8);
      assertTrue(exited, "still running after 180 s:\n" + text);
      assertEquals(0, process.exitValue(), text);
      List<String> lines = text.lines().toList();
      assertTrue(lines.contains("4193280.0"), text);
      assertTrue(
          lines.stream()
              .anyMatch(
                  l ->
                      l.startsWith("rollout/0 ")
                          && l.contains("stored 0 shards / 0 bytes")
                          && l.endsWith(
                              "copied device to host 16384 bytes, host to device 0 bytes")),
          text);
      assertTrue(
          lines.stream()
              .anyMatch(
                  l ->
                      l.startsWith("trainer/0 ")
                          && l.contains("cached 0 shards / 0 bytes")
                          && l.endsWith(
                              "copied device to host 0 bytes, host to device 16384 bytes")),
          text);
    } finally {
      Files.deleteIfExists(out.toPath());
    }
  }
}

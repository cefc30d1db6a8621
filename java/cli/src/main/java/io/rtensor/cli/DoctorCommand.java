package io.rtensor.cli;

import io.ray.api.ActorHandle;
import io.ray.api.ObjectRef;
import io.ray.api.PlacementGroups;
import io.ray.api.Ray;
import io.ray.api.options.PlacementGroupCreationOptions;
import io.ray.api.placementgroup.PlacementGroup;
import io.ray.api.placementgroup.PlacementStrategy;
import io.ray.api.runtimecontext.NodeInfo;
import io.rtensor.device.NativeHost;
import io.rtensor.scheduler.ray.ProbeActor;
import io.rtensor.scheduler.ray.RayConnection;
import io.rtensor.transport.ray.RayCoreObjects;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import org.bytedeco.javacpp.BytePointer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.ParentCommand;

/**
 * {@code ./rtensor doctor}: checks what rtensor stands on — the native layer answers, a real Ray
 * cluster is up, a project actor runs in a Ray worker JVM, bytes cross the object store and a GPU
 * placement group places an actor — each printed with what was found.
 */
@Command(
    name = "doctor",
    description = {
      "Check the foundation: native call, Ray cluster, actor, object store, placement.",
      "Without --ray-address or RTENSOR_RAY_ADDRESS the launcher starts the project's Ray head"
          + " (scripts/ray-head) for the run and stops it afterwards."
    },
    sortOptions = false)
final class DoctorCommand implements Callable<Integer> {
  @ParentCommand private Main main;
  @Mixin private HelpOption help;
  @Mixin private RayOptions ray;

  @Override
  public Integer call() {
    ray.applyLogging();
    PrintStream out = main.out();
    int failures = 0;
    long start;
    int abi = NativeHost.abiVersion(); // loads the native library (and JavaCPP's own natives)
    try (BytePointer buffer = new BytePointer(64L << 20)) {
      buffer.fill(0x5a);
      start = System.nanoTime();
      long sum = NativeHost.checksum(buffer.address(), buffer.capacity());
      double seconds = (System.nanoTime() - start) / 1e9;
      out.printf(
          "native    : ABI %d, checksum of 64 MiB = %016x (%.2f GB/s in C++)%n",
          abi, sum, buffer.capacity() / seconds / 1e9);
    }

    try (RayConnection connection = ray.connect()) {
      List<NodeInfo> nodes = Ray.getRuntimeContext().getAllNodeInfo();
      Map<String, Double> resources = nodes.get(0).resources;
      out.printf(
          "cluster   : up at %s, %d node(s), CPU %.0f, GPU %.0f, NPU %.0f%n",
          connection.address(),
          nodes.size(),
          resources.getOrDefault("CPU", 0.0),
          resources.getOrDefault("GPU", 0.0),
          resources.getOrDefault("NPU", 0.0));

      ActorHandle<ProbeActor> actor = Ray.actor(ProbeActor::new).remote();
      long pid = actor.task(ProbeActor::pid).remote().get(120_000);
      out.printf(
          "actor     : ProbeActor runs in worker JVM pid %d (this driver: pid %d)%n",
          pid, ProcessHandle.current().pid());
      actor.kill();

      byte[] bytes = new byte[64 << 20];
      new Random(7).nextBytes(bytes);
      start = System.nanoTime();
      ObjectRef<byte[]> ref = Ray.put(bytes);
      boolean intact = Arrays.equals(bytes, ref.get(60_000));
      out.printf(
          "objects   : 64 MiB byte[] put + get in %.0f ms, %s%n",
          (System.nanoTime() - start) / 1e6, intact ? "intact" : "CORRUPTED");
      failures += intact ? 0 : 1;
      String inPlace = RayCoreObjects.unavailableReason();
      out.printf(
          "shards    : the object store plane goes %s%n",
          inPlace == null
              ? "through this Ray's core worker in place (its build is the one checked)"
              : "through Ray's Java API, copying more: " + inPlace);

      PlacementGroup group =
          PlacementGroups.createPlacementGroup(
              new PlacementGroupCreationOptions.Builder()
                  .setBundles(List.of(Map.of("GPU", 1.0), Map.of("GPU", 1.0)))
                  .setStrategy(PlacementStrategy.PACK)
                  .build());
      try {
        if (group.wait(60)) {
          ActorHandle<ProbeActor> placed =
              Ray.actor(ProbeActor::new)
                  .setPlacementGroup(group, 1)
                  .setResource("GPU", 1.0)
                  .remote();
          List<Long> gpus = placed.task(ProbeActor::gpuIds).remote().get(120_000);
          out.printf("placement : 2 x 1-GPU bundles ready; actor in bundle 1 got GPU %s%n", gpus);
          placed.kill();
        } else {
          out.println("placement : a group of 2 x 1-GPU bundles did not become ready in 60 s");
          failures++;
        }
      } finally {
        PlacementGroups.removePlacementGroup(group.getId());
      }
    }
    out.println(failures == 0 ? "all checks passed" : failures + " check(s) failed");
    return failures == 0 ? 0 : 1;
  }
}

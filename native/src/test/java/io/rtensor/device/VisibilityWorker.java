package io.rtensor.device;

import java.util.Arrays;
import java.util.List;

/**
 * The main class of the worker processes {@link DeviceVisibilityTest} starts: for each argument
 * {@code KIND=MODE} it applies the mode before any runtime is used ({@code unset}: leave the
 * variable alone; {@code ids:2,0}: {@link DeviceVisibility#restrict}; {@code ids:} restricts to no
 * device), then loads each runtime and prints what it sees as {@code KIND.key=value} lines.
 */
final class VisibilityWorker {
  private VisibilityWorker() {}

  public static void main(String[] args) {
    for (String arg : args) {
      String[] kindMode = arg.split("=", 2);
      RuntimeKind kind = RuntimeKind.valueOf(kindMode[0]);
      String mode = kindMode[1];
      print(kind, "initializedBefore", DeviceVisibility.initialized(kind));
      if (mode.startsWith("ids:")) {
        String list = mode.substring("ids:".length());
        List<Integer> ids =
            list.isEmpty()
                ? List.of()
                : Arrays.stream(list.split(",")).map(Integer::valueOf).toList();
        DeviceVisibility.restrict(kind, ids);
      } else if (!mode.equals("unset")) {
        throw new IllegalArgumentException("unknown mode " + mode);
      }
    }
    for (String arg : args) {
      report(RuntimeKind.valueOf(arg.split("=", 2)[0]));
    }
  }

  private static void report(RuntimeKind kind) {
    String variable = kind.visibleDevicesVariable();
    String before = DeviceVisibility.nativeEnv(variable).orElse(null);
    print(kind, "native", before == null ? "<unset>" : before);
    print(kind, "java", String.valueOf(System.getenv(variable)));
    DeviceRuntime runtime = DeviceRuntimes.get(kind);
    print(kind, "initialized", DeviceVisibility.initialized(kind));
    print(kind, "count", runtime.deviceCount());
    for (int i = 0; i < runtime.deviceCount(); i++) {
      print(kind, "physical." + i, runtime.physicalId(i));
      try (DeviceBuffer b = runtime.device(i).allocate(4096)) {
        print(kind, "holder." + i, FakeRuntime.physicalDeviceOf(kind, b));
      }
    }
    try {
      DeviceVisibility.restrict(kind, List.of(5));
      print(kind, "late", "accepted");
    } catch (RuntimeAlreadyInitializedException e) {
      print(kind, "late", e.getClass().getSimpleName() + " " + e.runtime() + " " + e.getMessage());
    }
    print(kind, "nativeAfter", DeviceVisibility.nativeEnv(variable).orElse("<unset>"));
    try {
      DeviceVisibility.setNativeEnv(variable, before);
      print(kind, "same", "accepted");
    } catch (RuntimeAlreadyInitializedException e) {
      print(kind, "same", "refused " + e.getMessage());
    }
  }

  private static void print(RuntimeKind kind, String key, Object value) {
    System.out.println(kind + "." + key + "=" + value);
  }
}

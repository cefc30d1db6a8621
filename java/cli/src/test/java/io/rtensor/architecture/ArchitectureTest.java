package io.rtensor.architecture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.Dependency;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.Location;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The layering rules of every module's main classes (native, arrow-rtensor, core, ray, cli: all on
 * this module's class path), read from the compiled classes: no package cycle (a package and its
 * own {@code internal} sub-package count as one unit), and an {@code internal} package is used only
 * from inside its parent.
 */
class ArchitectureTest {
  private static JavaClasses classes;

  @BeforeAll
  static void importMainClasses() {
    classes =
        new ClassFileImporter()
            .withImportOption(ArchitectureTest::isMainCode)
            .importPackages("io.rtensor");
  }

  /** Main classes only: not test-classes folders, not test jars. */
  private static boolean isMainCode(Location location) {
    String uri = location.asURI().toString();
    return !uri.contains("/test-classes/") && !uri.contains("-tests.jar");
  }

  /** A package and its own internal sub-packages are one unit. */
  static String unitOf(String packageName) {
    int internal = packageName.indexOf(".internal");
    while (internal >= 0) {
      int end = internal + ".internal".length();
      if (end == packageName.length() || packageName.charAt(end) == '.') {
        return packageName.substring(0, internal);
      }
      internal = packageName.indexOf(".internal", end);
    }
    return packageName;
  }

  @Test
  void everyModuleIsImported() {
    Set<String> units = new TreeSet<>();
    classes.forEach(c -> units.add(unitOf(c.getPackageName())));
    for (String expected :
        List.of(
            "io.rtensor.device",
            "io.rtensor.wire",
            "io.rtensor.scheduler.core",
            "io.rtensor.scheduler.ray",
            "io.rtensor.cli")) {
      assertTrue(units.contains(expected), expected + " is checked; imported: " + units);
    }
  }

  @Test
  void packagesFormNoCycle() {
    Map<String, Set<String>> graph = new TreeMap<>();
    for (JavaClass c : classes) {
      String from = unitOf(c.getPackageName());
      graph.computeIfAbsent(from, k -> new TreeSet<>());
      for (Dependency d : c.getDirectDependenciesFromSelf()) {
        String to = unitOf(d.getTargetClass().getPackageName());
        if (to.startsWith("io.rtensor") && !to.equals(from)) {
          graph.get(from).add(to);
        }
      }
    }
    graph.values().forEach(targets -> targets.retainAll(graph.keySet()));
    List<Set<String>> cycles = new StronglyConnected(graph).components();
    assertEquals(List.of(), cycles, "package cycles among main classes");
  }

  @Test
  void internalPackagesAreUsedOnlyInsideTheirParent() {
    Set<String> violations = new TreeSet<>();
    for (JavaClass c : classes) {
      for (Dependency d : c.getDirectDependenciesFromSelf()) {
        String target = d.getTargetClass().getPackageName();
        String parent = unitOf(target);
        if (!parent.equals(target)
            && target.startsWith("io.rtensor")
            && !(c.getPackageName().equals(parent)
                || c.getPackageName().startsWith(parent + "."))) {
          violations.add(c.getName() + " -> " + d.getTargetClass().getName());
        }
      }
    }
    assertEquals(Set.of(), violations, "uses of an internal package from outside its parent");
  }

  @Test
  void theCycleCheckFindsACycle() {
    Map<String, Set<String>> graph = new HashMap<>();
    graph.put("a", new TreeSet<>(List.of("b")));
    graph.put("b", new TreeSet<>(List.of("c")));
    graph.put("c", new TreeSet<>(List.of("a")));
    graph.put("d", new TreeSet<>(List.of("a")));
    assertEquals(List.of(Set.of("a", "b", "c")), new StronglyConnected(graph).components());
    assertEquals("io.rtensor.device", unitOf("io.rtensor.device.internal"));
    assertEquals("io.rtensor.a", unitOf("io.rtensor.a.internal.deep"));
    assertEquals("io.rtensor.internals", unitOf("io.rtensor.internals"));
  }

  /** Tarjan's strongly connected components of more than one node: the cycles. */
  static final class StronglyConnected {
    private final Map<String, Set<String>> graph;
    private final Map<String, Integer> index = new HashMap<>();
    private final Map<String, Integer> low = new HashMap<>();
    private final Deque<String> stack = new ArrayDeque<>();
    private final Set<String> onStack = new TreeSet<>();
    private final List<Set<String>> components = new ArrayList<>();
    private int next;

    StronglyConnected(Map<String, Set<String>> graph) {
      this.graph = graph;
    }

    List<Set<String>> components() {
      for (String v : new TreeSet<>(graph.keySet())) {
        if (!index.containsKey(v)) {
          visit(v);
        }
      }
      return components;
    }

    private void visit(String v) {
      index.put(v, next);
      low.put(v, next);
      next++;
      stack.push(v);
      onStack.add(v);
      for (String w : graph.getOrDefault(v, Set.of())) {
        if (!index.containsKey(w)) {
          visit(w);
          low.put(v, Math.min(low.get(v), low.get(w)));
        } else if (onStack.contains(w)) {
          low.put(v, Math.min(low.get(v), index.get(w)));
        }
      }
      if (low.get(v).equals(index.get(v))) {
        Set<String> component = new TreeSet<>();
        String w;
        do {
          w = stack.pop();
          onStack.remove(w);
          component.add(w);
        } while (!w.equals(v));
        if (component.size() > 1) {
          components.add(component);
        }
      }
    }
  }
}

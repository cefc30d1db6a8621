package io.rtensor;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.Dependency;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaConstructor;
import com.tngtech.archunit.core.domain.JavaConstructorCall;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import com.tngtech.archunit.library.dependencies.SliceAssignment;
import com.tngtech.archunit.library.dependencies.SliceIdentifier;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The package and exception rules of DESIGN.md and STYLE.md, checked on the compiled classes:
 * packages form no cycle (a package and its own {@code internal} sub-package count as one), an
 * {@code internal} package is used only by its parent, exceptions are named {@code *Exception} and
 * every exception the library throws on purpose extends {@link RTensorException}. Checked over this
 * module and the native module under it, which the class path holds as a jar or a classes folder.
 */
class ArchitectureTest {
  private static JavaClasses classes;

  @BeforeAll
  static void importClasses() {
    classes =
        new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("io.rtensor");
    assertTrue(
        classes.contain("io.rtensor.wire.ShardCodec"),
        "io.rtensor.wire.ShardCodec was not imported");
    assertTrue(
        classes.contain("io.rtensor.device.internal.DeviceOps"),
        "io.rtensor.device.internal.DeviceOps was not imported");
  }

  /** The package a class counts as: its own, with an {@code internal} suffix folded into it. */
  static String unit(String packageName) {
    return packageName.replaceFirst("\\.internal(\\..*)?$", "");
  }

  @Test
  void packagesFormNoCycle() {
    SliceAssignment byPackage =
        new SliceAssignment() {
          @Override
          public SliceIdentifier getIdentifierOf(JavaClass c) {
            String p = c.getPackageName();
            return p.startsWith("io.rtensor")
                ? SliceIdentifier.of(unit(p))
                : SliceIdentifier.ignore();
          }

          @Override
          public String getDescription() {
            return "io.rtensor packages, each with its internal sub-package";
          }
        };
    slices().assignedFrom(byPackage).should().beFreeOfCycles().check(classes);
  }

  @Test
  void internalPackagesAreUsedOnlyByTheirParent() {
    ArchCondition<JavaClass> usedOnlyByParent =
        new ArchCondition<>("be used only by their parent package") {
          @Override
          public void check(JavaClass target, ConditionEvents events) {
            String parent = unit(target.getPackageName());
            for (Dependency d : target.getDirectDependenciesToSelf()) {
              String from = d.getOriginClass().getPackageName();
              if (!from.equals(parent) && !from.startsWith(parent + ".")) {
                events.add(SimpleConditionEvent.violated(d, d.getDescription()));
              }
            }
          }
        };
    classes()
        .that()
        .resideInAPackage("io.rtensor..internal..")
        .should(usedOnlyByParent)
        .allowEmptyShould(true)
        .check(classes);
  }

  /**
   * The JDK's exceptions for a caller's mistake (a bad argument, a closed resource, an optional
   * operation a backend lacks), and Arrow's {@code OutOfMemoryException}, which an Arrow {@code
   * AllocationManager} must throw when its memory runs out; and the error javac emits for an
   * exhaustive enum switch meeting a constant added later. Everything else the library throws is an
   * {@link RTensorException}.
   */
  private static final Set<String> FOREIGN_EXCEPTIONS_ALLOWED =
      Set.of(
          IllegalArgumentException.class.getName(),
          IllegalStateException.class.getName(),
          NullPointerException.class.getName(),
          IndexOutOfBoundsException.class.getName(),
          UnsupportedOperationException.class.getName(),
          "org.apache.arrow.memory.OutOfMemoryException",
          IncompatibleClassChangeError.class.getName());

  @Test
  void exceptionsAreNamedExceptionAndShareOneRoot() {
    classes()
        .that()
        .areAssignableTo(Throwable.class)
        .and()
        .resideInAPackage("io.rtensor..")
        .should()
        .haveSimpleNameNotEndingWith("Error")
        .andShould()
        .beAssignableTo(RTensorException.class)
        .check(classes);
  }

  @Test
  void theLibraryThrowsItsOwnExceptionsOrTheJdksPreconditionOnes() {
    ArchCondition<JavaClass> constructOnlyAllowedThrowables =
        new ArchCondition<>(
            "construct no throwable but RTensorExceptions and " + FOREIGN_EXCEPTIONS_ALLOWED) {
          @Override
          public void check(JavaClass origin, ConditionEvents events) {
            for (JavaConstructorCall call : origin.getConstructorCallsFromSelf()) {
              JavaClass target = call.getTargetOwner();
              if (call.getOrigin() instanceof JavaConstructor
                  && origin.getRawSuperclass().map(target::equals).orElse(false)) {
                continue; // an exception's constructor calling its superclass's
              }
              if (target.isAssignableTo(Throwable.class)
                  && !target.isAssignableTo(RTensorException.class)
                  && !FOREIGN_EXCEPTIONS_ALLOWED.contains(target.getName())) {
                events.add(SimpleConditionEvent.violated(call, call.getDescription()));
              }
            }
          }
        };
    classes()
        .that()
        .resideInAPackage("io.rtensor..")
        .should(constructOnlyAllowedThrowables)
        .check(classes);
  }
}

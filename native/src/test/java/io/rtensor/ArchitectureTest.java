package io.rtensor;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.Dependency;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import com.tngtech.archunit.library.dependencies.SliceAssignment;
import com.tngtech.archunit.library.dependencies.SliceIdentifier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The package rules of DESIGN.md, checked on the compiled classes: packages form no cycle (a
 * package and its own {@code internal} sub-package count as one), and an {@code internal} package
 * is used only by its parent. Checked over this module's classes (jars on the class path are left
 * out).
 */
class ArchitectureTest {
  private static JavaClasses classes;

  @BeforeAll
  static void importClasses() {
    classes =
        new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_JARS)
            .importPackages("io.rtensor");
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
}

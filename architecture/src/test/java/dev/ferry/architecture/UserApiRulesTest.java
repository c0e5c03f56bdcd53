package dev.ferry.architecture;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noCodeUnits;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaCodeUnit;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;

/**
 * What a user sees has no Ratis type in it (issue 15): the state-machine contract (the whole
 * statemachine module, held free of Ratis by {@link ModuleRulesTest}) and the client. Every public
 * or protected method and constructor of a public class in {@code dev.ferry.client} takes and
 * returns no Ratis type, so a user of the client never imports one.
 */
@AnalyzeClasses(packages = "dev.ferry", importOptions = MainClasses.class)
class UserApiRulesTest {

  @ArchTest
  static final ArchRule theClientsSignaturesHaveNoRatisTypes =
      noCodeUnits()
          .that()
          .areDeclaredInClassesThat()
          .resideInAPackage("dev.ferry.client")
          .and()
          .areDeclaredInClassesThat()
          .arePublic()
          .and(visibleToUsers())
          .should(mentionRatisInTheirSignature())
          .because("users talk to any state machine through FerryClient without Ratis types");

  private static DescribedPredicate<JavaCodeUnit> visibleToUsers() {
    return DescribedPredicate.describe(
        "are public or protected",
        c ->
            c.getModifiers().contains(JavaModifier.PUBLIC)
                || c.getModifiers().contains(JavaModifier.PROTECTED));
  }

  private static ArchCondition<JavaCodeUnit> mentionRatisInTheirSignature() {
    return new ArchCondition<>("mention a Ratis type in their parameters or return type") {
      @Override
      public void check(JavaCodeUnit unit, ConditionEvents events) {
        boolean ratis = isRatis(unit.getRawReturnType());
        for (JavaClass parameter : unit.getRawParameterTypes()) {
          ratis |= isRatis(parameter);
        }
        events.add(new SimpleConditionEvent(unit, ratis, unit.getFullName()));
      }
    };
  }

  private static boolean isRatis(JavaClass type) {
    return type.getBaseComponentType().getPackageName().startsWith("org.apache.ratis");
  }
}

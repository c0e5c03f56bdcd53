package dev.ferry.architecture;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;

import com.tngtech.archunit.core.domain.Dependency;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.Source;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import com.tngtech.archunit.library.Architectures.LayeredArchitecture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The module graph and what crosses module borders, over every module's main classes. Each rule's
 * failure message names the offending classes and dependencies.
 */
@AnalyzeClasses(packages = "dev.ferry", importOptions = MainClasses.class)
class ModuleRulesTest {
  private static final String RATIS = "org.apache.ratis..";

  /** Each module uses only modules below it ({@link FerryModule} has the graph). */
  @ArchTest static final ArchRule modulesDependOnlyOnModulesBelowThem = moduleGraph();

  /**
   * The import sees every module of the reactor (a module directory with a pom), so that no rule
   * passes for lack of classes.
   */
  @ArchTest
  static void everyModuleOfTheReactorIsImported(JavaClasses classes) {
    for (FerryModule module : FerryModule.values()) {
      if (Files.exists(Path.of("..", module.directory, "pom.xml"))) {
        JavaClasses ofModule =
            classes.that(JavaClass.Predicates.resideInAnyPackage(module.packagePatterns()));
        if (ofModule.isEmpty()) {
          throw new AssertionError(
              "no class of module "
                  + module
                  + " imported: add it as a test dependency of the architecture module, or check"
                  + " MainClasses");
        }
      }
    }
  }

  /** Every Ferry class is in some module's packages, so that the graph rule sees it. */
  @ArchTest
  static final ArchRule everyClassIsInAModulesPackages =
      classes()
          .that()
          .resideInAPackage("dev.ferry..")
          .should()
          .resideInAnyPackage(FerryModule.allPackagePatterns())
          .because("the module rules map modules to packages (see FerryModule)");

  /**
   * A module's packages are in that module's classes and nowhere else: no package is split across
   * modules, so the package-to-module map the other rules use is true.
   */
  @ArchTest
  static final ArchRule eachModulesPackagesComeFromThatModule =
      classes()
          .that()
          .resideInAnyPackage(FerryModule.allPackagePatterns())
          .should(comeFromTheirModulesArtifact());

  /**
   * Uses of another module's {@code internal} package that are known and tolerated, keyed by
   * "origin class -> internal class". Each goes when its reason does; the check fails once an entry
   * no longer occurs.
   */
  static final Map<String, String> KNOWN_INTERNAL_USES =
      Map.of(
          "dev.ferry.bench.recovery.FerryBench -> dev.ferry.statemachine.internal.SnapshotCatalog",
          "the recovery benchmark's single-threaded reference load reads a stopped node's"
              + " snapshots through the statemachine module's internal catalog (documented in"
              + " FerryBench.singleThreadedLoad); goes when the statemachine module offers a public"
              + " offline load, or the reference load is dropped");

  /** {@code internal} packages are a module's own: no other module depends on them. */
  @ArchTest
  static void noModuleUsesAnotherModulesInternals(JavaClasses classes) {
    ArchRule rule =
        classes()
            .that()
            .resideInAnyPackage(FerryModule.allPackagePatterns())
            .should(notDependOnAnotherModulesInternalPackages());
    KnownViolations.check(
        rule, classes, detail -> detail.substring(0, detail.indexOf(" (")), KNOWN_INTERNAL_USES);
  }

  /** The snapshot module knows nothing of Ratis. */
  @ArchTest
  static final ArchRule snapshotUsesNoRatis =
      usesNoRatis(FerryModule.SNAPSHOT, "the snapshot module knows nothing of Ratis (STYLE.md)");

  /** The chunk service, chunk client and installer (the shipping module) use no Ratis type. */
  @ArchTest
  static final ArchRule shippingUsesNoRatis =
      usesNoRatis(
          FerryModule.SHIPPING,
          "shipping moves chunks between Ferry nodes; Raft is raft-integration's business");

  /**
   * The user's state-machine contract (the statemachine module) uses no Ratis type; the Ratis
   * adapter lives in raft-integration.
   */
  @ArchTest
  static final ArchRule statemachineUsesNoRatis =
      usesNoRatis(
          FerryModule.STATEMACHINE, "users write state machines without Ratis types (issue 15 §2)");

  /**
   * No class of {@code module} depends on a Ratis class. A module with no classes yet passes
   * ({@link #everyModuleOfTheReactorIsImported} catches a module whose classes were not imported).
   */
  private static ArchRule usesNoRatis(FerryModule module, String reason) {
    return noClasses()
        .that()
        .resideInAnyPackage(module.packagePatterns())
        .should()
        .dependOnClassesThat()
        .resideInAPackage(RATIS)
        .because(reason)
        .allowEmptyShould(true);
  }

  private static ArchRule moduleGraph() {
    LayeredArchitecture graph =
        layeredArchitecture().consideringOnlyDependenciesInLayers().withOptionalLayers(true);
    for (FerryModule module : FerryModule.values()) {
      graph = graph.layer(module.directory).definedBy(module.packagePatterns());
    }
    for (FerryModule module : FerryModule.values()) {
      String[] below = module.below.stream().map(m -> m.directory).toArray(String[]::new);
      graph =
          below.length == 0
              ? graph.whereLayer(module.directory).mayNotAccessAnyLayer()
              : graph.whereLayer(module.directory).mayOnlyAccessLayers(below);
    }
    return graph.because(
        "the module graph runs one way: snapshot <- statemachine <- shipping <- raft-integration"
            + " <- kvstore <- chaos-tests, benchmarks on top of kvstore");
  }

  private static ArchCondition<JavaClass> comeFromTheirModulesArtifact() {
    return new ArchCondition<>("come from their module's classes or jar") {
      @Override
      public void check(JavaClass javaClass, ConditionEvents events) {
        FerryModule module = FerryModule.of(javaClass).orElseThrow();
        String uri = javaClass.getSource().map(Source::getUri).map(Object::toString).orElse("?");
        Pattern expected =
            Pattern.compile(
                ".*/("
                    + Pattern.quote(module.directory)
                    + "/target/classes/|ferry-"
                    + Pattern.quote(module.directory)
                    + "-[0-9][^/]*\\.jar!/).*");
        boolean ok = expected.matcher(uri).matches();
        events.add(
            new SimpleConditionEvent(
                javaClass,
                ok,
                javaClass.getName() + " is in " + module + "'s packages but comes from " + uri));
      }
    };
  }

  private static ArchCondition<JavaClass> notDependOnAnotherModulesInternalPackages() {
    return new ArchCondition<>("not depend on another module's internal packages") {
      @Override
      public void check(JavaClass origin, ConditionEvents events) {
        FerryModule from = FerryModule.of(origin).orElseThrow();
        for (Dependency dependency : origin.getDirectDependenciesFromSelf()) {
          JavaClass target = dependency.getTargetClass().getBaseComponentType();
          Optional<FerryModule> to = FerryModule.of(target);
          if (to.isPresent() && to.get() != from && isInternal(to.get(), target)) {
            events.add(
                SimpleConditionEvent.violated(
                    dependency,
                    origin.getName()
                        + " -> "
                        + target.getName()
                        + " ("
                        + from
                        + " uses "
                        + to.get()
                        + "'s internal package): "
                        + dependency.getDescription()));
          }
        }
      }
    };
  }

  /** True when {@code target}'s package has a segment {@code internal} below its module's top. */
  private static boolean isInternal(FerryModule module, JavaClass target) {
    String pkg = target.getPackageName();
    String below = pkg.substring(module.topPackageOf(pkg).length());
    return (below + ".").contains(".internal.");
  }
}

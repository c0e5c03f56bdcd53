package dev.ferry.architecture;

import com.tngtech.archunit.core.domain.JavaClass;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Ferry's modules, lowest first, each with the packages it owns and the modules it may use. The
 * graph runs one way: snapshot ← statemachine ← shipping ← raft-integration ← kvstore ←
 * chaos-tests, with benchmarks on top (the shaped recovery benchmark runs its nodes in the chaos
 * harness's network namespaces, under its machine-wide lock); testing (the in-JVM cluster fixture)
 * sits on raft-integration beside kvstore, for chaos-tests, benchmarks and users' tests. A module
 * may use any module below it in that chain, never one above.
 *
 * <p>A module whose packages hold no class yet (shipping, the client) is allowed: the rules that
 * use this table pass on it and apply as soon as classes appear. A new module gets a row here (and
 * a test dependency in this module's pom).
 */
enum FerryModule {
  SNAPSHOT("snapshot", List.of("dev.ferry.snapshot")),
  STATEMACHINE("statemachine", List.of("dev.ferry.statemachine"), SNAPSHOT),
  SHIPPING("shipping", List.of("dev.ferry.shipping"), SNAPSHOT, STATEMACHINE),
  RAFT_INTEGRATION(
      "raft-integration",
      List.of("dev.ferry.raft", "dev.ferry.client"),
      SNAPSHOT,
      STATEMACHINE,
      SHIPPING),
  TESTING(
      "testing", List.of("dev.ferry.testing"), SNAPSHOT, STATEMACHINE, SHIPPING, RAFT_INTEGRATION),
  KVSTORE("kvstore", List.of("dev.ferry.kv"), SNAPSHOT, STATEMACHINE, SHIPPING, RAFT_INTEGRATION),
  CHAOS_TESTS(
      "chaos-tests",
      List.of("dev.ferry.chaos"),
      SNAPSHOT,
      STATEMACHINE,
      SHIPPING,
      RAFT_INTEGRATION,
      TESTING,
      KVSTORE),
  BENCHMARKS(
      "benchmarks",
      List.of("dev.ferry.bench"),
      SNAPSHOT,
      STATEMACHINE,
      SHIPPING,
      RAFT_INTEGRATION,
      TESTING,
      KVSTORE,
      CHAOS_TESTS),
  EXAMPLES("examples", List.of("dev.ferry.examples"), STATEMACHINE, SHIPPING, RAFT_INTEGRATION);

  /** The module's directory, also its artifact id after {@code ferry-}. */
  final String directory;

  /** Its top packages (no trailing dots): it owns these and everything below them. */
  final List<String> packages;

  /** The modules it may depend on. */
  final List<FerryModule> below;

  FerryModule(String directory, List<String> packages, FerryModule... below) {
    this.directory = directory;
    this.packages = packages;
    this.below = List.of(below);
  }

  /** ArchUnit package patterns for everything the module owns, e.g. {@code dev.ferry.kv..}. */
  String[] packagePatterns() {
    return packages.stream().map(p -> p + "..").toArray(String[]::new);
  }

  /** The module whose packages hold {@code javaClass}, if any. */
  static Optional<FerryModule> of(JavaClass javaClass) {
    return ofPackage(javaClass.getBaseComponentType().getPackageName());
  }

  /** The module owning {@code packageName}, if any. */
  static Optional<FerryModule> ofPackage(String packageName) {
    return Arrays.stream(values())
        .filter(m -> m.packages.stream().anyMatch(p -> within(packageName, p)))
        .findFirst();
  }

  /** The top package of this module that holds {@code packageName}. */
  String topPackageOf(String packageName) {
    return packages.stream()
        .filter(p -> within(packageName, p))
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException(packageName + " is not in " + this));
  }

  /** Every module's package patterns, for rules about all of Ferry. */
  static String[] allPackagePatterns() {
    return Arrays.stream(values())
        .flatMap(m -> Arrays.stream(m.packagePatterns()))
        .toArray(String[]::new);
  }

  private static boolean within(String packageName, String top) {
    return packageName.equals(top) || packageName.startsWith(top + ".");
  }

  @Override
  public String toString() {
    return directory;
  }
}

package dev.ferry.architecture;

import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.library.dependencies.SliceAssignment;
import com.tngtech.archunit.library.dependencies.SliceIdentifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * No cycles between the packages of a module: a module's top package and each package directly
 * below it (with everything below that) form one slice each, e.g. {@code raft}, {@code raft.admin},
 * {@code raft.internal}; no two slices may depend on each other, directly or around a loop.
 */
@AnalyzeClasses(packages = "dev.ferry", importOptions = MainClasses.class)
class PackageCyclesTest {
  /**
   * Cycles that are known and tolerated, keyed by their slices from the smallest name on (as {@link
   * #cycleKey} writes them). Each goes when its reason does; the check fails once an entry no
   * longer occurs, so that it is deleted.
   */
  static final Map<String, String> KNOWN_CYCLES =
      Map.of(
          "raft -> raft.admin",
          "FerryServer, MemberService and NodeCounters use admin's AdminServer, MembershipAdmin and"
              + " request/result records, while admin uses ClusterSecret, TlsFiles and RaftPeers;"
              + " the class-level FerryServer <-> MembershipAdmin cycle is broken (MemberService.Host);"
              + " admin runs on the chunk service's pipeline now, and the package-level cycle goes"
              + " when those three leave the raft package");

  @ArchTest
  static void noCyclesBetweenAModulesPackages(JavaClasses classes) {
    ArchRule rule = slices().assignedFrom(new ModulePackages()).should().beFreeOfCycles();
    KnownViolations.check(rule, classes, PackageCyclesTest::cycleKey, KNOWN_CYCLES);
  }

  /**
   * The slices of a cycle ArchUnit describes as {@code "Cycle detected: Slice b -> Slice a -> Slice
   * b\n 1. Dependencies..."}, joined with {@code " -> "} and turned to start at the smallest name:
   * {@code "a -> b"}. The same cycle gets the same key wherever ArchUnit starts it.
   */
  static String cycleKey(String detail) {
    int end = detail.indexOf("1. Dependencies");
    String head = (end < 0 ? detail : detail.substring(0, end)).replace("Cycle detected:", "");
    List<String> slices =
        Arrays.stream(head.split("->")).map(s -> s.strip().replaceFirst("^Slice ", "")).toList();
    List<String> ring = new ArrayList<>(slices.subList(0, slices.size() - 1));
    Collections.rotate(ring, -ring.indexOf(Collections.min(ring)));
    return String.join(" -> ", ring);
  }

  /** Slices: a module's top package, and each package directly below it with its subpackages. */
  private static final class ModulePackages implements SliceAssignment {
    @Override
    public SliceIdentifier getIdentifierOf(JavaClass javaClass) {
      String pkg = javaClass.getPackageName();
      return FerryModule.ofPackage(pkg)
          .map(
              module -> {
                String top = module.topPackageOf(pkg);
                String rest = pkg.substring(top.length());
                String slice = top.substring("dev.ferry.".length());
                if (!rest.isEmpty()) {
                  int dot = rest.indexOf('.', 1);
                  slice += dot < 0 ? rest : rest.substring(0, dot);
                }
                return SliceIdentifier.of(slice);
              })
          .orElse(SliceIdentifier.ignore());
    }

    @Override
    public String getDescription() {
      return "each module's top package and the packages directly below it";
    }
  }
}

package dev.ferry.architecture;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;
import dev.ferry.snapshot.Sha256Hash;
import dev.ferry.snapshot.format.ManifestRoot;

/** Names say what a thing is (STYLE.md), and the few open class hierarchies stay closed. */
@AnalyzeClasses(packages = "dev.ferry", importOptions = MainClasses.class)
class NamingRulesTest {
  /** No {@code *Impl}, {@code *Util} or {@code *Utils} classes: name the thing, not its role. */
  @ArchTest
  static final ArchRule noImplOrUtilClasses =
      noClasses()
          .should()
          .haveSimpleNameEndingWith("Impl")
          .orShould()
          .haveSimpleNameEndingWith("Util")
          .orShould()
          .haveSimpleNameEndingWith("Utils")
          .because(
              "names are nouns that say what a thing is, never *Impl or Util drawers (STYLE.md)");

  /**
   * {@link Sha256Hash} is public so that {@link ManifestRoot}, in another package, can extend it;
   * nothing but it and {@code ChunkId} may.
   */
  @ArchTest
  static final ArchRule onlyChunkIdAndManifestRootAreSha256Hashes =
      classes()
          .that()
          .areAssignableTo(Sha256Hash.class)
          .should()
          .haveNameMatching("dev\\.ferry\\.snapshot\\.(Sha256Hash|ChunkId|format\\.ManifestRoot)")
          .because("Sha256Hash's only subclasses are ChunkId and ManifestRoot");
}

package dev.ferry.architecture;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.core.importer.Location;
import java.util.regex.Pattern;

/**
 * Imports only Ferry's main classes: a module's {@code target/classes} (when the reactor resolves a
 * module to its classes directory) or its main jar (when it resolves to the packaged jar), never
 * test classes or test jars ({@code target/test-classes}, {@code *-tests.jar}), whatever the build
 * phase.
 */
public final class MainClasses implements ImportOption {
  private static final Pattern MAIN_JAR =
      Pattern.compile(".*/ferry-[a-z-]+-[^/]*(?<!-tests)\\.jar!/.*");

  @Override
  public boolean includes(Location location) {
    if (location.isJar()) {
      return location.matches(MAIN_JAR);
    }
    return location.contains("/target/classes/");
  }
}

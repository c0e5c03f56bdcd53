package dev.ferry.architecture;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.lang.ArchRule;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Checks a rule against a documented list of violations that the build knows of and tolerates until
 * their fix lands. Each entry is the key of one violation (what {@code keyOf} makes of the
 * violation's description), mapped to why it is tolerated and what removes it.
 *
 * <p>The check fails on any violation whose key has no entry (a new one), and on any entry whose
 * key no violation has (fixed: delete the entry, so that the violation cannot come back unnoticed).
 * The failure message lists both, in full.
 */
final class KnownViolations {
  private KnownViolations() {}

  static void check(
      ArchRule rule,
      JavaClasses classes,
      Function<String, String> keyOf,
      Map<String, String> known) {
    List<String> details = rule.evaluate(classes).getFailureReport().getDetails();
    Set<String> keys = details.stream().map(keyOf).collect(Collectors.toSet());
    List<String> unknown =
        details.stream().filter(d -> !known.containsKey(keyOf.apply(d))).toList();
    List<String> fixed = known.keySet().stream().filter(k -> !keys.contains(k)).sorted().toList();
    StringBuilder failure = new StringBuilder();
    if (!unknown.isEmpty()) {
      failure
          .append("Rule '")
          .append(rule.getDescription())
          .append("' was violated ")
          .append(unknown.size())
          .append(" time(s) beyond its known violations:\n")
          .append(String.join("\n", unknown))
          .append('\n');
    }
    if (!fixed.isEmpty()) {
      failure
          .append("Known violations of '")
          .append(rule.getDescription())
          .append("' no longer occur; delete their entries from the list:\n")
          .append(fixed.stream().map(k -> "  " + k).collect(Collectors.joining("\n")))
          .append('\n');
    }
    if (failure.length() > 0) {
      throw new AssertionError(failure.toString());
    }
  }
}

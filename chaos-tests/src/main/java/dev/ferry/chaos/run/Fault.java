package dev.ferry.chaos.run;

import java.util.Locale;
import java.util.Objects;

/**
 * A fault a nemesis injected, and how it was healed, for a run's summary.
 *
 * @param nemesis the nemesis's name
 * @param injected what the nemesis did
 * @param healed what healing did ({@code null} while in place)
 * @param atMillis when it was injected, since the workload started
 * @param healedAtMillis when it was healed, since the workload started ({@code -1} while in place)
 */
public record Fault(
    String nemesis, String injected, String healed, long atMillis, long healedAtMillis) {
  public Fault {
    Objects.requireNonNull(nemesis, "nemesis");
    Objects.requireNonNull(injected, "injected");
  }

  /** Whether the nemesis actually did something (it says "nothing…" when it could not). */
  public boolean effective() {
    return !injected.startsWith("nothing");
  }

  /** This fault, healed. */
  Fault healed(String how, long atMillis) {
    return new Fault(nemesis, injected, how, this.atMillis, atMillis);
  }

  @Override
  public String toString() {
    return String.format(
        Locale.ROOT,
        "%7.1fs %-26s %s%s",
        atMillis / 1000.0,
        nemesis,
        injected,
        healed == null
            ? ""
            : String.format(
                Locale.ROOT,
                " | %.1fs %s",
                healedAtMillis / 1000.0,
                healed.isEmpty() ? "-" : healed));
  }
}

package dev.ferry.chaos.workload;

import java.time.Duration;
import java.util.Objects;

/**
 * How hard and on what a {@link Workload} runs.
 *
 * @param clients concurrent client threads, {@code >= 1}
 * @param registers register keys the clients read, write and compare-and-set, {@code >= 1}
 * @param opTimeout deadline of one operation, retries included; a write still unanswered then is
 *     recorded UNKNOWN
 * @param thinkTime mean pause of a client between two operations (uniform in [0, 2 × mean]), which
 *     keeps histories small enough to check
 */
public record WorkloadConfig(int clients, int registers, Duration opTimeout, Duration thinkTime) {
  public WorkloadConfig {
    Objects.requireNonNull(opTimeout, "opTimeout");
    Objects.requireNonNull(thinkTime, "thinkTime");
    if (clients < 1) {
      throw new IllegalArgumentException("clients must be >= 1: " + clients);
    }
    if (registers < 1) {
      throw new IllegalArgumentException("registers must be >= 1: " + registers);
    }
    if (opTimeout.isNegative() || opTimeout.isZero()) {
      throw new IllegalArgumentException("opTimeout must be positive: " + opTimeout);
    }
    if (thinkTime.isNegative()) {
      throw new IllegalArgumentException("thinkTime must not be negative: " + thinkTime);
    }
  }

  /** Defaults for a 2-core machine: 5 clients, 4 registers, 5 s timeout, 20 ms think time. */
  public static WorkloadConfig defaults() {
    return new WorkloadConfig(5, 4, Duration.ofSeconds(5), Duration.ofMillis(20));
  }
}

package dev.ferry.chaos.harness;

import dev.ferry.kv.KvClient;
import dev.ferry.kv.cluster.NodeMeasures;
import dev.ferry.kv.cluster.Progress;
import dev.ferry.statemachine.DigestAt;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Whether the replicas of a healed cluster agree, in two steps:
 *
 * <ol>
 *   <li>a digest checkpoint written through the log: every member (voters and listeners of the
 *       leader's configuration) must record the same digest at the checkpoint's index (term, index
 *       and digest equal);
 *   <li>then, with no more writes, every member must reach the same applied index and the same
 *       digest there.
 * </ol>
 *
 * Each step waits on progress (members' applied indices and stored bytes), not on a fixed deadline,
 * so that a slow machine is not taken for a stuck cluster. Blocks the calling thread; called after
 * the workload stopped and every fault was healed.
 */
public final class Convergence {
  private Convergence() {}

  /**
   * The outcome.
   *
   * @param converged whether every member agreed
   * @param members the members checked
   * @param checkpoint the digest the checkpoint recorded on the replica that applied it for us
   * @param applied each member's final applied index and digest (what it reported last)
   * @param detail what disagreed, or a one-line description of the agreement
   */
  public record Result(
      boolean converged,
      List<String> members,
      DigestAt checkpoint,
      Map<String, DigestAt> applied,
      String detail) {
    public Result {
      members = List.copyOf(members);
      applied = Map.copyOf(applied);
      Objects.requireNonNull(detail, "detail");
    }
  }

  /** How many stall timeouts the whole wait may take at most, progress or not. */
  static final int CAP_STALLS = 4;

  /**
   * Waits for the cluster to agree; members that do not run are started first. The wait is on
   * progress: it gives up when no member's applied index or stored bytes changed for {@code stall}
   * (a slow machine slows convergence; a stuck cluster stops moving), or after {@value #CAP_STALLS}
   * times {@code stall} in all. Finding a leader waits {@code stall} at most.
   */
  public static Result await(ChaosCluster c, Duration stall) throws IOException {
    long start = System.nanoTime();
    ChaosCluster.Configuration conf;
    try {
      conf = Await.value(stall, () -> c.configuration().orElse(null), "a leader");
    } catch (java.util.concurrent.TimeoutException e) {
      return new Result(false, List.of(), null, Map.of(), "no leader within " + stall);
    }
    for (String m : conf.members()) {
      if (!c.isAlive(m)) {
        c.start(m);
      }
    }
    return awaitMembers(c, conf.members(), c::client, stall, start);
  }

  /**
   * {@link #await} for one group of a sharded cluster: its {@code members} (the voters and
   * listeners its leader reports; each must run) must agree at a digest checkpoint of the group and
   * then at one applied index and digest. Same waiting rules as {@link #await}.
   */
  public static Result awaitGroup(
      ChaosCluster c, String group, List<String> members, Duration stall) throws IOException {
    return awaitMembers(
        c, members, timeout -> c.groupClient(group, members, timeout), stall, System.nanoTime());
  }

  private static Result awaitMembers(
      ChaosCluster c,
      List<String> members,
      Function<Duration, KvClient> clients,
      Duration stall,
      long start)
      throws IOException {
    Duration cap = stall.multipliedBy(CAP_STALLS);
    long id = new Random().nextLong() & Long.MAX_VALUE;
    IOException[] last = {null};
    try (KvClient k = clients.apply(Duration.ofSeconds(10));
        KvClient probe = clients.apply(Duration.ofSeconds(2))) {
      Supplier<Map<String, List<Long>>> moving =
          () -> {
            Map<String, List<Long>> m = new LinkedHashMap<>();
            for (String member : members) {
              m.put(
                  member,
                  List.of(
                      NodeMeasures.applied(probe, member), NodeMeasures.bytes(c.dataDir(member))));
            }
            return m;
          };
      DigestAt ref;
      try {
        ref =
            Progress.await(
                    "a digest checkpoint written (applied index and bytes per member)",
                    () -> new Step<>(attempt(() -> k.checkpoint(id), last), moving.get()),
                    step -> step.value() != null,
                    stall,
                    left(cap, start))
                .value();
      } catch (TimeoutException e) {
        return new Result(
            false,
            members,
            null,
            Map.of(),
            "no checkpoint written: " + e.getMessage() + ": " + last[0]);
      }
      List<String> problems = new ArrayList<>();
      for (String m : members) {
        DigestAt d;
        try {
          d =
              Progress.await(
                      m + " to reach the checkpoint at index " + ref.index(),
                      () ->
                          new Step<>(
                              attempt(() -> k.checkpointOn(m, id, ref.index()), last),
                              moving.get()),
                      step -> step.value() != null,
                      stall,
                      left(cap, start))
                  .value();
        } catch (TimeoutException e) {
          problems.add(m + " did not reach the checkpoint: " + e.getMessage() + ": " + last[0]);
          continue;
        }
        if (!d.equals(ref)) {
          problems.add(m + " recorded " + describe(d) + " at the checkpoint, not " + describe(ref));
        }
      }
      if (!problems.isEmpty()) {
        return new Result(false, members, ref, Map.of(), String.join("; ", problems));
      }
      Map<String, DigestAt> applied = new LinkedHashMap<>();
      try {
        Progress.await(
            "every member at the same applied index and digest",
            () -> {
              applied.clear();
              for (String m : members) {
                DigestAt d = attempt(() -> probe.digestOn(m), last);
                if (d != null) {
                  applied.put(m, d);
                }
              }
              return Map.copyOf(applied);
            },
            now -> now.size() == members.size() && now.values().stream().distinct().count() == 1,
            stall,
            left(cap, start));
      } catch (TimeoutException e) {
        StringBuilder s = new StringBuilder("applied indices or digests differ:");
        applied.forEach((m, d) -> s.append(' ').append(m).append('=').append(describe(d)));
        return new Result(false, members, ref, applied, s + " (" + e.getMessage() + ")");
      }
      DigestAt d = applied.values().iterator().next();
      return new Result(
          true,
          members,
          ref,
          applied,
          members.size()
              + " replicas agree at the checkpoint (index "
              + ref.index()
              + ") and at applied index "
              + d.index()
              + ", digest "
              + shortHex(d));
    }
  }

  /** A step's outcome (null: not yet) beside the measure of the cluster's progress. */
  private record Step<T>(T value, Map<String, List<Long>> progress) {}

  /** A client call that may fail. */
  @FunctionalInterface
  private interface Call<T> {
    T run() throws IOException;
  }

  /** The call's result, or null if it failed (the failure goes to {@code last[0]}). */
  private static <T> T attempt(Call<T> call, IOException[] last) {
    try {
      return call.run();
    } catch (IOException e) {
      last[0] = e;
      return null;
    }
  }

  private static Duration left(Duration cap, long start) {
    Duration d = cap.minusNanos(System.nanoTime() - start);
    return d.isNegative() || d.isZero() ? Duration.ofNanos(1) : d;
  }

  private static String describe(DigestAt d) {
    return "(term " + d.term() + ", index " + d.index() + ", " + shortHex(d) + ")";
  }

  private static String shortHex(DigestAt d) {
    String hex = d.digest().toHex();
    return hex.substring(0, Math.min(12, hex.length()));
  }
}

package dev.ferry.chaos.harness;

import dev.ferry.kv.KvClient;
import dev.ferry.statemachine.CommandCodec;
import dev.ferry.statemachine.DigestAt;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;

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
 * Blocks the calling thread; called after the workload stopped and every fault was healed.
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

  /**
   * Waits up to {@code timeout} for the cluster to agree; members that do not run are started
   * first.
   */
  public static Result await(ChaosCluster c, Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    ChaosCluster.Configuration conf;
    try {
      conf = Await.value(timeout, () -> c.configuration().orElse(null), "a leader");
    } catch (java.util.concurrent.TimeoutException e) {
      return new Result(false, List.of(), null, Map.of(), "no leader within " + timeout);
    }
    for (String m : conf.members()) {
      if (!c.isAlive(m)) {
        c.start(m);
      }
    }
    List<String> members = conf.members();
    long id = new Random().nextLong() & Long.MAX_VALUE;
    try (KvClient k = c.client(Duration.ofSeconds(10))) {
      DigestAt ref = null;
      IOException last = null;
      while (ref == null && System.nanoTime() - deadline < 0) {
        try {
          ref = k.checkpoint(id);
        } catch (IOException e) {
          last = e;
        }
      }
      if (ref == null) {
        return new Result(false, members, null, Map.of(), "no checkpoint written: " + last);
      }
      List<String> problems = new ArrayList<>();
      for (String m : members) {
        DigestAt d = null;
        while (d == null && System.nanoTime() - deadline < 0) {
          try {
            d = k.checkpointOn(m, id, ref.index());
          } catch (IOException e) {
            last = e;
          }
        }
        if (d == null) {
          problems.add(m + " did not reach the checkpoint at index " + ref.index() + ": " + last);
        } else if (!d.equals(ref)) {
          problems.add(m + " recorded " + describe(d) + " at the checkpoint, not " + describe(ref));
        }
      }
      if (!problems.isEmpty()) {
        return new Result(false, members, ref, Map.of(), String.join("; ", problems));
      }
      Map<String, DigestAt> applied = new LinkedHashMap<>();
      while (true) {
        applied.clear();
        for (String m : members) {
          try {
            applied.put(m, digestOf(k, m));
          } catch (IOException e) {
            applied.remove(m);
          }
        }
        boolean agree =
            applied.size() == members.size() && applied.values().stream().distinct().count() == 1;
        if (agree) {
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
        if (System.nanoTime() - deadline > 0) {
          StringBuilder s = new StringBuilder("applied indices or digests differ:");
          applied.forEach((m, d) -> s.append(' ').append(m).append('=').append(describe(d)));
          return new Result(false, members, ref, applied, s.toString());
        }
        try {
          Thread.sleep(200);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new java.io.InterruptedIOException("interrupted");
        }
      }
    }
  }

  /** A member's applied index and digest there, read from that member alone. */
  private static DigestAt digestOf(KvClient k, String member) throws IOException {
    RaftClientReply r =
        k.raftClient()
            .io()
            .sendStaleRead(
                Message.valueOf(ByteString.copyFrom(CommandCodec.digestQuery())),
                0,
                RaftPeerId.valueOf(member));
    if (!r.isSuccess()) {
      throw new IOException(member + ": " + r.getException());
    }
    return CommandCodec.decodeDigestReply(r.getMessage().getContent().toByteArray());
  }

  private static String describe(DigestAt d) {
    return "(term " + d.term() + ", index " + d.index() + ", " + shortHex(d) + ")";
  }

  private static String shortHex(DigestAt d) {
    String hex = d.digest().toHex();
    return hex.substring(0, Math.min(12, hex.length()));
  }
}

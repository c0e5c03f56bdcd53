package dev.ferry.chaos.nemesis;

import dev.ferry.chaos.harness.ChaosCluster;
import dev.ferry.kv.KvClient;
import dev.ferry.kv.admin.AddRequest;
import dev.ferry.kv.admin.MembershipAdmin;
import dev.ferry.kv.admin.RemoveRequest;
import dev.ferry.raft.PeerAddress;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * {@link Membership} through Ferry's Java admin API ({@link MembershipAdmin}, with its digest
 * gate), over a client of its own that knows every node of the cluster. One change at a time.
 */
public final class AdminMembership implements Membership {
  private final KvClient client;
  private final MembershipAdmin admin;
  private final Duration deadline;

  /** An admin of {@code cluster} whose changes may each take up to {@code deadline}. */
  public AdminMembership(ChaosCluster cluster, Duration deadline) {
    this.client = cluster.client(Duration.ofSeconds(10));
    this.admin = MembershipAdmin.create(client);
    this.deadline = deadline;
  }

  @Override
  public CompletableFuture<String> add(PeerAddress node) {
    return admin
        .addMember(new AddRequest(node, deadline))
        .thenApply(
            r ->
                "added " + r.nodeId() + " (digest verified at index " + r.verified().index() + ")");
  }

  @Override
  public CompletableFuture<String> remove(String nodeId) {
    return admin
        .removeMember(new RemoveRequest(nodeId, deadline))
        .thenApply(
            r ->
                r.outcome()
                    + " "
                    + r.nodeId()
                    + (r.leadershipTransferred() ? " (leadership transferred)" : ""));
  }

  @Override
  public void close() throws IOException {
    client.close();
  }
}

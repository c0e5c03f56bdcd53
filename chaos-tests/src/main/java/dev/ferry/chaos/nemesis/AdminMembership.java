package dev.ferry.chaos.nemesis;

import dev.ferry.chaos.harness.ChaosCluster;
import dev.ferry.chaos.harness.NetworkMode;
import dev.ferry.kv.KvClient;
import dev.ferry.raft.admin.AddRequest;
import dev.ferry.raft.admin.MembershipAdmin;
import dev.ferry.raft.admin.RemoveRequest;
import dev.ferry.shipping.PeerAddress;
import java.io.IOException;
import java.io.UncheckedIOException;
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

  /**
   * An admin of {@code cluster} whose changes may each take up to {@code deadline}. On network
   * namespaces it also talks to the nodes' admin services with the cluster secret (a removed node
   * is told to stop); behind the proxy, whose host names only the nodes resolve, it does not.
   */
  public AdminMembership(ChaosCluster cluster, Duration deadline) {
    this.client = cluster.client(Duration.ofSeconds(10));
    MembershipAdmin.Builder b = MembershipAdmin.builder(client.raftClient(), client.group());
    if (cluster.mode() == NetworkMode.NETNS) {
      try {
        b.secret(cluster.secret());
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    this.admin = b.build();
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
    admin.close();
    client.close();
  }
}

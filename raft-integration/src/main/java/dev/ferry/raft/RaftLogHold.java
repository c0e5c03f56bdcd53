package dev.ferry.raft;

import dev.ferry.client.internal.RaftTransport;
import dev.ferry.shipping.install.LogHold;
import dev.ferry.statemachine.CommandCodec;
import dev.ferry.statemachine.Reply;
import dev.ferry.statemachine.ReplyStatus;
import dev.ferry.statemachine.RetentionHold;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;

/**
 * This node's log-retention hold, proposed as hold records through the group's leader over a Ratis
 * client of its own (created on first use; its sends follow leader redirects). Thread-safe.
 */
final class RaftLogHold implements LogHold, AutoCloseable {
  private final String owner;
  private final Supplier<RaftGroup> group;
  private final Supplier<RaftPeerId> leader;
  private final Parameters parameters;
  private RaftClient client;
  private boolean closed;

  /**
   * @param owner this node's id: the hold's owner
   * @param group the Raft group, read at the first use
   * @param leader the leader this node knows of (or null), read at the first use: the hold's first
   *     request goes there rather than to the group's first peer
   * @param parameters Ratis client parameters (TLS), or null
   */
  RaftLogHold(
      String owner, Supplier<RaftGroup> group, Supplier<RaftPeerId> leader, Parameters parameters) {
    this.owner = owner;
    this.group = group;
    this.leader = leader;
    this.parameters = parameters;
  }

  @Override
  public CompletableFuture<RetentionHold> renew(long floor) {
    return send(CommandCodec.holdRenew(owner, floor))
        .thenApply(
            payload -> {
              if (payload.length == 0) {
                throw new IllegalStateException("no hold recorded for " + owner);
              }
              return CommandCodec.decodeHoldReply(payload);
            });
  }

  @Override
  public CompletableFuture<Void> release() {
    return send(CommandCodec.holdRelease(owner)).thenApply(p -> null);
  }

  private CompletableFuture<byte[]> send(byte[] command) {
    RaftClient c;
    try {
      c = client();
    } catch (IOException | RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
    return c.async()
        .send(Message.valueOf(ByteString.copyFrom(command)))
        .thenApply(
            r -> {
              if (!r.isSuccess()) {
                throw new IllegalStateException("hold record not committed: " + r.getException());
              }
              Reply reply = CommandCodec.decodeReply(r.getMessage().getContent().toByteArray());
              if (reply.status() != ReplyStatus.OK) {
                throw new IllegalStateException("hold record refused: " + reply);
              }
              return reply.payload();
            });
  }

  private synchronized RaftClient client() throws IOException {
    if (closed) {
      throw new IOException("closed");
    }
    if (client == null) {
      client = RaftTransport.newRaftClient(group.get(), leader.get(), parameters);
    }
    return client;
  }

  @Override
  public synchronized void close() throws IOException {
    closed = true;
    if (client != null) {
      client.close();
    }
  }
}

package dev.ferry.kv.cli;

import dev.ferry.client.FerryClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ferry query INPUT}: a raw read-only query, linearizable or from one node. */
@Command(
    name = "query",
    description = {
      "Send a raw read-only query to the cluster's state machine (any Ferry state machine) and"
          + " print its answer: linearizable, or from one node's current state with --stale."
    })
final class QueryCommand extends RawCommand {
  @Option(
      names = "--stale",
      paramLabel = "NODE",
      description = "Ask node NODE's current state, without coordination (may be behind).")
  String staleNode;

  @Override
  byte[] send(FerryClient client, byte[] bytes) {
    return staleNode == null ? client.query(bytes) : client.queryStale(bytes, staleNode);
  }
}

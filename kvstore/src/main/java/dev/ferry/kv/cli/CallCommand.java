package dev.ferry.kv.cli;

import dev.ferry.client.FerryClient;
import picocli.CommandLine.Command;

/** {@code ferry call INPUT}: a raw command through the log, applied at most once. */
@Command(
    name = "call",
    description = {
      "Send a raw command to the cluster's state machine (any Ferry state machine) through the"
          + " replicated log, and print its reply. Applied at most once, even when retried."
    })
final class CallCommand extends RawCommand {
  @Override
  byte[] send(FerryClient client, byte[] bytes) {
    return client.submit(bytes);
  }
}

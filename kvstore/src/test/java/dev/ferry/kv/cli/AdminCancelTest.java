package dev.ferry.kv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.raft.admin.CancelResult;
import dev.ferry.statemachine.MembershipChange;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code ferry admin cancel}: its options and what it prints. */
class AdminCancelTest {
  private static final String PEERS = "n1=127.0.0.1:1:2";

  private record Run(int status, String out, String err) {}

  private static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int status = FerryCli.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
    return new Run(status, out.toString(), err.toString());
  }

  @Test
  void isAnAdminSubcommandWithTheConnectionOptionsOfTheOthers() {
    CommandLine admin = new CommandLine(new FerryCli()).getSubcommands().get("admin");
    CommandLine cancel = admin.getSubcommands().get("cancel");
    String usage = cancel.getUsageMessage();
    for (String option :
        new String[] {
          "--peers", "--cluster", "--secret-file", "--tls-cert", "--node", "--deadline"
        }) {
      assertTrue(usage.contains(option), option + " in:\n" + usage);
    }
    assertTrue(usage.contains("Exit 0 when cancelled or nothing was pending"), usage);
    assertTrue(admin.getUsageMessage().contains("cancel"), admin.getUsageMessage());
  }

  @Test
  void badArgumentsExitWithStatus2() {
    Run noPeers = run("admin", "cancel", "--node", "n4");
    assertEquals(2, noPeers.status());
    assertTrue(noPeers.err().contains("--peers"), noPeers.err());
    Run deadline = run("admin", "cancel", "--peers", PEERS, "--deadline", "0");
    assertEquals(2, deadline.status());
    assertTrue(deadline.err().contains("--deadline must be >= 1 second"), deadline.err());
    Run blank = run("admin", "cancel", "--peers", PEERS, "--node", " ");
    assertEquals(2, blank.status());
    assertTrue(blank.err().contains("nodeId must not be blank"), blank.err());
  }

  @Test
  void printsWhatWasCancelledOrThatNothingWasPending() {
    MembershipChange c =
        new MembershipChange(
                0xabcL,
                MembershipChange.Kind.ADD,
                "n4",
                "n4=127.0.0.1:5:6",
                MembershipChange.Phase.STARTED,
                2,
                70)
            .cancelled("ferry-cli via n1", 2, 91);
    assertEquals(
        "cancelled: add of n4 (change abc) cancelled by ferry-cli via n1 after it ran 12 s; n4"
            + " is out of the configuration and told to stop (undone in 5.0 s)",
        AdminCommand.Cancel.summary(
            new CancelResult(
                CancelResult.Outcome.CANCELLED,
                Optional.of(c),
                Optional.of(Duration.ofMillis(12_300)),
                Duration.ofSeconds(5))));
    assertEquals(
        "nothing to cancel: no membership change is pending",
        AdminCommand.Cancel.summary(
            new CancelResult(
                CancelResult.Outcome.NOTHING_PENDING,
                Optional.empty(),
                Optional.empty(),
                Duration.ofMillis(4))));
  }
}

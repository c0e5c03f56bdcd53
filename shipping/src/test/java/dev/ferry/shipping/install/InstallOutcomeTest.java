package dev.ferry.shipping.install;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ferry.shipping.metrics.InstallMetrics.Outcome;
import dev.ferry.snapshot.StateDigest;
import dev.ferry.snapshot.transfer.TransferAction;
import dev.ferry.statemachine.replica.DigestMismatchException;
import java.io.IOException;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

/** The reason label of {@code ferry_install_outcomes_total} for each way an install fails. */
class InstallOutcomeTest {

  @Test
  void failuresAreClassifiedByCauseAndPhase() {
    assertEquals(
        Outcome.NO_BASELINE,
        MultiSourceInstaller.outcomeOf(new IOException("no peer has a snapshot"), false));
    assertEquals(
        Outcome.TRANSFER_GAVE_UP,
        MultiSourceInstaller.outcomeOf(
            new MultiSourceInstaller.TransferGaveUpException(
                new TransferAction.GiveUp(
                    TransferAction.GiveUp.Reason.NO_SOURCES, "every source lost")),
            true));
    assertEquals(
        Outcome.DIGEST_MISMATCH,
        MultiSourceInstaller.outcomeOf(
            new CompletionException(
                new DigestMismatchException("snapshot", StateDigest.EMPTY, StateDigest.EMPTY)),
            true));
    assertEquals(Outcome.IO_ERROR, MultiSourceInstaller.outcomeOf(new IOException("disk"), true));
    assertEquals(
        Outcome.ERROR, MultiSourceInstaller.outcomeOf(new IllegalStateException("bug"), true));
  }
}

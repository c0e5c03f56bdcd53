package dev.ferry.statemachine.replica;

import static dev.ferry.statemachine.replica.TestMachines.bytes;
import static dev.ferry.statemachine.replica.TestMachines.encode;
import static dev.ferry.statemachine.replica.TestMachines.user;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.statemachine.ClientId;
import dev.ferry.statemachine.CommandCodec;
import dev.ferry.statemachine.DigestAt;
import dev.ferry.statemachine.MembershipChange;
import dev.ferry.statemachine.Reply;
import dev.ferry.statemachine.ReplyStatus;
import dev.ferry.statemachine.RetentionHold;
import dev.ferry.statemachine.StateMachine;
import dev.ferry.statemachine.StateMachineConfig;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ApplyCoreTest {
  private static final ClientId A = new ClientId(1, 2);
  private static final ClientId B = new ClientId(3, 4);

  private final List<ApplyCore.Capture> captures = new ArrayList<>();

  private ApplyCore core(StateMachine sm, StateMachineConfig config) {
    return new ApplyCore(sm, sm.layout(), config, Runnable::run, captures::add, "test");
  }

  private static Reply reply(ApplyCore core, long index, ByteBuffer entry) {
    return CommandCodec.decodeReply(core.apply(1, index, entry).join());
  }

  private static ByteBuffer hold(String owner, long floor) {
    return ByteBuffer.wrap(CommandCodec.holdRenew(owner, floor));
  }

  @Test
  void aRetentionHoldIsRenewedCountsTheLogItKeepsAndExpiresByLogIndex() {
    StateMachineConfig config = StateMachineConfig.builder().holdExpiryEntries(10).build();
    ApplyCore core = core(new TestMachines.Counter(), config);
    assertEquals(Long.MAX_VALUE, core.holdFloor(), "no hold yet");
    RetentionHold placed = CommandCodec.decodeHoldReply(reply(core, 1, hold("n4", 100)).payload());
    assertEquals(new RetentionHold("n4", 100, 1, 1, 0), placed);
    ByteBuffer cmd = user(A, 1, encode(1));
    int entry = cmd.remaining();
    reply(core, 2, cmd);
    RetentionHold renewed = CommandCodec.decodeHoldReply(reply(core, 3, hold("n4", 100)).payload());
    assertEquals(new RetentionHold("n4", 100, 1, 3, entry), renewed, "renewed, log bytes kept");
    assertEquals(100, core.holdFloor());
    assertEquals(1, core.holdsPlaced());
    // A lower floor of another owner wins; a new floor of the same owner is a new hold.
    reply(core, 4, hold("n5", 50));
    assertEquals(50, core.holdFloor());
    reply(core, 5, hold("n4", 120));
    assertEquals(3, core.holdsPlaced());
    reply(core, 6, ByteBuffer.wrap(CommandCodec.holdRelease("n5")));
    assertEquals(120, core.holdFloor(), "n5 released");
    // Not renewed for more than 10 entries: expired at index 16, the same on every replica.
    for (long i = 7; i <= 15; i++) {
      reply(core, i, user(A, i - 5, encode(0)));
    }
    assertEquals(120, core.holdFloor(), "10 entries after its renewal it still stands");
    reply(core, 16, user(A, 11, encode(0)));
    assertEquals(Long.MAX_VALUE, core.holdFloor(), "expired");
    assertEquals(1, core.holdsExpired());
    assertEquals(List.of(), core.holds());
  }

  @Test
  void aMalformedHoldIsRefusedAndChangesNothing() {
    ApplyCore core = core(new TestMachines.Counter(), StateMachineConfig.defaults());
    Reply r = reply(core, 1, ByteBuffer.wrap(new byte[] {CommandCodec.HOLD, 0x01, 0x00}));
    assertEquals(ReplyStatus.APPLY_FAILED, r.status());
    assertEquals(Long.MAX_VALUE, core.holdFloor());
    assertThrows(IllegalArgumentException.class, () -> CommandCodec.holdRenew("n1", -1));
    assertThrows(IllegalArgumentException.class, () -> CommandCodec.holdRelease(""));
  }

  @Test
  void aDuplicateCommandIsAppliedOnceAndGetsTheStoredReply() {
    TestMachines.Counter counter = new TestMachines.Counter();
    ApplyCore core = core(counter, StateMachineConfig.defaults());
    Reply first = reply(core, 1, user(A, 1, encode(5)));
    Reply again = reply(core, 2, user(A, 1, encode(5)));
    assertEquals(ReplyStatus.OK, first.status());
    assertArrayEquals(encode(5), first.payload());
    assertArrayEquals(first.payload(), again.payload(), "the stored reply");
    assertEquals(1, counter.applied, "applied once");
    assertEquals(5, counter.value());
    assertArrayEquals(encode(12), reply(core, 3, user(A, 2, encode(7))).payload());
    assertEquals(2, counter.applied);
  }

  @Test
  void anAcknowledgedSequenceIsRefusedNotApplied() {
    TestMachines.Counter counter = new TestMachines.Counter();
    ApplyCore core = core(counter, StateMachineConfig.defaults());
    reply(core, 1, user(A, 1, encode(1)));
    reply(core, 2, user(A, 2, encode(1))); // acknowledges 1
    Reply stale =
        CommandCodec.decodeReply(
            core.apply(1, 3, ByteBuffer.wrap(CommandCodec.userCommand(A, 1, 1, encode(1)))).join());
    assertEquals(ReplyStatus.STALE_SEQUENCE, stale.status());
    assertEquals(2, counter.applied);
  }

  @Test
  void aSessionIdleLongerThanTheLimitExpiresByLogIndex() {
    StateMachineConfig config = StateMachineConfig.builder().sessionIdleEntries(1000).build();
    TestMachines.Counter counter = new TestMachines.Counter();
    ApplyCore core = core(counter, config);
    reply(core, 1, user(A, 1, encode(1)));
    // B keeps the log moving; A is idle. Expiry is checked at multiples of 1024.
    long index = 2;
    for (long seq = 1; index <= ApplyCore.EXPIRY_CHECK_INTERVAL; seq++, index++) {
      reply(core, index, user(B, seq, encode(0)));
    }
    Reply expired = reply(core, index, user(A, 2, encode(1)));
    assertEquals(ReplyStatus.SESSION_EXPIRED, expired.status(), expired.toString());
    assertEquals(1, counter.value(), "the expired session's command was not applied");

    // Within the limit, the same idle time keeps the session.
    StateMachineConfig longer = StateMachineConfig.builder().sessionIdleEntries(5000).build();
    ApplyCore kept = core(new TestMachines.Counter(), longer);
    reply(kept, 1, user(A, 1, encode(1)));
    index = 2;
    for (long seq = 1; index <= ApplyCore.EXPIRY_CHECK_INTERVAL; seq++, index++) {
      reply(kept, index, user(B, seq, encode(0)));
    }
    assertEquals(ReplyStatus.OK, reply(kept, index, user(A, 2, encode(1))).status());
  }

  @Test
  void replicasFedTheSameCommandsHaveEqualDigests() {
    for (boolean reports : new boolean[] {true, false}) {
      List<ByteBuffer> log = randomLog(new SplittableRandom(7), reports);
      List<DigestAt> digests = new ArrayList<>();
      for (int replica = 0; replica < 2; replica++) {
        StateMachine sm = reports ? new TestMachines.MapMachine(false) : new TestMachines.Counter();
        ApplyCore core = core(sm, StateMachineConfig.defaults());
        long index = 1;
        for (ByteBuffer entry : log) {
          core.apply(1, index++, entry.duplicate()).join();
        }
        digests.add(core.digest().join());
      }
      assertEquals(digests.get(0), digests.get(1), "reports changes: " + reports);

      // One command more changes the digest.
      StateMachine sm = reports ? new TestMachines.MapMachine(false) : new TestMachines.Counter();
      ApplyCore other = core(sm, StateMachineConfig.defaults());
      long index = 1;
      for (ByteBuffer entry : log) {
        other.apply(1, index++, entry.duplicate()).join();
      }
      other.apply(1, index, user(new ClientId(9, 9), 1, payload(reports, 1))).join();
      assertNotEquals(digests.get(0).digest(), other.digest().join().digest());
    }
  }

  @Test
  void aCheckpointRecordsTheDigestAtItsIndex() {
    ApplyCore core = core(new TestMachines.MapMachine(false), StateMachineConfig.defaults());
    reply(core, 1, user(A, 1, bytes("put a 1")));
    Reply r = reply(core, 2, ByteBuffer.wrap(CommandCodec.digestCheckpoint(42)));
    DigestAt d = CommandCodec.decodeDigestReply(r.payload());
    assertEquals(2, d.index());
    assertEquals(d, core.checkpoint(42).orElseThrow());
    assertEquals(d, core.lastCheckpoint().orElseThrow());
    assertEquals(d.digest(), core.currentDigest().digest());
  }

  @Test
  void aSecondMembershipChangeConflictsWithThePendingOne() {
    ApplyCore core = core(new TestMachines.Counter(), StateMachineConfig.defaults());
    byte[] begin =
        CommandCodec.membershipBegin(7, MembershipChange.Kind.ADD, "n4", "127.0.0.1:1:2:3");
    assertEquals(ReplyStatus.OK, reply(core, 1, ByteBuffer.wrap(begin)).status());
    assertEquals(7, core.pendingChange().orElseThrow().id());
    byte[] other =
        CommandCodec.membershipBegin(8, MembershipChange.Kind.ADD, "n5", "127.0.0.1:4:5:6");
    assertEquals(ReplyStatus.CONFLICT, reply(core, 2, ByteBuffer.wrap(other)).status());
    reply(core, 3, ByteBuffer.wrap(CommandCodec.membershipEnd(7)));
    assertTrue(core.pendingChange().isEmpty());
  }

  /**
   * A begin fenced to a term applies only from an entry of that term: re-sent by a client to the
   * next leader (an entry of a later term), it records nothing; the same begin again, once pending,
   * is a no-op whatever the term; the change it records carries the entry's term.
   */
  @Test
  void aBeginFencedToATermAppliesOnlyInThatTerm() {
    ApplyCore core = core(new TestMachines.Counter(), StateMachineConfig.defaults());
    byte[] begin =
        CommandCodec.membershipBeginInTerm(
            3, 7, MembershipChange.Kind.ADD, "n5", "n5=127.0.0.1:1:2", "n3");
    Reply late = CommandCodec.decodeReply(core.apply(4, 1, ByteBuffer.wrap(begin)).join());
    assertEquals(ReplyStatus.CONFLICT, late.status(), late.toString());
    assertTrue(
        late.message().contains("term 3") && late.message().contains("term 4"), late.message());
    assertTrue(core.pendingChange().isEmpty(), "nothing recorded");

    Reply inTerm = CommandCodec.decodeReply(core.apply(3, 2, ByteBuffer.wrap(begin)).join());
    assertEquals(ReplyStatus.OK, inTerm.status(), inTerm.toString());
    MembershipChange c = core.pendingChange().orElseThrow();
    assertEquals(7, c.id());
    assertEquals(3, c.term());
    assertEquals("n3", c.replaces());
    Reply again = CommandCodec.decodeReply(core.apply(4, 3, ByteBuffer.wrap(begin)).join());
    assertEquals(ReplyStatus.OK, again.status(), "already pending: a no-op");
    assertEquals(c, core.pendingChange().orElseThrow());
    assertThrows(
        IllegalArgumentException.class,
        () -> CommandCodec.membershipBeginInTerm(0, 8, MembershipChange.Kind.ADD, "n6", "", ""));
  }

  /**
   * A cancel is the linearization point between an admin's cancel and the driver's verification:
   * whichever the log orders first wins. A cancelled add never advances again; a verified one
   * cannot be cancelled; a remove cannot be cancelled; cancelling twice is a no-op.
   */
  @Test
  void aCancelledAddNeverAdvancesAndAVerifiedOneCannotBeCancelled() {
    ApplyCore core = core(new TestMachines.Counter(), StateMachineConfig.defaults());
    ByteBuffer begin =
        ByteBuffer.wrap(
            CommandCodec.membershipBegin(7, MembershipChange.Kind.ADD, "n4", "n4=127.0.0.1:1:2"));
    assertEquals(ReplyStatus.OK, reply(core, 1, begin).status());
    Reply cancelled = reply(core, 2, ByteBuffer.wrap(CommandCodec.membershipCancel(7, "ops")));
    assertEquals(ReplyStatus.OK, cancelled.status());
    MembershipChange c = core.pendingChange().orElseThrow();
    assertEquals(MembershipChange.Phase.CANCELLED, c.phase());
    assertEquals("ops", c.cancelledBy());
    assertEquals(2, c.index());
    assertEquals(c, CommandCodec.decodeMembershipReply(cancelled.payload()));
    assertEquals(c, MembershipChange.decode(c.encode()), "the canceller travels in snapshots");
    ByteBuffer again = ByteBuffer.wrap(CommandCodec.membershipCancel(7, "someone else"));
    assertEquals(ReplyStatus.OK, reply(core, 3, again).status());
    assertEquals(c, core.pendingChange().orElseThrow(), "a second cancel changes nothing");
    ByteBuffer verify =
        ByteBuffer.wrap(CommandCodec.membershipAdvance(7, MembershipChange.Phase.VERIFIED));
    Reply refused = reply(core, 4, verify);
    assertEquals(ReplyStatus.CONFLICT, refused.status());
    assertTrue(refused.message().contains("cancelled by ops"), refused.message());
    assertEquals(c, core.pendingChange().orElseThrow());
    ByteBuffer other = ByteBuffer.wrap(CommandCodec.membershipCancel(8, "ops"));
    assertEquals(ReplyStatus.CONFLICT, reply(core, 5, other).status(), "not the pending one");
    reply(core, 6, ByteBuffer.wrap(CommandCodec.membershipEnd(7)));
    assertTrue(core.pendingChange().isEmpty());

    ByteBuffer add =
        ByteBuffer.wrap(CommandCodec.membershipBegin(9, MembershipChange.Kind.ADD, "n4", ""));
    reply(core, 7, add);
    reply(
        core,
        8,
        ByteBuffer.wrap(CommandCodec.membershipAdvance(9, MembershipChange.Phase.VERIFIED)));
    Reply late = reply(core, 9, ByteBuffer.wrap(CommandCodec.membershipCancel(9, "ops")));
    assertEquals(ReplyStatus.CONFLICT, late.status());
    assertTrue(late.message().contains("too late"), late.message());
    assertEquals(MembershipChange.Phase.VERIFIED, core.pendingChange().orElseThrow().phase());
    reply(core, 10, ByteBuffer.wrap(CommandCodec.membershipEnd(9)));

    ByteBuffer remove =
        ByteBuffer.wrap(CommandCodec.membershipBegin(10, MembershipChange.Kind.REMOVE, "n2", ""));
    reply(core, 11, remove);
    Reply noRemove = reply(core, 12, ByteBuffer.wrap(CommandCodec.membershipCancel(10, "ops")));
    assertEquals(ReplyStatus.CONFLICT, noRemove.status());
    assertEquals(MembershipChange.Phase.STARTED, core.pendingChange().orElseThrow().phase());
  }

  /**
   * A replica move is one change: an add that names the node it replaces. It is promoted only after
   * it was verified, never goes back, cannot be cancelled once verified, and a plain add or a
   * remove is never promoted. A begin written before the field existed still applies.
   */
  @Test
  void aReplacementIsPromotedOnlyAfterItsVerificationAndNeverGoesBack() {
    ApplyCore core = core(new TestMachines.Counter(), StateMachineConfig.defaults());
    byte[] begin =
        CommandCodec.membershipBegin(7, MembershipChange.Kind.ADD, "n5", "n5=h:1:2", "n2");
    assertEquals(ReplyStatus.OK, reply(core, 1, ByteBuffer.wrap(begin)).status());
    MembershipChange c = core.pendingChange().orElseThrow();
    assertEquals("n2", c.replaces());
    assertEquals(MembershipChange.Phase.STARTED, c.phase());
    assertEquals(ReplyStatus.OK, reply(core, 2, ByteBuffer.wrap(begin)).status(), "idempotent");
    assertEquals(c, core.pendingChange().orElseThrow());
    Reply early = reply(core, 3, advance(7, MembershipChange.Phase.PROMOTED));
    assertEquals(ReplyStatus.CONFLICT, early.status());
    assertTrue(early.message().contains("not verified"), early.message());
    assertEquals(
        ReplyStatus.OK, reply(core, 4, advance(7, MembershipChange.Phase.VERIFIED)).status());
    Reply promoted = reply(core, 5, advance(7, MembershipChange.Phase.PROMOTED));
    assertEquals(ReplyStatus.OK, promoted.status());
    MembershipChange p = core.pendingChange().orElseThrow();
    assertEquals(MembershipChange.Phase.PROMOTED, p.phase());
    assertEquals("n2", p.replaces());
    assertEquals(5, p.index());
    assertEquals(p, CommandCodec.decodeMembershipReply(promoted.payload()));
    assertEquals(
        ReplyStatus.OK, reply(core, 6, advance(7, MembershipChange.Phase.PROMOTED)).status());
    assertEquals(
        p.at(MembershipChange.Phase.PROMOTED, 1, 6),
        core.pendingChange().orElseThrow(),
        "promoted again (a next leader): the same change, at the new entry");
    Reply back = reply(core, 7, advance(7, MembershipChange.Phase.VERIFIED));
    assertEquals(ReplyStatus.CONFLICT, back.status());
    Reply cancel = reply(core, 8, ByteBuffer.wrap(CommandCodec.membershipCancel(7, "ops")));
    assertEquals(ReplyStatus.CONFLICT, cancel.status());
    assertTrue(cancel.message().contains("too late"), cancel.message());
    byte[] other = CommandCodec.membershipBegin(8, MembershipChange.Kind.ADD, "n6", "", "n3");
    assertEquals(ReplyStatus.CONFLICT, reply(core, 9, ByteBuffer.wrap(other)).status());
    assertEquals(MembershipChange.Phase.PROMOTED, core.pendingChange().orElseThrow().phase());
    reply(core, 10, ByteBuffer.wrap(CommandCodec.membershipEnd(7)));
    assertTrue(core.pendingChange().isEmpty());

    // A plain add (here begun by an older node's entry, without the field) is never promoted.
    ByteBuffer older =
        ByteBuffer.allocate(2 + 1 + 8 + 2 + 2 + 2)
            .put(CommandCodec.MEMBERSHIP)
            .put(CommandCodec.MEMBERSHIP_BEGIN)
            .put((byte) 0)
            .putLong(9)
            .putShort((short) 2)
            .put(bytes("n4"))
            .putShort((short) 0)
            .flip();
    assertEquals(ReplyStatus.OK, reply(core, 11, older).status());
    assertEquals("", core.pendingChange().orElseThrow().replaces());
    reply(core, 12, advance(9, MembershipChange.Phase.VERIFIED));
    assertEquals(
        ReplyStatus.CONFLICT,
        reply(core, 13, advance(9, MembershipChange.Phase.PROMOTED)).status());
    reply(core, 14, ByteBuffer.wrap(CommandCodec.membershipEnd(9)));

    // A begin whose replaces is invalid changes nothing.
    ByteBuffer self = ByteBuffer.wrap(begin.clone());
    self.put(self.limit() - 1, (byte) '5'); // replaces "n5": the node itself
    assertEquals(ReplyStatus.APPLY_FAILED, reply(core, 15, self).status());
    assertTrue(core.pendingChange().isEmpty());
  }

  private static ByteBuffer advance(long id, MembershipChange.Phase phase) {
    return ByteBuffer.wrap(CommandCodec.membershipAdvance(id, phase));
  }

  @Test
  void aCaptureHandsOverTheViewAndResetsTheCounters() {
    ApplyCore core = core(new TestMachines.MapMachine(false), StateMachineConfig.defaults());
    reply(core, 1, user(A, 1, bytes("put a 1")));
    assertEquals(1, core.commandsSinceCapture());
    reply(core, 2, ByteBuffer.wrap(CommandCodec.captureCommand()));
    assertEquals(1, captures.size());
    assertEquals(2, captures.get(0).job().index());
    assertEquals(core.currentDigest().digest(), captures.get(0).job().digest());
    assertEquals(0, core.commandsSinceCapture());
    reply(core, 3, ByteBuffer.wrap(CommandCodec.captureCommand()));
    assertEquals(1, captures.size(), "nothing applied since: no second capture");
  }

  @Test
  void aChangeThatWasNotReportedIsCaughtWithItsKey() throws Exception {
    StateMachineConfig verify = StateMachineConfig.builder().verifyReportedChanges(true).build();
    ApplyCore core = core(new TestMachines.MapMachine(true), verify);
    reply(core, 1, user(A, 1, bytes("put a 1")));
    reply(core, 2, ByteBuffer.wrap(CommandCodec.captureCommand()));
    captures.get(0).check().verify(); // everything reported so far

    reply(core, 3, user(A, 2, bytes("put quiet 2")));
    reply(core, 4, ByteBuffer.wrap(CommandCodec.captureCommand()));
    ChangeCheck check = captures.get(1).check();
    IllegalStateException e = assertThrows(IllegalStateException.class, check::verify);
    String hexKey = java.util.HexFormat.of().formatHex(bytes("quiet"));
    assertTrue(e.getMessage().contains("key " + hexKey), e.getMessage());
    assertTrue(e.getMessage().contains("as of index 4"), e.getMessage());

    // Off: no check is made.
    captures.clear();
    StateMachineConfig off = StateMachineConfig.builder().verifyReportedChanges(false).build();
    ApplyCore unchecked = core(new TestMachines.MapMachine(true), off);
    reply(unchecked, 1, user(A, 1, bytes("put quiet 2")));
    reply(unchecked, 2, ByteBuffer.wrap(CommandCodec.captureCommand()));
    assertNull(captures.get(0).check());
  }

  @Test
  void aThrowingApplyFailsTheRequestAndLeavesTheSessionUsable() {
    StateMachine throwing =
        new TestMachines.Counter() {
          @Override
          public byte[] apply(byte[] command, dev.ferry.statemachine.ApplyContext ctx) {
            if (command.length == 0) {
              throw new IllegalArgumentException("empty");
            }
            return super.apply(command, ctx);
          }
        };
    ApplyCore core = core(throwing, StateMachineConfig.defaults());
    assertEquals(ReplyStatus.APPLY_FAILED, reply(core, 1, user(A, 1, new byte[0])).status());
    assertEquals(ReplyStatus.OK, reply(core, 2, user(A, 2, encode(3))).status());
  }

  private static List<ByteBuffer> randomLog(SplittableRandom r, boolean map) {
    List<ByteBuffer> log = new ArrayList<>();
    long[] seqs = new long[3];
    for (int i = 0; i < 400; i++) {
      int c = r.nextInt(3);
      ClientId client = new ClientId(c, c);
      log.add(user(client, ++seqs[c], payload(map, r.nextInt(50))));
      if (r.nextInt(40) == 0) {
        log.add(ByteBuffer.wrap(CommandCodec.captureCommand()));
      }
    }
    return log;
  }

  private static byte[] payload(boolean map, int n) {
    if (!map) {
      return encode(n);
    }
    return bytes(n % 5 == 0 ? "del k" + n : "put k" + (n % 17) + " v" + n);
  }
}

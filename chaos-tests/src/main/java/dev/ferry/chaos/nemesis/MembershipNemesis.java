package dev.ferry.chaos.nemesis;

import dev.ferry.chaos.harness.ChaosCluster;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/**
 * Membership changes, started in the background so that other faults of the same round hit them
 * midway: with a spare node available and at most {@code maxVoters - 1} voters it adds the spare
 * (started fresh as a listener, then {@link Membership#add}); otherwise it removes a random voter
 * (possibly the leader) while more than {@code minVoters} remain.
 *
 * <p>With {@code crashLeader}, it also kills the leader with SIGKILL while the change is in
 * progress (after a random delay of up to two seconds) and restarts it on heal.
 *
 * <p>Heal waits for the change to finish, then tidies up: a node that is no longer a member (it was
 * removed, or its add failed and was rolled back) is killed and its storage wiped, so it can be
 * added afresh later. A failed change is reported, not a failure of the run: under faults a change
 * may rightly time out; what must hold is the data, which the checkers and the digest check verify.
 * Used by one scheduler thread.
 */
public final class MembershipNemesis implements Nemesis {
  private final Function<ChaosCluster, Membership> factory;
  private final boolean crashLeader;
  private final int minVoters;
  private final int maxVoters;
  private final Duration wait;
  private Membership membership;
  private CompletableFuture<String> pending;
  private String pendingWhat;
  private String subject;
  private String crashed;

  /**
   * A nemesis changing membership through the membership {@code factory} makes (once, on first
   * use), keeping the voters between {@code minVoters} and {@code maxVoters}.
   *
   * @param wait how long heal waits for a change to finish
   */
  public MembershipNemesis(
      Function<ChaosCluster, Membership> factory,
      boolean crashLeader,
      int minVoters,
      int maxVoters,
      Duration wait) {
    this.factory = Objects.requireNonNull(factory, "factory");
    this.crashLeader = crashLeader;
    if (minVoters < 1 || maxVoters <= minVoters) {
      throw new IllegalArgumentException(
          "need 1 <= minVoters < maxVoters: " + minVoters + ", " + maxVoters);
    }
    this.minVoters = minVoters;
    this.maxVoters = maxVoters;
    this.wait = Objects.requireNonNull(wait, "wait");
  }

  @Override
  public String name() {
    return crashLeader ? "membership-leader-crash" : "membership";
  }

  @Override
  public boolean supports(ChaosCluster cluster) {
    return cluster.nodes().size() > cluster.initialVoters().size();
  }

  @Override
  public String inject(ChaosCluster c, Random random) throws Exception {
    if (pending != null) {
      return "nothing: a change is still in progress";
    }
    Optional<ChaosCluster.Configuration> conf = c.configuration();
    if (conf.isEmpty()) {
      return "nothing: no leader";
    }
    if (membership == null) {
      membership = factory.apply(c);
    }
    List<String> voters = conf.get().voters();
    List<String> spares = new ArrayList<>();
    for (String id : c.nodes()) {
      if (!conf.get().members().contains(id) && !c.isAlive(id)) {
        spares.add(id);
      }
    }
    if (!spares.isEmpty() && voters.size() < maxVoters) {
      subject = Targets.any(spares, random);
      c.wipe(subject);
      c.startListener(subject);
      pendingWhat = "add " + subject;
      pending = membership.add(c.address(subject));
    } else if (voters.size() > minVoters) {
      subject = Targets.any(voters, random);
      pendingWhat = "remove " + subject;
      pending = membership.remove(subject);
    } else {
      return "nothing: " + voters.size() + " voters and no spare";
    }
    String what = pendingWhat + " started";
    if (crashLeader) {
      try {
        pending.get(random.nextInt(2000), TimeUnit.MILLISECONDS);
      } catch (TimeoutException | ExecutionException stillRunningOrFailed) {
        // crash the leader in either case
      }
      Optional<String> leader = c.leader();
      if (leader.isPresent()) {
        crashed = leader.get();
        c.kill(crashed);
        what += ", then killed leader " + crashed + (pending.isDone() ? " (after the change)" : "");
      } else {
        what += ", no leader to kill";
      }
    }
    return what;
  }

  @Override
  public String heal(ChaosCluster c) throws Exception {
    List<String> done = new ArrayList<>();
    if (crashed != null) {
      if (!c.isAlive(crashed)) {
        c.start(crashed);
        done.add("restarted " + crashed);
      }
      crashed = null;
    }
    if (pending == null) {
      return String.join("; ", done);
    }
    String outcome;
    try {
      outcome = pending.get(wait.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      outcome = pendingWhat + " still running after " + wait;
      done.add(outcome);
      return String.join("; ", done); // leave it pending: the next heal waits again
    } catch (ExecutionException | CompletionException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      outcome = pendingWhat + " failed: " + cause.getClass().getSimpleName();
    }
    done.add(outcome);
    pending = null;
    Optional<ChaosCluster.Configuration> conf = c.configuration();
    if (conf.isPresent() && !conf.get().members().contains(subject) && c.isAlive(subject)) {
      c.kill(subject);
      c.wipe(subject);
      done.add(subject + " is no member: stopped and wiped");
    }
    return String.join("; ", done);
  }

  /** Whether a change is still in progress (the final heal must wait for it). */
  public boolean busy() {
    return pending != null;
  }

  @Override
  public void close() throws java.io.IOException {
    if (membership != null) {
      membership.close();
    }
  }
}

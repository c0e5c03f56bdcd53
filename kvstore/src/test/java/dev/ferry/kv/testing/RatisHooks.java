package dev.ferry.kv.testing;

import org.apache.ratis.util.CodeInjectionForTesting;

/**
 * The names of Ratis 3.3.0's test hooks on a server's request handlers ({@link
 * CodeInjectionForTesting}, in Ratis's main jar), for ITs that make a node refuse one kind of
 * request. A hook's code gets the handling server's id, the sender's id and the request; throwing
 * from it fails the request. If a Ratis upgrade renames a hook, the ITs that use it fail at their
 * first wait: the state they build never appears.
 */
public final class RatisHooks {
  /** A follower's {@code appendEntriesAsync}; the request is the second argument. */
  public static final String APPEND_ENTRIES = "RaftServerImpl.appendEntries";

  /** A follower's snapshot-install handler. */
  public static final String INSTALL_SNAPSHOT = "RaftServerImpl.installSnapshot";

  /** A server's vote handler (pre-votes and votes). */
  public static final String REQUEST_VOTE = "RaftServerImpl.requestVote";

  private RatisHooks() {}

  /** Removes every hook this class names (an IT's {@code @AfterEach}). */
  public static void clear() {
    CodeInjectionForTesting.remove(APPEND_ENTRIES);
    CodeInjectionForTesting.remove(INSTALL_SNAPSHOT);
    CodeInjectionForTesting.remove(REQUEST_VOTE);
  }
}

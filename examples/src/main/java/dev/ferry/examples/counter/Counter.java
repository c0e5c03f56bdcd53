package dev.ferry.examples.counter;

import dev.ferry.statemachine.ApplyContext;
import dev.ferry.statemachine.StateLoader;
import dev.ferry.statemachine.StateMachine;
import dev.ferry.statemachine.StateView;
import java.nio.charset.StandardCharsets;

/**
 * A replicated counter, the whole server side. A command is a signed decimal delta ("5", "-2") and
 * its reply is the new value; any query returns the value. The state is one number, so a snapshot
 * is a single record.
 */
public final class Counter implements StateMachine {
  // Written on the apply thread, read by queries on any thread.
  private volatile long value;

  @Override
  public byte[] apply(byte[] command, ApplyContext ctx) {
    // A command that is not a number throws: the client gets APPLY_FAILED, the state is unchanged.
    value = Math.addExact(value, decode(command));
    return encode(value);
  }

  @Override
  public byte[] query(byte[] request) {
    return encode(value);
  }

  @Override
  public StateView view() {
    return StateView.singleRecord(encode(value));
  }

  @Override
  public StateLoader newLoader() {
    return StateLoader.singleRecord(v -> value = v == null ? 0 : decode(v));
  }

  static byte[] encode(long v) {
    return Long.toString(v).getBytes(StandardCharsets.UTF_8);
  }

  static long decode(byte[] bytes) {
    return Long.parseLong(new String(bytes, StandardCharsets.UTF_8));
  }
}

package dev.ferry.kv;

import dev.ferry.statemachine.ShardLayout;
import dev.ferry.statemachine.StateMachine;
import dev.ferry.statemachine.StateMachineProvider;
import java.util.Map;

/**
 * Runs the key-value store under {@code ferry server --state-machine kv} (the default). Option:
 * {@code shards=N}, the number of hash shards (default 16); the same on every replica for the life
 * of the data.
 */
public final class KvStateMachineProvider implements StateMachineProvider {

  /** For {@link java.util.ServiceLoader}. */
  public KvStateMachineProvider() {}

  @Override
  public Class<KvStateMachine> type() {
    return KvStateMachine.class;
  }

  @Override
  public String name() {
    return "kv";
  }

  @Override
  public StateMachine create(Map<String, String> options) {
    for (String key : options.keySet()) {
      if (!key.equals("shards")) {
        throw new IllegalArgumentException("unknown option of the kv state machine: " + key);
      }
    }
    String shards = options.get("shards");
    if (shards == null) {
      return new KvStateMachine();
    }
    int n;
    try {
      n = Integer.parseInt(shards);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("kv option shards is not a number: " + shards);
    }
    if (n < 1 || n > 4096) {
      throw new IllegalArgumentException("kv option shards out of range (1..4096): " + n);
    }
    return new KvStateMachine(ShardLayout.byHash(n));
  }
}

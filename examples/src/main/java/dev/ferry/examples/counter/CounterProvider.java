package dev.ferry.examples.counter;

import dev.ferry.statemachine.StateMachine;
import dev.ferry.statemachine.StateMachineProvider;
import java.util.Map;

/**
 * Lets {@code ferry server --state-machine counter} run the {@link Counter}; registered in {@code
 * META-INF/services/dev.ferry.statemachine.StateMachineProvider}.
 */
public final class CounterProvider implements StateMachineProvider {
  @Override
  public Class<Counter> type() {
    return Counter.class;
  }

  @Override
  public StateMachine create(Map<String, String> options) {
    if (!options.isEmpty()) {
      throw new IllegalArgumentException("the counter takes no options: " + options.keySet());
    }
    return new Counter();
  }
}

package dev.ferry.statemachine;

import java.util.Map;

/**
 * Builds a {@link StateMachine} by name, so that {@code ferry server --state-machine NAME} can run
 * it. Register an implementation with {@link java.util.ServiceLoader}: list its class name in
 * {@code META-INF/services/dev.ferry.statemachine.StateMachineProvider} of the jar (or classes
 * directory) that {@code --classpath} names. It needs a public no-argument constructor.
 *
 * <p>{@code ferry server} picks the provider whose {@link #type()} has the given name (fully
 * qualified or simple, e.g. {@code com.example.Counter} or {@code Counter}) or whose {@link
 * #name()} is the given name, and calls {@link #create} once, before the node starts, on the main
 * thread.
 */
public interface StateMachineProvider {

  /** The class of the state machines this provider builds. */
  Class<? extends StateMachine> type();

  /** A short name it also answers to on the command line; by default the type's simple name. */
  default String name() {
    return type().getSimpleName();
  }

  /**
   * Builds a state machine from the options given as {@code --sm-opt key=value}. Every replica must
   * be built with the same options where they affect the replicated state (the shard layout, for
   * one).
   *
   * @param options the options, in the order given; empty when none were given
   * @throws IllegalArgumentException naming the option, for an unknown option or a bad value
   */
  StateMachine create(Map<String, String> options);
}

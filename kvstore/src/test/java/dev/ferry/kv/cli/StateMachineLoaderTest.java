package dev.ferry.kv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.KvStateMachine;
import dev.ferry.statemachine.ApplyContext;
import dev.ferry.statemachine.StateLoader;
import dev.ferry.statemachine.StateMachine;
import dev.ferry.statemachine.StateView;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StateMachineLoaderTest {
  private static final ClassLoader OWN = StateMachineLoaderTest.class.getClassLoader();

  @TempDir Path dir;

  @Test
  void theKeyValueStoreIsFoundByItsShortAndClassNames() {
    for (String name :
        new String[] {"kv", "KV", "KvStateMachine", KvStateMachine.class.getName()}) {
      assertInstanceOf(KvStateMachine.class, StateMachineLoader.load(name, Map.of(), OWN), name);
    }
    KvStateMachine sharded =
        (KvStateMachine) StateMachineLoader.load("kv", Map.of("shards", "4"), OWN);
    assertEquals(4, sharded.layout().names().size());
  }

  @Test
  void badOptionsNameTheOption() {
    IllegalArgumentException unknown =
        assertThrows(
            IllegalArgumentException.class,
            () -> StateMachineLoader.load("kv", Map.of("shard", "4"), OWN));
    assertTrue(unknown.getMessage().contains("shard"), unknown.getMessage());
    IllegalArgumentException bad =
        assertThrows(
            IllegalArgumentException.class,
            () -> StateMachineLoader.load("kv", Map.of("shards", "many"), OWN));
    assertTrue(bad.getMessage().contains("many"), bad.getMessage());
  }

  @Test
  void aClassWithoutProviderIsBuiltByItsNoArgumentConstructor() {
    StateMachine sm = StateMachineLoader.load(Echo.class.getName(), Map.of(), OWN);
    assertInstanceOf(Echo.class, sm);
    IllegalArgumentException withOptions =
        assertThrows(
            IllegalArgumentException.class,
            () -> StateMachineLoader.load(Echo.class.getName(), Map.of("a", "b"), OWN));
    assertTrue(
        withOptions.getMessage().contains("no StateMachineProvider"), withOptions.getMessage());
  }

  @Test
  void unknownNamesAndWrongClassesSayWhatWasFound() {
    IllegalArgumentException unknown =
        assertThrows(
            IllegalArgumentException.class,
            () -> StateMachineLoader.load("com.example.Nothing", Map.of(), OWN));
    assertTrue(unknown.getMessage().contains("kv (" + KvStateMachine.class.getName() + ")"));
    assertTrue(unknown.getMessage().contains("--classpath"), unknown.getMessage());
    IllegalArgumentException notOne =
        assertThrows(
            IllegalArgumentException.class,
            () -> StateMachineLoader.load(String.class.getName(), Map.of(), OWN));
    assertTrue(notOne.getMessage().contains("does not implement"), notOne.getMessage());
  }

  @Test
  void theClasspathMustExist() {
    assertSame(OWN.getClass(), StateMachineLoader.classLoader(null).getClass());
    String missing = dir.resolve("missing.jar").toString();
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> StateMachineLoader.classLoader(missing));
    assertTrue(e.getMessage().contains(missing), e.getMessage());
    assertTrue(StateMachineLoader.classLoader(dir.toString()) != OWN);
  }

  /** A state machine with no provider. */
  public static final class Echo implements StateMachine {
    @Override
    public byte[] apply(byte[] command, ApplyContext ctx) {
      return command;
    }

    @Override
    public StateView view() {
      return StateView.singleRecord(new byte[0]);
    }

    @Override
    public StateLoader newLoader() {
      return StateLoader.singleRecord(v -> {});
    }

    @Override
    public byte[] query(byte[] request) {
      return request;
    }
  }
}

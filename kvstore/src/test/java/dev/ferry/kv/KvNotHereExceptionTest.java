package dev.ferry.kv;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import org.apache.ratis.protocol.exceptions.GroupMismatchException;
import org.junit.jupiter.api.Test;

class KvNotHereExceptionTest {
  @Test
  void aGroupMismatchAnywhereInTheCausesIsNotHere() {
    Exception deep =
        new RuntimeException(
            "deadline", new IOException("attempt", new GroupMismatchException("n4: no group")));
    assertTrue(KvNotHereException.notHere(deep));
    assertFalse(KvNotHereException.notHere(new RuntimeException("deadline", new IOException("x"))));
    assertFalse(KvNotHereException.notHere(new RuntimeException("no cause")));
  }

  @Test
  void itIsATimeoutToCallersThatKnowOnlyTimeouts() {
    KvTimeoutException e = new KvNotHereException("m", null);
    assertTrue(e instanceof KvNotHereException);
  }
}

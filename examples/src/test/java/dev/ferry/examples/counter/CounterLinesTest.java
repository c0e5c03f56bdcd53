package dev.ferry.examples.counter;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Holds the counter to issue 15's promise: about 40 lines of server code and 15 of client code,
 * counted without blank lines, comments, the package line and imports. Prints the counts.
 */
class CounterLinesTest {
  private static final Path SOURCES = Path.of("src/main/java/dev/ferry/examples/counter");

  @Test
  void theCounterIsSmall() throws IOException {
    int server = lines("Counter.java") + lines("CounterProvider.java");
    int client = lines("CounterClient.java");
    System.out.println("counter example: server " + server + " lines, client " + client + " lines");
    assertTrue(server <= 40, "server side: " + server + " lines");
    assertTrue(client <= 15, "client side: " + client + " lines");
  }

  @Test
  void theCountSkipsWhatItShould() {
    List<String> source =
        List.of(
            "package a;",
            "import b.C;",
            "/** Doc",
            " * more */",
            "class D {",
            "",
            "  // note",
            "  int e; /* inline */",
            "}");
    assertTrue(count(source) == 3, "class line, field line, closing brace: " + count(source));
  }

  private static int lines(String file) throws IOException {
    return count(Files.readAllLines(SOURCES.resolve(file)));
  }

  /** Non-blank, non-comment lines, without the package line and imports. */
  static int count(List<String> source) {
    int n = 0;
    boolean inComment = false;
    for (String raw : source) {
      String line = raw.strip();
      if (inComment) {
        inComment = !line.contains("*/");
        continue;
      }
      if (line.startsWith("/*")) {
        inComment = !line.contains("*/");
        continue;
      }
      if (line.isEmpty()
          || line.startsWith("//")
          || line.startsWith("package ")
          || line.startsWith("import ")) {
        continue;
      }
      n++;
    }
    return n;
  }
}

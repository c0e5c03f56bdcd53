package dev.ferry.kv.cli;

import dev.ferry.statemachine.StateMachine;
import dev.ferry.statemachine.StateMachineProvider;
import java.io.File;
import java.lang.reflect.InvocationTargetException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;

/**
 * Finds the state machine {@code ferry server --state-machine NAME} runs: a {@link
 * StateMachineProvider} registered with {@link ServiceLoader} on Ferry's class path or on {@code
 * --classpath}, matched by its type's full or simple name or its short name; failing that, a class
 * named {@code NAME} that implements {@link StateMachine} with a public no-argument constructor
 * (only when no options were given). Every failure is an {@link IllegalArgumentException} that says
 * what was looked for and what was found.
 */
final class StateMachineLoader {
  private StateMachineLoader() {}

  /**
   * The class loader for {@code classpath} (jars and class directories separated by the platform's
   * path separator), over Ferry's own; Ferry's own when {@code classpath} is empty.
   *
   * @throws IllegalArgumentException if an entry does not exist
   */
  static ClassLoader classLoader(String classpath) {
    ClassLoader parent = StateMachineLoader.class.getClassLoader();
    if (classpath == null || classpath.isBlank()) {
      return parent;
    }
    List<URL> urls = new ArrayList<>();
    for (String entry : classpath.split(File.pathSeparator)) {
      if (entry.isBlank()) {
        continue;
      }
      Path p = Path.of(entry);
      if (!Files.exists(p)) {
        throw new IllegalArgumentException("--classpath entry does not exist: " + entry);
      }
      try {
        urls.add(p.toUri().toURL());
      } catch (MalformedURLException e) {
        throw new IllegalArgumentException("--classpath entry is not a path: " + entry, e);
      }
    }
    return new URLClassLoader(urls.toArray(URL[]::new), parent);
  }

  /** Builds the state machine {@code name} names, with {@code options}, from {@code loader}. */
  static StateMachine load(String name, Map<String, String> options, ClassLoader loader) {
    List<StateMachineProvider> found = new ArrayList<>();
    List<StateMachineProvider> matching = new ArrayList<>();
    try {
      for (StateMachineProvider p : ServiceLoader.load(StateMachineProvider.class, loader)) {
        found.add(p);
        if (matches(p, name)) {
          matching.add(p);
        }
      }
    } catch (ServiceConfigurationError e) {
      throw new IllegalArgumentException("a state machine provider cannot load: " + e, e);
    }
    if (matching.size() > 1) {
      throw new IllegalArgumentException(
          "--state-machine " + name + " is ambiguous: " + describe(matching));
    }
    if (matching.size() == 1) {
      return matching.get(0).create(Map.copyOf(options));
    }
    return byClassName(name, options, loader, found);
  }

  private static boolean matches(StateMachineProvider p, String name) {
    Class<?> type = p.type();
    return name.equals(type.getName())
        || name.equals(type.getSimpleName())
        || name.toLowerCase(Locale.ROOT).equals(p.name().toLowerCase(Locale.ROOT));
  }

  private static StateMachine byClassName(
      String name,
      Map<String, String> options,
      ClassLoader loader,
      List<StateMachineProvider> found) {
    Class<?> type;
    try {
      type = Class.forName(name, true, loader);
    } catch (ClassNotFoundException | LinkageError e) {
      throw new IllegalArgumentException(
          "no state machine named '"
              + name
              + "': the providers found are "
              + describe(found)
              + "; put the jar or classes directory that holds it on --classpath (or"
              + " FERRY_CLASSPATH)");
    }
    if (!StateMachine.class.isAssignableFrom(type)) {
      throw new IllegalArgumentException(
          name + " does not implement " + StateMachine.class.getName());
    }
    if (!options.isEmpty()) {
      throw new IllegalArgumentException(
          name
              + " has no StateMachineProvider to take --sm-opt "
              + options.keySet()
              + ": register one (META-INF/services/"
              + StateMachineProvider.class.getName()
              + ")");
    }
    try {
      return (StateMachine) type.getConstructor().newInstance();
    } catch (NoSuchMethodException | IllegalAccessException e) {
      throw new IllegalArgumentException(
          name + " needs a public no-argument constructor, or a StateMachineProvider");
    } catch (InstantiationException e) {
      throw new IllegalArgumentException(name + " cannot be instantiated: " + e, e);
    } catch (InvocationTargetException e) {
      throw new IllegalArgumentException(
          name + "'s constructor failed: " + e.getTargetException(), e.getTargetException());
    }
  }

  private static String describe(List<StateMachineProvider> providers) {
    if (providers.isEmpty()) {
      return "none";
    }
    List<String> names = new ArrayList<>();
    for (StateMachineProvider p : providers) {
      names.add(p.name() + " (" + p.type().getName() + ")");
    }
    return String.join(", ", names);
  }
}

package org.distillery.kernel.cli;

import java.io.File;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import org.distillery.kernel.config.ExperimentException;

/**
 * Starts the Spark jobs in a child JVM: Spark never enters the kernel's JVM (whose class path the
 * system bundle exports to every bundle). The child's class path is the Spark distribution
 * ({@code distill-spark}): {@code <spark-home>/lib/*} (Spark and its libraries), the job jar
 * {@code <spark-home>/jobs/distillery-spark-job.jar} and libtorch from {@code <spark-home>/native/*}.
 * The Spark home is {@code $DISTILL_SPARK_HOME}, else {@code spark/} in the distribution folder
 * (where {@code distill-spark.tar.gz} unpacks). The JVM gets Spark's own module options, read at
 * run time from Spark's launcher ({@code org.apache.spark.launcher.JavaModuleOptions}) in an
 * isolated class loader, so they follow the Spark version installed.
 */
final class SparkLauncher {

    /** The jobs' entry point in the job jar. */
    static final String MAIN = "org.distillery.spark.SparkJobs";

    private SparkLauncher() {
    }

    /** Where the Spark distribution is. */
    static Path sparkHome() {
        String env = System.getenv("DISTILL_SPARK_HOME");
        return (env != null && !env.isBlank() ? Path.of(env) : Home.get().resolve("spark")).toAbsolutePath().normalize();
    }

    /** Runs {@code SparkJobs <args>} in a child JVM and returns its exit code. */
    static int run(List<String> args) throws Exception {
        Path home = sparkHome();
        Path lib = home.resolve("lib");
        Path job = home.resolve("jobs").resolve("distillery-spark-job.jar");
        Path launcher = launcherJar(lib);
        if (launcher == null || !Files.isRegularFile(job)) {
            throw new ExperimentException(List.of("spark: no Spark distribution at " + home + " (expected lib/ with "
                    + "Spark's jars and jobs/distillery-spark-job.jar; unpack distill-spark.tar.gz into " + Home.get()
                    + ", or set DISTILL_SPARK_HOME to its spark/ folder)"));
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(moduleOptions(launcher));
        String opts = System.getenv("DISTILL_SPARK_JAVA_OPTS");
        for (String o : (opts == null || opts.isBlank() ? "-Xmx8g" : opts).trim().split("\\s+")) {
            cmd.add(o);
        }
        cmd.add("-Dai.djl.offline=" + System.getProperty("ai.djl.offline", "true"));
        cmd.add("-Ddistill.home=" + Home.get());
        for (String p : List.of("ai.djl.pytorch.num_threads", "distill.trace")) {
            if (System.getProperty(p) != null) {
                cmd.add("-D" + p + "=" + System.getProperty(p));
            }
        }
        Path log = home.resolve("conf").resolve("log4j2.properties");
        if (Files.isRegularFile(log)) {
            cmd.add("-Dlog4j2.configurationFile=" + log.toUri());
        }
        cmd.add("-cp");
        cmd.add(String.join(File.pathSeparator, lib.resolve("*").toString(), job.toString(),
                home.resolve("native").resolve("*").toString()));
        cmd.add(MAIN);
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO();
        // Spark's embedded default binds the driver to loopback; this also names it so in Spark's own checks.
        pb.environment().putIfAbsent("SPARK_LOCAL_IP", "127.0.0.1");
        Process child = pb.start();
        Thread stop = new Thread(child::destroy, "distill-spark-stop");
        Runtime.getRuntime().addShutdownHook(stop);
        try {
            return child.waitFor();
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(stop);
            } catch (IllegalStateException shuttingDown) {
                // the JVM is already exiting: the hook runs and stops the child
            }
        }
    }

    private static Path launcherJar(Path lib) throws Exception {
        if (!Files.isDirectory(lib)) {
            return null;
        }
        try (Stream<Path> s = Files.list(lib)) {
            return s.filter(p -> p.getFileName().toString().startsWith("spark-launcher_")).findFirst().orElse(null);
        }
    }

    /** Spark's JVM options for this Java (e.g. {@code --add-opens java.base/java.nio=ALL-UNNAMED}). */
    static List<String> moduleOptions(Path launcherJar) throws Exception {
        try (URLClassLoader loader = new URLClassLoader(new URL[] {launcherJar.toUri().toURL()},
                ClassLoader.getPlatformClassLoader())) {
            Class<?> c = loader.loadClass("org.apache.spark.launcher.JavaModuleOptions");
            Method m = c.getMethod("defaultModuleOptionArray");
            return List.of((String[]) m.invoke(null));
        }
    }
}

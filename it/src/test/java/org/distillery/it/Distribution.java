package org.distillery.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A private copy of the built standard distribution (libraries linked, everything else
 * copied, so each test has its own drop-in folder), and child processes of its {@code bin/distill}.
 */
final class Distribution implements AutoCloseable {

    /** A finished command. */
    record Result(int exit, String out, String err) {
        String all() {
            return out + err;
        }
    }

    final Path home;
    final Path work;
    /** Environment variables every command of this copy gets, after the defaults (a test may set more). */
    final java.util.Map<String, String> env = new java.util.LinkedHashMap<>();

    private Distribution(Path home, Path work) {
        this.home = home;
        this.work = work;
    }

    /** Copies the distribution named by system property {@code distill.dist}. */
    static Distribution copy() throws IOException {
        return copy(Path.of(System.getProperty("distill.dist", "../distributions/standard/target/distill-standard")));
    }

    /** Copies the built distribution at {@code dist}. */
    static Distribution copy(Path dist) throws IOException {
        Path built = dist.toAbsolutePath().normalize();
        if (!Files.isExecutable(built.resolve("bin/distill"))) {
            throw new IllegalStateException("no built distribution at " + built + "; run mvn install first");
        }
        Path root = Files.createTempDirectory("distill-it-");
        Path home = root.resolve("dist");
        Files.createDirectories(home);
        Files.createSymbolicLink(home.resolve("lib"), built.resolve("lib"));
        for (String dir : List.of("bin", "bundles", "config")) {
            copyTree(built.resolve(dir), home.resolve(dir));
        }
        home.resolve("bin/distill").toFile().setExecutable(true);
        Files.createDirectories(home.resolve("drop-in"));
        Path work = Files.createDirectories(root.resolve("work"));
        return new Distribution(home, work);
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    ProcessBuilder builder(String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(home.resolve("bin/distill").toString());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(work.toFile());
        pb.environment().put("DISTILL_JAVA_OPTS", "-Xmx2g");
        // every integration test also checks that no array is created outside the tensor service
        pb.environment().put("DISTILL_TENSOR_AUDIT", "strict");
        pb.environment().put("DISTILL_LOG_LEVEL", "info");
        pb.environment().putAll(env);
        return pb;
    }

    /** Runs a command to completion (at most {@code timeoutSeconds}). */
    Result run(long timeoutSeconds, String... args) throws IOException, InterruptedException {
        Path out = Files.createTempFile(work, "out", ".txt");
        Path err = Files.createTempFile(work, "err", ".txt");
        Process p = builder(args).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError("distill " + String.join(" ", args) + " did not finish in " + timeoutSeconds
                    + " s; stderr: " + Files.readString(err));
        }
        return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
    }

    /** Starts a command in the background; its output goes to files in the work folder. */
    Process start(String name, String... args) throws IOException {
        return builder(args).redirectOutput(work.resolve(name + ".out").toFile())
                .redirectError(work.resolve(name + ".err").toFile()).start();
    }

    /** Output of a background command so far. */
    String output(String name) throws IOException {
        return Files.readString(work.resolve(name + ".out")) + Files.readString(work.resolve(name + ".err"));
    }

    /** Places a jar in the drop-in folder atomically (write beside, then rename). */
    void drop(Path jar, String name) throws IOException {
        Path tmp = home.resolve("drop-in").resolve(name + ".tmp");
        Files.copy(jar, tmp, StandardCopyOption.REPLACE_EXISTING);
        Files.move(tmp, home.resolve("drop-in").resolve(name), StandardCopyOption.ATOMIC_MOVE,
                StandardCopyOption.REPLACE_EXISTING);
    }

    @Override
    public void close() throws IOException {
        try (Stream<Path> s = Files.walk(home.getParent())) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}

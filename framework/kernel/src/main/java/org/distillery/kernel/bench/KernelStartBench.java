package org.distillery.kernel.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;

import org.distillery.kernel.Kernel;
import org.distillery.kernel.KernelOptions;
import org.distillery.tensor.ThreadPolicy;

/**
 * {@code distill bench kernel}'s cold starts. Each start is a fresh JVM started like this one (its
 * Java, class path and options), so libtorch, the classes and the JIT are as cold as for a user; the
 * child boots the kernel over a folder holding the first {@code n} of the distribution's bundles,
 * either one thing after another (the kernel's start before it overlapped them) or side by side
 * (the default), and prints one JSON line. Configurations alternate run by run so that a change in
 * the machine's load touches all of them alike.
 */
public final class KernelStartBench {

    /** Prefix of the child's result line. */
    static final String RESULT = "distill-bench-kernel-child ";
    private static final Gson GSON = new Gson();

    private KernelStartBench() {
    }

    /** One cold start: boots, prints the figures as one JSON line, returns the exit code. */
    public static int child(String mode, Path bundleDir) throws Exception {
        long jvmStart = ManagementFactory.getRuntimeMXBean().getStartTime();
        Path home = Path.of(System.getProperty("distill.home", ".")).toAbsolutePath();
        KernelOptions o = KernelOptions.forHome(home, "cpu", ThreadPolicy.resolve(null))
                .withBundleDirs(List.of(bundleDir)).withParallelStart(mode.equals("parallel"));
        o = new KernelOptions(o.home(), o.bundleDirs(), null, o.device(), false, o.pollMillis(), o.threads(),
                o.parallelStart());
        try (Kernel k = Kernel.start(o)) {
            JsonObject r = new JsonObject();
            r.addProperty("mode", mode);
            r.addProperty("bundles", k.bundles().size());
            r.addProperty("failed", k.problems().all().size());
            r.addProperty("ready", k.readyNanos() / 1e6);
            r.addProperty("sinceJvm", (double) (System.currentTimeMillis() - jvmStart));
            r.addProperty("engine", k.tensors().engineNanos() / 1e6);
            JsonObject phases = new JsonObject();
            k.startupPhases().forEach((p, n) -> phases.addProperty(p, n / 1e6));
            r.add("phases", phases);
            r.add("bundleCosts", costs(k.bundleCosts()));
            r.add("builtInCosts", costs(k.builtInCosts()));
            System.out.println(RESULT + GSON.toJson(r));
        }
        return 0;
    }

    private static JsonArray costs(List<Kernel.StartCost> costs) {
        JsonArray a = new JsonArray();
        for (Kernel.StartCost c : costs) {
            JsonObject o = new JsonObject();
            o.addProperty("name", c.name());
            o.addProperty("install", c.installNanos() / 1e6);
            o.addProperty("start", c.startNanos() / 1e6);
            o.addProperty("contributions", c.contributions());
            a.add(o);
        }
        return a;
    }

    /**
     * Runs {@code runs} cold starts of each configuration (no bundles, half, all; serial and parallel)
     * in child JVMs and prints medians, the ratio of parallel to serial, the cost per added bundle and
     * the cost of each bundle and built-in module.
     */
    public static void coldStarts(PrintStream out, Path home, int runs) throws IOException, InterruptedException {
        List<Path> jars;
        try (Stream<Path> s = Files.list(home.resolve("bundles"))) {
            jars = s.filter(p -> p.toString().endsWith(".jar")).sorted().toList();
        }
        int[] sizes = jars.isEmpty() ? new int[] {0} : jars.size() < 2 ? new int[] {0, jars.size()}
                : new int[] {0, jars.size() / 2, jars.size()};
        Path tmp = Files.createTempDirectory("distill-bench-kernel-");
        try {
            Map<Integer, Path> dirs = new TreeMap<>();
            for (int n : sizes) {
                Path d = Files.createDirectories(tmp.resolve("bundles-" + n));
                for (Path jar : jars.subList(0, n)) {
                    Files.createSymbolicLink(d.resolve(jar.getFileName()), jar.toAbsolutePath());
                }
                dirs.put(n, d);
            }
            out.printf(Locale.ROOT, "cold starts: %d per configuration, each a fresh JVM (%s); bundles of %s, "
                    + "the first n in name order%n", runs, String.join(" ", jvmOptions()), home.resolve("bundles"));
            Map<String, List<JsonObject>> results = new LinkedHashMap<>();
            for (int r = 0; r < runs; r++) {
                for (int n : sizes) {
                    for (String mode : List.of("serial", "parallel")) {
                        results.computeIfAbsent(mode + "/" + n, k -> new ArrayList<>())
                                .add(runChild(home, mode, dirs.get(n)));
                    }
                }
            }
            out.printf(Locale.ROOT, "%-9s %7s %10s %10s %10s %10s %12s%n", "start", "bundles", "ready ms", "min",
                    "max", "engine ms", "JVM->ready");
            Map<String, Double> medians = new LinkedHashMap<>();
            for (String mode : List.of("serial", "parallel")) {
                for (int n : sizes) {
                    List<JsonObject> rs = results.get(mode + "/" + n);
                    double ready = median(rs, "ready");
                    medians.put(mode + "/" + n, ready);
                    out.printf(Locale.ROOT, "%-9s %7d %10.0f %10.0f %10.0f %10.0f %12.0f%n", mode,
                            rs.get(0).get("bundles").getAsInt(), ready, min(rs, "ready"), max(rs, "ready"),
                            median(rs, "engine"), median(rs, "sinceJvm"));
                }
            }
            int all = sizes[sizes.length - 1];
            if (all > 0) {
                for (String mode : List.of("serial", "parallel")) {
                    double slope = (medians.get(mode + "/" + all) - medians.get(mode + "/0")) / all;
                    out.printf(Locale.ROOT, "%s: %+.1f ms per bundle added (0 -> %d bundles, medians)%n", mode, slope, all);
                }
            }
            out.printf(Locale.ROOT, "parallel / serial ready with %d bundles: %.2fx (median %.0f ms vs %.0f ms); "
                            + "goal <= 1500 ms with all bundles: %s%n", all,
                    medians.get("parallel/" + all) / medians.get("serial/" + all), medians.get("parallel/" + all),
                    medians.get("serial/" + all), medians.get("parallel/" + all) <= 1500 ? "met" : "NOT met");
            for (String mode : List.of("serial", "parallel")) {
                List<JsonObject> rs = results.get(mode + "/" + all);
                out.printf(Locale.ROOT, "%n%s start, %d bundles: phases on the critical path (median ms)%n", mode, all);
                for (String phase : rs.get(0).getAsJsonObject("phases").keySet()) {
                    out.printf(Locale.ROOT, "  %-20s %7.0f%n", phase, medianOf(rs, o -> o.getAsJsonObject("phases")
                            .get(phase).getAsDouble()));
                }
                out.printf(Locale.ROOT, "  %-20s %7.0f  (on its own thread when parallel)%n", "engine start",
                        median(rs, "engine"));
                printCosts(out, "bundle", rs, "bundleCosts");
                printCosts(out, "built-in module", rs, "builtInCosts");
            }
        } finally {
            try (Stream<Path> s = Files.walk(tmp)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static void printCosts(PrintStream out, String what, List<JsonObject> rs, String field) {
        Map<String, List<double[]>> byName = new LinkedHashMap<>();
        Map<String, Integer> contributions = new LinkedHashMap<>();
        for (JsonObject r : rs) {
            for (JsonElement e : r.getAsJsonArray(field)) {
                JsonObject c = e.getAsJsonObject();
                byName.computeIfAbsent(c.get("name").getAsString(), k -> new ArrayList<>())
                        .add(new double[] {c.get("install").getAsDouble(), c.get("start").getAsDouble()});
                contributions.put(c.get("name").getAsString(), c.get("contributions").getAsInt());
            }
        }
        out.printf(Locale.ROOT, "  %-48s %10s %10s %14s%n", what + " (median ms)", "install", "start", "contributions");
        double total = 0;
        for (Map.Entry<String, List<double[]>> e : byName.entrySet()) {
            double install = medianOf(e.getValue(), 0);
            double start = medianOf(e.getValue(), 1);
            total += install + start;
            out.printf(Locale.ROOT, "  %-48s %10.1f %10.1f %14d%n", e.getKey(), install, start,
                    contributions.get(e.getKey()));
        }
        out.printf(Locale.ROOT, "  %-48s %21.1f (sum of install + start; side by side they overlap)%n", "total", total);
    }

    private static JsonObject runChild(Path home, String mode, Path bundleDir) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(jvmOptions());
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add("org.distillery.kernel.cli.Distill");
        cmd.addAll(List.of("bench", "kernel", "--child", mode, "--bundle-dir", bundleDir.toString()));
        Path log = Files.createTempFile("distill-bench-kernel-", ".log");
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            if (!p.waitFor(300, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("a cold start did not finish in 300 s: " + String.join(" ", cmd));
            }
            String text = Files.readString(log, StandardCharsets.UTF_8);
            for (String line : text.split("\n")) {
                if (line.startsWith(RESULT)) {
                    return GSON.fromJson(line.substring(RESULT.length()), JsonObject.class);
                }
            }
            throw new IOException("a cold start printed no result (exit " + p.exitValue() + "): " + text);
        } finally {
            Files.deleteIfExists(log);
        }
    }

    /** This JVM's options (heap, system properties), for the children. */
    private static List<String> jvmOptions() {
        return ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                .filter(a -> !a.startsWith("-agentlib") && !a.startsWith("-javaagent")).toList();
    }

    private static double median(List<JsonObject> rs, String field) {
        return medianOf(rs, o -> o.get(field).getAsDouble());
    }

    private static double min(List<JsonObject> rs, String field) {
        return rs.stream().mapToDouble(o -> o.get(field).getAsDouble()).min().orElse(Double.NaN);
    }

    private static double max(List<JsonObject> rs, String field) {
        return rs.stream().mapToDouble(o -> o.get(field).getAsDouble()).max().orElse(Double.NaN);
    }

    private static double medianOf(List<JsonObject> rs, java.util.function.ToDoubleFunction<JsonObject> f) {
        double[] xs = rs.stream().mapToDouble(f).sorted().toArray();
        int n = xs.length;
        return n == 0 ? Double.NaN : n % 2 == 1 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
    }

    private static double medianOf(List<double[]> rows, int column) {
        double[] xs = rows.stream().mapToDouble(r -> r[column]).sorted().toArray();
        int n = xs.length;
        return n == 0 ? Double.NaN : n % 2 == 1 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
    }
}

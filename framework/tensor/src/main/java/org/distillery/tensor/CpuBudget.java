package org.distillery.tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.OptionalDouble;

/**
 * The cores this process may use: the machine's online CPUs, the process's CPU affinity
 * ({@code Cpus_allowed_list} of {@code /proc/self/status}) and its cgroup CPU quota (cgroup v2
 * {@code cpu.max}, or v1 {@code cpu.cfs_quota_us / cpu.cfs_period_us}, the smallest along the
 * process's cgroup path), read from procfs and sysfs without a native call.
 *
 * @param online CPUs online on the machine
 * @param affinity CPUs the process may be scheduled on
 * @param quota cgroup CPU quota in cores, or 0 when there is none
 * @param loadAverage the machine's 1-minute load average, or -1 when unknown
 */
public record CpuBudget(int online, int affinity, double quota, double loadAverage) {

    /** What this process may use: the affinity, capped by the quota rounded up, at least 1. */
    public int available() {
        int cores = Math.max(1, affinity);
        if (quota > 0) {
            cores = Math.min(cores, (int) Math.ceil(quota - 1e-9));
        }
        return Math.max(1, cores);
    }

    /** E.g. {@code 2 cores available (2 online, affinity 2, no cgroup quota)}. */
    public String describe() {
        return String.format(Locale.ROOT, "%d core%s available (%d online, affinity %d, %s)", available(),
                available() == 1 ? "" : "s", online, affinity,
                quota > 0 ? String.format(Locale.ROOT, "cgroup quota %.2f cores", quota) : "no cgroup quota");
    }

    /** Reads this process's budget from {@code /proc} and {@code /sys}. */
    public static CpuBudget detect() {
        return read(Path.of("/proc"), Path.of("/sys"));
    }

    /**
     * Reads the budget under the given roots (tests pass a fake tree). Anything missing falls back:
     * online and affinity to the JVM's available processors, the quota to none, the load to -1.
     */
    static CpuBudget read(Path proc, Path sys) {
        int jvm = Runtime.getRuntime().availableProcessors();
        int online = countList(firstLine(sys.resolve("devices/system/cpu/online")), jvm);
        int affinity = jvm;
        for (String line : lines(proc.resolve("self/status"))) {
            if (line.startsWith("Cpus_allowed_list:")) {
                affinity = countList(line.substring(line.indexOf(':') + 1), jvm);
            }
        }
        double quota = cgroupQuota(proc, sys).orElse(0);
        double load = -1;
        String loadavg = firstLine(proc.resolve("loadavg"));
        if (loadavg != null && !loadavg.isBlank()) {
            try {
                load = Double.parseDouble(loadavg.trim().split("\\s+")[0]);
            } catch (NumberFormatException e) {
                load = -1;
            }
        }
        return new CpuBudget(online, affinity, quota, load);
    }

    /** Counts the CPUs of a list such as {@code 0-3,6,8-9}; {@code fallback} when unreadable. */
    static int countList(String list, int fallback) {
        if (list == null || list.isBlank()) {
            return fallback;
        }
        int n = 0;
        try {
            for (String part : list.trim().split(",")) {
                String p = part.trim();
                if (p.isEmpty()) {
                    continue;
                }
                int dash = p.indexOf('-');
                int from = Integer.parseInt(dash < 0 ? p : p.substring(0, dash));
                int to = dash < 0 ? from : Integer.parseInt(p.substring(dash + 1));
                n += to - from + 1;
            }
        } catch (NumberFormatException e) {
            return fallback;
        }
        return n > 0 ? n : fallback;
    }

    /**
     * The smallest CPU quota along the process's cgroup path, in cores: cgroup v2's {@code cpu.max}
     * ({@code "<quota> <period>"} or {@code "max ..."}), else v1's {@code cpu.cfs_quota_us} over
     * {@code cpu.cfs_period_us} (quota -1 = none). In a container the process's path may not exist
     * under the mount, whose root then is the container's own cgroup, so the root is read too.
     */
    static OptionalDouble cgroupQuota(Path proc, Path sys) {
        Path root = sys.resolve("fs/cgroup");
        String v2 = null;
        String v1 = null;
        String v1Controller = "cpu";
        for (String line : lines(proc.resolve("self/cgroup"))) {
            String[] f = line.split(":", 3);
            if (f.length < 3) {
                continue;
            }
            if (f[0].equals("0") && f[1].isEmpty()) {
                v2 = f[2];
            }
            for (String c : f[1].split(",")) {
                if (c.equals("cpu")) {
                    v1 = f[2];
                    v1Controller = f[1];
                }
            }
        }
        double best = Double.POSITIVE_INFINITY;
        if (Files.isRegularFile(root.resolve("cpu.max")) || (v2 != null && v1 == null)) {
            for (Path dir : along(root, v2)) {
                best = Math.min(best, v2Quota(firstLine(dir.resolve("cpu.max"))));
            }
        }
        if (v1 != null) {
            Path mount = Files.isDirectory(root.resolve(v1Controller)) ? root.resolve(v1Controller) : root.resolve("cpu");
            for (Path dir : along(mount, v1)) {
                best = Math.min(best, v1Quota(firstLine(dir.resolve("cpu.cfs_quota_us")),
                        firstLine(dir.resolve("cpu.cfs_period_us"))));
            }
        }
        return Double.isInfinite(best) ? OptionalDouble.empty() : OptionalDouble.of(best);
    }

    /** The mount root and every folder from it down the cgroup path that exists. */
    private static List<Path> along(Path mount, String cgroupPath) {
        java.util.ArrayList<Path> dirs = new java.util.ArrayList<>();
        dirs.add(mount);
        if (cgroupPath != null) {
            Path dir = mount;
            for (String part : cgroupPath.split("/")) {
                if (part.isEmpty()) {
                    continue;
                }
                dir = dir.resolve(part);
                if (Files.isDirectory(dir)) {
                    dirs.add(dir);
                }
            }
        }
        return dirs;
    }

    private static double v2Quota(String cpuMax) {
        if (cpuMax == null) {
            return Double.POSITIVE_INFINITY;
        }
        String[] f = cpuMax.trim().split("\\s+");
        if (f.length < 1 || f[0].equals("max")) {
            return Double.POSITIVE_INFINITY;
        }
        try {
            double quota = Double.parseDouble(f[0]);
            double period = f.length > 1 ? Double.parseDouble(f[1]) : 100_000;
            return quota > 0 && period > 0 ? quota / period : Double.POSITIVE_INFINITY;
        } catch (NumberFormatException e) {
            return Double.POSITIVE_INFINITY;
        }
    }

    private static double v1Quota(String quotaUs, String periodUs) {
        if (quotaUs == null || periodUs == null) {
            return Double.POSITIVE_INFINITY;
        }
        try {
            double quota = Double.parseDouble(quotaUs.trim());
            double period = Double.parseDouble(periodUs.trim());
            return quota > 0 && period > 0 ? quota / period : Double.POSITIVE_INFINITY;
        } catch (NumberFormatException e) {
            return Double.POSITIVE_INFINITY;
        }
    }

    private static String firstLine(Path file) {
        List<String> l = lines(file);
        return l.isEmpty() ? null : l.get(0);
    }

    private static List<String> lines(Path file) {
        try {
            return Files.readAllLines(file);
        } catch (IOException | RuntimeException e) {
            return List.of();
        }
    }
}

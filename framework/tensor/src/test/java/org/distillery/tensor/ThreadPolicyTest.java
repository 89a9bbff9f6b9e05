package org.distillery.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ThreadPolicyTest {

    private static final CpuBudget FOUR = new CpuBudget(8, 4, 0, 0.5);

    @Test
    void experimentWinsOverEnvironmentWhichWinsOverTheSystemPropertyWhichWinsOverAuto() {
        Properties props = new Properties();
        props.setProperty(ThreadPolicy.INTRA_PROPERTY, "3");
        Map<String, String> env = Map.of(ThreadPolicy.ENV, "2");
        assertEquals(new ThreadSettings(5, 1, "experiment.threads = 5"), ThreadPolicy.resolve("5", env, props, FOUR));
        assertEquals(new ThreadSettings(2, 1, "DISTILL_THREADS=2"), ThreadPolicy.resolve("auto", env, props, FOUR));
        assertEquals(new ThreadSettings(3, 1, "-Dai.djl.pytorch.num_threads=3"),
                ThreadPolicy.resolve(null, Map.of(), props, FOUR));
        ThreadSettings auto = ThreadPolicy.resolve("auto", Map.of(), new Properties(), FOUR);
        assertEquals(4, auto.intraOp());
        assertEquals(1, auto.interOp());
        assertEquals("auto: 4 cores available (8 online, affinity 4, no cgroup quota)", auto.source());
        // DISTILL_THREADS=auto asks for the cores available even when the property is set
        assertEquals(4, ThreadPolicy.resolve(null, Map.of(ThreadPolicy.ENV, "auto"), props, FOUR).intraOp());
    }

    @Test
    void interOpComesFromItsPropertyWhenSet() {
        Properties props = new Properties();
        props.setProperty(ThreadPolicy.INTER_PROPERTY, "2");
        ThreadSettings t = ThreadPolicy.resolve("1", Map.of(), props, FOUR);
        assertEquals(2, t.interOp());
        assertTrue(t.source().contains("inter-op from -Dai.djl.pytorch.num_interop_threads"), t.source());
    }

    @Test
    void malformedCountsNameTheirSetting() {
        var e = assertThrows(InvalidTensorSettingException.class,
                () -> ThreadPolicy.resolve("two", Map.of(), new Properties(), FOUR));
        assertEquals("experiment.threads: expected auto or a positive whole number of threads (got \"two\")",
                e.getMessage());
        e = assertThrows(InvalidTensorSettingException.class,
                () -> ThreadPolicy.resolve(null, Map.of(ThreadPolicy.ENV, "0"), new Properties(), FOUR));
        assertTrue(e.getMessage().startsWith("DISTILL_THREADS: expected auto"), e.getMessage());
    }

    @Test
    void quotaCapsTheAffinityRoundedUp() {
        assertEquals(2, new CpuBudget(16, 8, 1.5, -1).available());
        assertEquals(8, new CpuBudget(16, 8, 0, -1).available());
        assertEquals(1, new CpuBudget(16, 8, 0.2, -1).available());
        assertEquals(3, new CpuBudget(16, 3, 4, -1).available());
    }

    @Test
    void oversubscriptionIsReportedWhenTheLoadExceedsTheCpus() {
        assertTrue(ThreadPolicy.oversubscription(new CpuBudget(2, 2, 0, 1.9), 2).isEmpty());
        String w = ThreadPolicy.oversubscription(new CpuBudget(2, 2, 0, 8.32), 2).orElseThrow();
        assertTrue(w.startsWith("load average 8.32 on 2 CPUs: the cores are oversubscribed; PyTorch's 2 intra-op"), w);
        assertTrue(w.contains("DISTILL_THREADS=1"), w);
        assertTrue(ThreadPolicy.oversubscription(new CpuBudget(2, 2, 0, 8.32), 1).orElseThrow()
                .endsWith("expect this process to run slower than on an idle machine"));
        assertTrue(ThreadPolicy.oversubscription(new CpuBudget(2, 2, 0, -1), 2).isEmpty(), "unknown load");
    }

    @Test
    void readsAffinityOnlineCpusLoadAndACgroupV1Quota(@TempDir Path root) throws IOException {
        Path proc = root.resolve("proc");
        Path sys = root.resolve("sys");
        write(sys.resolve("devices/system/cpu/online"), "0-15\n");
        write(proc.resolve("self/status"), "Name:\tjava\nCpus_allowed_list:\t0-3,8,10-11\nMems_allowed:\t1\n");
        write(proc.resolve("loadavg"), "3.50 2.00 1.00 4/500 1234\n");
        write(proc.resolve("self/cgroup"), "4:memory:/job\n3:cpu,cpuacct:/job/step\n0::/\n");
        write(sys.resolve("fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us"), "-1\n");
        write(sys.resolve("fs/cgroup/cpu,cpuacct/cpu.cfs_period_us"), "100000\n");
        write(sys.resolve("fs/cgroup/cpu,cpuacct/job/cpu.cfs_quota_us"), "250000\n");
        write(sys.resolve("fs/cgroup/cpu,cpuacct/job/cpu.cfs_period_us"), "100000\n");
        write(sys.resolve("fs/cgroup/cpu,cpuacct/job/step/cpu.cfs_quota_us"), "400000\n");
        write(sys.resolve("fs/cgroup/cpu,cpuacct/job/step/cpu.cfs_period_us"), "100000\n");
        CpuBudget b = CpuBudget.read(proc, sys);
        assertEquals(new CpuBudget(16, 7, 2.5, 3.5), b);
        assertEquals(3, b.available());
        assertEquals("3 cores available (16 online, affinity 7, cgroup quota 2.50 cores)", b.describe());
    }

    @Test
    void readsACgroupV2QuotaAndTreatsMaxAsNone(@TempDir Path root) throws IOException {
        Path proc = root.resolve("proc");
        Path sys = root.resolve("sys");
        write(sys.resolve("devices/system/cpu/online"), "0-7");
        write(proc.resolve("self/status"), "Cpus_allowed_list:\t0-7\n");
        write(proc.resolve("self/cgroup"), "0::/user.slice/job.scope\n");
        write(sys.resolve("fs/cgroup/cpu.max"), "max 100000\n");
        write(sys.resolve("fs/cgroup/user.slice/cpu.max"), "max 100000\n");
        write(sys.resolve("fs/cgroup/user.slice/job.scope/cpu.max"), "150000 100000\n");
        assertEquals(2, CpuBudget.read(proc, sys).available());
        write(sys.resolve("fs/cgroup/user.slice/job.scope/cpu.max"), "max 100000\n");
        CpuBudget none = CpuBudget.read(proc, sys);
        assertEquals(0, none.quota());
        assertEquals(8, none.available());
        assertEquals(-1, none.loadAverage(), "no loadavg file");
    }

    @Test
    void cpuListsAreCounted() {
        assertEquals(2, CpuBudget.countList("0-1", 9));
        assertEquals(7, CpuBudget.countList(" 0-3,8,10-11\n", 9));
        assertEquals(9, CpuBudget.countList("garbage", 9));
        assertEquals(9, CpuBudget.countList("", 9));
    }

    private static void write(Path p, String s) throws IOException {
        Files.createDirectories(p.getParent());
        Files.writeString(p, s);
    }
}

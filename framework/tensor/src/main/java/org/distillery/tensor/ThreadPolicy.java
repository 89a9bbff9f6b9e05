package org.distillery.tensor;

import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;

/**
 * How many threads PyTorch gets. PyTorch's own default is one intra-op thread per online CPU,
 * which made training 5-10x slower whenever another process shared the cores (OpenMP threads
 * spinning against each other). Here the count is, first found wins:
 * <ol>
 *   <li>{@code experiment.threads = N} of the experiment (a resumed run's recorded count);
 *   <li>the environment variable {@code DISTILL_THREADS} ({@code N} or {@code auto});
 *   <li>the system property {@code ai.djl.pytorch.num_threads};
 *   <li>{@code auto}: the cores available to the process ({@link CpuBudget#available()}: its CPU
 *       affinity, capped by its cgroup CPU quota).
 * </ol>
 * Inter-op threads are 1 (operators run one after another; PyTorch's inter-op pool only helps
 * graphs with independent branches, which eager training does not have) unless
 * {@code ai.djl.pytorch.num_interop_threads} says otherwise. Results are bit-identical for a fixed
 * intra-op count, not across counts (the order of floating-point sums changes), so runs record theirs.
 */
public final class ThreadPolicy {

    /** The environment variable. */
    public static final String ENV = "DISTILL_THREADS";
    /** The experiment's key. */
    public static final String EXPERIMENT_KEY = "experiment.threads";
    /** DJL's system property for intra-op threads, read when the engine starts. */
    public static final String INTRA_PROPERTY = "ai.djl.pytorch.num_threads";
    /** DJL's system property for inter-op threads, read when the engine starts. */
    public static final String INTER_PROPERTY = "ai.djl.pytorch.num_interop_threads";

    private ThreadPolicy() {
    }

    /** Resolves from this process's environment, system properties and cores. */
    public static ThreadSettings resolve(String configured) {
        return resolve(configured, System.getenv(), System.getProperties(), CpuBudget.detect());
    }

    /**
     * Resolves the settings.
     *
     * @param configured the experiment's {@code experiment.threads} ({@code auto} or a count), or
     *     {@code null} for a command without an experiment
     * @throws InvalidTensorSettingException naming the setting when a value is not {@code auto} or a
     *     positive whole number
     */
    public static ThreadSettings resolve(String configured, Map<String, String> env, Properties props,
                                         CpuBudget budget) {
        int inter = 1;
        String interSource = "";
        String interProp = props.getProperty(INTER_PROPERTY);
        if (interProp != null && !interProp.isBlank()) {
            inter = parse(interProp, "-D" + INTER_PROPERTY).orElseThrow(
                    () -> new InvalidTensorSettingException("-D" + INTER_PROPERTY + ": expected a positive whole number "
                            + "(got \"" + interProp + "\")"));
            interSource = "; inter-op from -D" + INTER_PROPERTY;
        }
        Optional<Integer> n = parse(configured, EXPERIMENT_KEY);
        if (n.isPresent()) {
            return new ThreadSettings(n.get(), inter, EXPERIMENT_KEY + " = " + n.get() + interSource);
        }
        String fromEnv = env.get(ENV);
        n = parse(fromEnv, ENV);
        if (n.isPresent()) {
            return new ThreadSettings(n.get(), inter, ENV + "=" + n.get() + interSource);
        }
        boolean envAuto = fromEnv != null && !fromEnv.isBlank();
        String prop = props.getProperty(INTRA_PROPERTY);
        if (!envAuto) {
            n = parse(prop, "-D" + INTRA_PROPERTY);
            if (n.isPresent()) {
                return new ThreadSettings(n.get(), inter, "-D" + INTRA_PROPERTY + "=" + n.get() + interSource);
            }
        }
        return new ThreadSettings(budget.available(), inter, "auto: " + budget.describe() + interSource);
    }

    /**
     * {@code auto} or blank gives empty; a positive whole number gives it.
     *
     * @throws InvalidTensorSettingException naming {@code where} for anything else
     */
    static Optional<Integer> parse(String value, String where) {
        if (value == null || value.isBlank() || value.trim().equalsIgnoreCase("auto")) {
            return Optional.empty();
        }
        String v = value.trim();
        try {
            int n = Integer.parseInt(v);
            if (n >= 1) {
                return Optional.of(n);
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new InvalidTensorSettingException(where + ": expected auto or a positive whole number of threads (got \""
                + value + "\")");
    }

    /**
     * A warning when the machine's load average shows more runnable work than it has CPUs: other
     * processes compete for the cores this process's {@code intraOp} threads want.
     */
    public static Optional<String> oversubscription(CpuBudget budget, int intraOp) {
        if (budget.loadAverage() < 0 || budget.loadAverage() <= budget.online()) {
            return Optional.empty();
        }
        String head = String.format(Locale.ROOT, "load average %.2f on %d CPU%s: the cores are oversubscribed",
                budget.loadAverage(), budget.online(), budget.online() == 1 ? "" : "s");
        if (intraOp > 1) {
            return Optional.of(head + "; PyTorch's " + intraOp + " intra-op threads will contend with other processes "
                    + "(training ran 5-10x slower in such cases): consider " + ENV + "=1 or " + EXPERIMENT_KEY + " = 1");
        }
        return Optional.of(head + "; expect this process to run slower than on an idle machine");
    }
}

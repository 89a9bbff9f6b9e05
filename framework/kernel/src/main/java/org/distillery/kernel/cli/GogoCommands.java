package org.distillery.kernel.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import org.distillery.api.ContributionKind;
import org.distillery.api.run.SwapRequest;
import org.distillery.kernel.Kernel;
import org.distillery.kernel.config.ExperimentException;
import org.distillery.kernel.config.ExperimentLoader;
import org.distillery.kernel.run.Run;
import org.distillery.kernel.run.RunManager;
import org.distillery.kernel.run.RunStatus;

/**
 * The shell's {@code distill:*} commands, a plain service with Gogo's scope and function
 * properties. Runs started here go on in the background so they can be swapped and stopped.
 */
public final class GogoCommands {

    private static final String[] FUNCTIONS = {"list", "run", "runs", "swap", "stop", "problems"};

    private final Kernel kernel;
    private final RunManager runs;
    private final List<Path> started = new CopyOnWriteArrayList<>();

    private GogoCommands(Kernel kernel, RunManager runs) {
        this.kernel = kernel;
        this.runs = runs;
    }

    /** Registers the commands on the kernel's system bundle. */
    public static void register(Kernel kernel, RunManager runs) {
        Dictionary<String, Object> props = new Hashtable<>();
        props.put("osgi.command.scope", "distill");
        props.put("osgi.command.function", FUNCTIONS);
        kernel.context().registerService(GogoCommands.class, new GogoCommands(kernel, runs), props);
    }

    /** {@code distill:list} — every contribution and bundle. */
    public void list() {
        Distill.print(kernel, List.of(ContributionKind.values()), true);
    }

    /** {@code distill:list <kind>} — contributions of one kind. */
    public void list(String kind) {
        Distill.print(kernel, List.of(ContributionKind.byName(kind).orElseThrow(
                () -> new IllegalArgumentException("unknown kind " + kind))), false);
    }

    /** {@code distill:run <experiment> [path=value ...]} — starts a run in the background. */
    public String run(String experiment, String... sets) throws Exception {
        ExperimentLoader loader = new ExperimentLoader(kernel.options().home());
        RunManager.Plan plan;
        try {
            Config loaded = loader.load(loader.locate(experiment), List.of(sets));
            loader.warnings().forEach(w -> System.out.println("warning: " + w));
            plan = runs.validate(loaded);
        } catch (ExperimentException e) {
            return "error: " + String.join("\n error: ", e.problems());
        }
        Run run = runs.create(plan);
        started.add(run.runDir());
        Thread t = new Thread(() -> {
            kernel.tensors().attachThread();
            try (run) {
                runs.execute(run);
            } catch (Exception e) {
                // RunManager.execute recorded it (run-failed event, results.json); distill:runs shows it
            }
        }, "run-" + run.runId());
        t.setDaemon(true);
        t.start();
        return run.runId() + " started in " + run.runDir();
    }

    /** {@code distill:runs} — runs started in this shell, each with its status (running, finished, failed: ...). */
    public List<String> runs() {
        List<String> out = new ArrayList<>();
        for (Path dir : started) {
            out.add(dir.getFileName() + "  " + RunStatus.read(dir).label() + "  " + dir);
        }
        return out;
    }

    /** {@code distill:swap <run> <loss-key>} — swaps term 0 at the next step. */
    public String swap(String runId, String key) {
        return swap(runId, 0, key);
    }

    /** {@code distill:swap <run> <term> <loss-key>}. */
    public String swap(String runId, int term, String key) {
        Run run = runs.active(runId).orElse(null);
        if (run == null) {
            return "no run " + runId + " in this kernel; runs: " + runs.activeIds();
        }
        run.requestSwap(new SwapRequest("shell-" + System.currentTimeMillis(), term, key, ConfigFactory.empty()));
        return "swap of term " + term + " to " + key + " queued; see events.jsonl of " + runId;
    }

    /** {@code distill:stop <run>} — stops a run at its next step, with a checkpoint. */
    public String stop(String runId) {
        Run run = runs.active(runId).orElse(null);
        if (run == null) {
            return "no run " + runId + " in this kernel; runs: " + runs.activeIds();
        }
        run.requestStop("shell");
        return "stop requested";
    }

    /** {@code distill:problems} — bundles that failed and why. */
    public List<String> problems() {
        return kernel.problems().all().stream().map(p -> p.bundle() + " at " + p.phase() + ": " + p.reason()).toList();
    }
}

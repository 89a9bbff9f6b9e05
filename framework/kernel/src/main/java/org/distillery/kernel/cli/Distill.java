package org.distillery.kernel.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import com.google.gson.Gson;
import com.google.gson.JsonObject;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;

import org.distillery.api.ContributionInfo;
import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.InvalidFileException;
import org.distillery.eval.RunComparison;
import org.distillery.kernel.Kernel;
import org.distillery.kernel.KernelOptions;
import org.distillery.kernel.config.ExperimentException;
import org.distillery.kernel.config.ExperimentLoader;
import org.distillery.kernel.osgi.BundleProblems;
import org.distillery.kernel.run.ProgressDisplay;
import org.distillery.kernel.run.Run;
import org.distillery.kernel.run.RunManager;
import org.distillery.kit.io.AtomicFiles;
import org.distillery.tensor.InvalidTensorSettingException;
import org.distillery.tensor.ThreadPolicy;
import org.distillery.tensor.ThreadSettings;
import org.osgi.framework.Bundle;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The {@code distill} command. */
@Command(name = "distill", mixinStandardHelpOptions = true, versionProvider = Distill.VersionProvider.class,
        description = "Knowledge distillation of large language models on an OSGi kernel.",
        subcommands = {Distill.RunCommand.class, Distill.ResumeCommand.class, Distill.ValidateCommand.class,
            Distill.ListCommand.class, Distill.SwapCommand.class, Distill.StopCommand.class,
            Distill.ShellCommand.class, ModelCommand.class, DataCommand.class, TeacherCommand.class, SparkCommand.class, ServeCommand.class, EvalCommand.class, CompareCommand.class, MergeCommand.class, BenchCommand.class, DoctorCommand.class, CommandLine.HelpCommand.class},
        footer = {"", "Exit codes: 0 ok, 1 failed, 2 invalid input (usage, config, files), "
            + "3 run stopped before the end (checkpoint kept), 4 no answer from the run."})
public final class Distill implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** Entry point of {@code bin/distill}. */
    public static void main(String[] args) {
        System.setProperty("ai.djl.offline", System.getProperty("ai.djl.offline", "true"));
        System.exit(execute(args));
    }

    /** Runs the command line and returns the exit code. */
    public static int execute(String... args) {
        CommandLine cl = new CommandLine(new Distill());
        for (CommandContributor extra : java.util.ServiceLoader.load(CommandContributor.class)) {
            extra.commands().forEach(cl::addSubcommand);
        }
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            PrintWriter err = cmd.getErr();
            if (ex instanceof ExperimentException ee) {
                ee.problems().forEach(p -> err.println("error: " + p));
                err.flush();
                return ExitCodes.INVALID;
            }
            Throwable invalid = invalidInput(ex);
            if (invalid != null) {
                err.println("error: " + message(invalid));
                if (Boolean.getBoolean("distill.trace")) {
                    ex.printStackTrace(err);
                }
                err.flush();
                return ExitCodes.INVALID;
            }
            if (ex instanceof org.distillery.api.model.ImageInputException iie) {
                // an image that passed the dataset check but cannot be decoded when its batch is built
                err.println("error: " + iie.getMessage());
                err.flush();
                return ExitCodes.INVALID;
            }
            err.println("failed: " + BundleProblems.describe(ex));
            if (Boolean.getBoolean("distill.trace")) {
                ex.printStackTrace(err);
            }
            err.flush();
            return ExitCodes.FAILED;
        });
        cl.setParameterExceptionHandler((ex, a) -> {
            ex.getCommandLine().getErr().println("error: " + ex.getMessage());
            ex.getCommandLine().usage(ex.getCommandLine().getErr());
            return ExitCodes.INVALID;
        });
        return cl.execute(args);
    }

    /**
     * The invalid input behind a failure, wherever it sits in the cause chain: a bad config value,
     * a file that cannot be used (corrupt, truncated, unsupported, inconsistent), a missing file or
     * a run's own invalid-input report. {@code null} when the failure is not about input.
     */
    static Throwable invalidInput(Throwable ex) {
        for (Throwable c = ex; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof ExperimentException || c instanceof InvalidConfigException
                    || c instanceof InvalidFileException || c instanceof NoSuchFileException
                    || c instanceof InvalidTensorSettingException) {
                return c;
            }
        }
        return null;
    }

    private static String message(Throwable invalid) {
        if (invalid instanceof NoSuchFileException nsf) {
            return nsf.getFile() + ": " + (nsf.getReason() == null ? "no such file" : nsf.getReason());
        }
        if (invalid instanceof ExperimentException ee) {
            return String.join("\nerror: ", ee.problems());
        }
        return invalid.getMessage();
    }

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return ExitCodes.OK;
    }

    static Kernel boot(String device) throws Exception {
        return boot(device, ThreadPolicy.resolve(null));
    }

    static Kernel boot(String device, ThreadSettings threads) throws Exception {
        try {
            return Kernel.start(KernelOptions.forHome(Home.get(), device, threads));
        } catch (IllegalArgumentException e) {
            if (e.getMessage() != null && e.getMessage().startsWith("device ")) {
                throw new ExperimentException(List.of("experiment.device: " + e.getMessage()));
            }
            throw e;
        }
    }

    /** Loads an experiment and applies overrides; throws {@link ExperimentException} when it is bad. */
    static Config load(String experiment, List<String> sets) {
        ExperimentLoader loader = new ExperimentLoader(Home.get());
        Config c = loader.load(loader.locate(experiment), sets);
        loader.warnings().forEach(w -> System.err.println("warning: " + w));
        return c;
    }

    static int runToEnd(RunManager runs, Run run) throws Exception {
        Config c = run.config();
        ProgressDisplay display = new ProgressDisplay(System.out, ProgressDisplay.mode(c.getString("experiment.progress")),
                10);
        run.eventLog().listen(display::accept);
        runs.kernelTensors().loadWarning().ifPresent(w -> System.err.println("warning: " + w));
        System.out.println("run directory: " + run.runDir());
        try (run) {
            RunManager.Outcome o = runs.execute(run);
            Path table = o.runDir().resolve("results.md");
            if (o.completed() && Files.exists(table)) {
                System.out.println();
                System.out.print(Files.readString(table));
                if (Files.exists(o.runDir().resolve("report.html"))) {
                    System.out.println("report: " + o.runDir().resolve("report.html"));
                }
            }
            System.out.println((o.completed() ? "finished: " : "stopped: ") + o.runDir());
            return o.completed() ? ExitCodes.OK : ExitCodes.STOPPED;
        }
    }

    /** {@code distill run}. */
    @Command(name = "run", mixinStandardHelpOptions = true,
            description = "Run an experiment: a name in config/experiments or a .conf file.")
    static final class RunCommand implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "<experiment|file>", description = "experiment name or .conf file")
        String experiment;

        @Option(names = "--set", paramLabel = "path=value", description = "override a config value (repeatable)")
        List<String> sets = new ArrayList<>();

        @Override
        public Integer call() throws Exception {
            Config c = load(experiment, sets);
            List<Long> seeds = c.getLongList("experiment.seeds");
            try (Kernel kernel = boot(deviceOf(c), threadsOf(c))) {
                RunManager runs = new RunManager(kernel);
                if (seeds.isEmpty()) {
                    return runToEnd(runs, runs.create(runs.validate(c)));
                }
                List<RunManager.Plan> plans = new ArrayList<>();
                for (long seed : seeds) {
                    plans.add(runs.validate(c.withValue("experiment.seed", ConfigValueFactory.fromAnyRef(seed))));
                }
                List<Path> dirs = new ArrayList<>();
                for (RunManager.Plan plan : plans) {
                    Run run = runs.create(plan);
                    dirs.add(run.runDir());
                    System.out.println("seed " + plan.experiment().getLong("experiment.seed") + " of " + seeds);
                    int code = runToEnd(runs, run);
                    if (code != ExitCodes.OK) {
                        return code;
                    }
                }
                printSeedComparison(kernel, c, dirs);
                return ExitCodes.OK;
            }
        }
    }

    /**
     * {@code distill compare} over the runs of one experiment's seeds: mean ± sample standard
     * deviation of the columns its evaluation names (all figures when it names none).
     */
    static void printSeedComparison(Kernel kernel, Config experiment, List<Path> dirs) throws Exception {
        List<RunComparison.RunRecord> records = new ArrayList<>();
        for (Path d : dirs) {
            records.add(RunComparison.read(d));
        }
        List<String> columns = List.of();
        String evalColumns = "params.evaluate.columns";
        Config method = experiment.getConfig("method");
        var found = kernel.registry().find(ContributionKind.METHOD, method.getString("key"), Object.class);
        Config withDefaults = found.isPresent() ? method.withFallback(ConfigFactory.empty().withValue("params",
                found.get().defaults().root())) : method;
        if (withDefaults.hasPath(evalColumns)) {
            columns = withDefaults.getStringList(evalColumns);
        }
        RunComparison.Table table = RunComparison.compare(records, columns);
        System.out.println();
        System.out.println("mean ± std over " + dirs.size() + " seeds (distill compare " + String.join(" ",
                dirs.stream().map(Path::toString).toList()) + "):");
        System.out.print(RunComparison.render(table));
    }

    /** The experiment's device spec, checked for form (exit 2 when malformed). */
    static String deviceOf(Config c) {
        String spec = c.hasPath("experiment.device") ? c.getString("experiment.device") : "auto";
        try {
            org.distillery.tensor.DjlTensorService.checkSpec(spec);
        } catch (IllegalArgumentException e) {
            throw new ExperimentException(List.of("experiment.device: " + e.getMessage()));
        }
        return spec;
    }

    /**
     * The experiment's thread settings ({@code experiment.threads}, else {@code DISTILL_THREADS}, else the
     * cores available), checked for form (exit 2 when malformed).
     */
    static ThreadSettings threadsOf(Config c) {
        String configured = c.hasPath(ThreadPolicy.EXPERIMENT_KEY)
                ? String.valueOf(c.getValue(ThreadPolicy.EXPERIMENT_KEY).unwrapped()) : null;
        try {
            return ThreadPolicy.resolve(configured);
        } catch (InvalidTensorSettingException e) {
            throw new ExperimentException(List.of(e.getMessage()));
        }
    }

    /** {@code distill resume}. */
    @Command(name = "resume", mixinStandardHelpOptions = true,
            description = "Continue a run from its latest checkpoint.")
    static final class ResumeCommand implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "<run-dir>")
        Path runDir;

        @Override
        public Integer call() throws Exception {
            if (!Files.isRegularFile(runDir.resolve("config.conf"))) {
                throw new ExperimentException(List.of("run-dir: not a run directory, no config.conf (got \"" + runDir
                        + "\"; accepted: a folder made by distill run)"));
            }
            Config recorded = RunManager.readRecordedConfig(runDir);
            ThreadSettings threads = threadsOf(recorded);
            if (recorded.hasPath(ThreadPolicy.EXPERIMENT_KEY)
                    && recorded.getValue(ThreadPolicy.EXPERIMENT_KEY).unwrapped() instanceof Number) {
                threads = threads.withSource(threads.source() + ", recorded by the run");
            } else {
                System.err.println("note: " + runDir + " did not record its threads (made before they were recorded); "
                        + "using " + threads.describe());
            }
            try (Kernel kernel = boot(deviceOf(recorded), threads)) {
                RunManager runs = new RunManager(kernel);
                Run run = runs.reopen(runDir);
                run.events().event("resume-requested", Map.of());
                return runToEnd(runs, run);
            }
        }
    }

    /** {@code distill validate}. */
    @Command(name = "validate", mixinStandardHelpOptions = true,
            description = "Check an experiment without running it; prints the resolved config.")
    static final class ValidateCommand implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "<experiment|file>")
        String experiment;

        @Option(names = "--set", paramLabel = "path=value", description = "override a config value (repeatable)")
        List<String> sets = new ArrayList<>();

        @Option(names = "--quiet", description = "print nothing when valid")
        boolean quiet;

        @Override
        public Integer call() throws Exception {
            Config c = load(experiment, sets);
            deviceOf(c);
            try (Kernel kernel = boot("cpu")) {
                new RunManager(kernel).validate(c);
            }
            if (!quiet) {
                System.out.println(c.root().render(com.typesafe.config.ConfigRenderOptions.defaults()
                        .setOriginComments(false).setJson(false)));
            }
            return ExitCodes.OK;
        }
    }

    /** {@code distill list}. */
    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "List contributions (losses, samplers, trainers, methods, metrics, teachers, generators, "
                + "initializers, rewards, mergers) or bundles, with the bundle and version that provide each.")
    static final class ListCommand implements Callable<Integer> {
        @Parameters(index = "0", arity = "0..1", paramLabel = "<what>",
                description = "all (default), bundles, or a kind: losses, samplers, trainers, methods, metrics, "
                    + "teachers, generators, initializers, rewards, mergers")
        String what = "all";

        @Override
        public Integer call() throws Exception {
            List<ContributionKind> kinds;
            boolean bundles = what.equals("bundles") || what.equals("all");
            if (what.equals("all")) {
                kinds = List.of(ContributionKind.values());
            } else if (what.equals("bundles")) {
                kinds = List.of();
            } else {
                kinds = List.of(ContributionKind.byName(what).orElseThrow(() -> new ExperimentException(List.of(
                        "list: unknown kind (got \"" + what + "\"; accepted: all, bundles, "
                                + String.join(", ", java.util.Arrays.stream(ContributionKind.values())
                                .map(ContributionKind::plural).toList()) + ")"))));
            }
            try (Kernel kernel = boot("cpu")) {
                print(kernel, kinds, bundles);
            }
            return ExitCodes.OK;
        }
    }

    static void print(Kernel kernel, List<ContributionKind> kinds, boolean bundles) {
        for (ContributionKind k : kinds) {
            List<ContributionInfo> infos = kernel.registry().list(k);
            System.out.println(k.plural().toUpperCase(Locale.ROOT) + " (" + infos.size() + ")");
            for (ContributionInfo i : infos) {
                System.out.printf("  %-22s %-26s %-16s %s%n", i.key(), i.bundle(), i.version(), i.description());
            }
        }
        if (bundles) {
            System.out.println("BUNDLES");
            for (Bundle b : kernel.bundles()) {
                System.out.printf("  %-4d %-10s %-40s %s%n", b.getBundleId(), state(b.getState()),
                        BundleProblems.nameOf(b), b.getVersion());
            }
            for (BundleProblems.Problem p : kernel.problems().all()) {
                System.out.printf("  FAILED %s at %s: %s%n", p.bundle(), p.phase(), p.reason());
            }
        }
    }

    static String state(int s) {
        return switch (s) {
            case Bundle.ACTIVE -> "ACTIVE";
            case Bundle.RESOLVED -> "RESOLVED";
            case Bundle.INSTALLED -> "INSTALLED";
            case Bundle.STARTING -> "STARTING";
            case Bundle.STOPPING -> "STOPPING";
            default -> "UNINSTALLED";
        };
    }

    /** {@code distill swap}. */
    @Command(name = "swap", mixinStandardHelpOptions = true,
            description = "Change a loss term of a running run at its next step.")
    static final class SwapCommand implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "<run-dir>")
        Path runDir;

        @Parameters(index = "1", paramLabel = "<loss-key>")
        String key;

        @Option(names = "--term", description = "index of the loss term to replace (default 0)")
        int term;

        @Option(names = "--params", paramLabel = "HOCON", description = "parameters of the new loss, e.g. 'temperature=2'")
        String params = "";

        @Option(names = "--timeout", description = "seconds to wait for the run's answer (default 60)")
        int timeout = 60;

        @Override
        public Integer call() throws Exception {
            Path control = runDir.resolve(Run.CONTROL);
            if (!Files.isDirectory(control)) {
                throw new ExperimentException(List.of("run-dir: not a run directory (got \"" + runDir
                        + "\"; accepted: a folder made by distill run)"));
            }
            String id = "swap-" + System.currentTimeMillis();
            JsonObject req = new JsonObject();
            req.addProperty("term", term);
            req.addProperty("key", key);
            req.addProperty("params", params);
            AtomicFiles.writeString(control.resolve(id + ".swap.json"), new Gson().toJson(req));
            Path ack = control.resolve(id + ".ack.json");
            long deadline = System.currentTimeMillis() + timeout * 1000L;
            while (System.currentTimeMillis() < deadline) {
                if (Files.exists(ack)) {
                    JsonObject a = new Gson().fromJson(Files.readString(ack), JsonObject.class);
                    Files.deleteIfExists(ack);
                    if (a.get("applied").getAsBoolean()) {
                        System.out.println("swapped term " + term + " to " + key + " (from the next step)");
                        return ExitCodes.OK;
                    }
                    System.err.println("error: " + a.get("error").getAsString());
                    return ExitCodes.INVALID;
                }
                Thread.sleep(100);
            }
            Files.deleteIfExists(control.resolve(id + ".swap.json"));
            System.err.println("error: no answer from the run in " + timeout + " s (is it running?)");
            return ExitCodes.NO_ANSWER;
        }
    }

    /** {@code distill stop}. */
    @Command(name = "stop", mixinStandardHelpOptions = true,
            description = "Ask a running run to stop at its next step with a checkpoint (resume it later).")
    static final class StopCommand implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "<run-dir>")
        Path runDir;

        @Override
        public Integer call() throws Exception {
            Path control = runDir.resolve(Run.CONTROL);
            if (!Files.isDirectory(control)) {
                throw new ExperimentException(List.of("run-dir: not a run directory (got \"" + runDir + "\")"));
            }
            AtomicFiles.writeString(control.resolve("stop"), "stop\n");
            System.out.println("stop requested: " + runDir);
            return ExitCodes.OK;
        }
    }

    /** {@code distill shell}. */
    @Command(name = "shell", mixinStandardHelpOptions = true,
            description = "Start the kernel with the Gogo shell: lb, install, update, stop and distill:* commands "
                + "(distill:list, distill:run, distill:runs, distill:swap, distill:stop, distill:problems).")
    static final class ShellCommand implements Callable<Integer> {
        @Option(names = "--device", description = "auto, cpu, gpu or gpu:N (default auto)")
        String device = "auto";

        @Override
        public Integer call() throws Exception {
            try (Kernel kernel = Kernel.start(KernelOptions.forHome(Home.get(), device).withShell(true))) {
                GogoCommands.register(kernel, new RunManager(kernel));
                kernel.awaitStop();
            }
            return ExitCodes.OK;
        }
    }

    /** Prints the kernel version. */
    static final class VersionProvider implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Distill.class.getPackage().getImplementationVersion();
            return new String[] {"distill " + (v == null ? "dev" : v)};
        }
    }
}

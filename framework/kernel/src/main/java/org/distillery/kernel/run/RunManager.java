package org.distillery.kernel.run;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValueFactory;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.StageResult;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.Stage;
import org.distillery.api.train.TrainerFactory;
import org.distillery.kernel.Kernel;
import org.distillery.kernel.config.ConfigValidator;
import org.distillery.kernel.config.ExperimentException;
import org.distillery.kernel.config.ModelFolderCheck;
import org.distillery.train.KdStages;
import org.distillery.train.ResolvedKdStage;
import org.distillery.kit.io.AtomicFiles;
import org.distillery.tensor.ThreadPolicy;
import org.distillery.tensor.ThreadSettings;

/**
 * Creates run directories and runs a method's stages in order. A run directory holds
 * {@code config.conf} (the resolved experiment), {@code events.jsonl}, {@code stages/<name>/}
 * (checkpoints, best and final models, {@code result.json}) and {@code results.json}. A stage
 * with a {@code result.json} is complete and skipped on resume.
 */
public final class RunManager {

    /** Outcome of running an experiment. */
    public record Outcome(Path runDir, boolean completed, Map<String, Object> results) {
    }

    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues()
            .create();
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss");

    private final Kernel kernel;
    private final Map<String, Run> active = new ConcurrentHashMap<>();

    /** Creates a manager over a started kernel. */
    public RunManager(Kernel kernel) {
        this.kernel = kernel;
    }

    /**
     * A validated experiment: the method's stages, each {@link KdStage} resolved against the
     * experiment once ({@link ResolvedKdStage}), ready to run.
     *
     * @param experiment the resolved experiment
     * @param method the method's provenance, {@code key@bundle/version}
     * @param stages the stages in order
     */
    public record Plan(Config experiment, String method, List<Stage> stages) {
    }

    /**
     * Validates a resolved experiment against the defaults and the registry, resolving every stage
     * of its method; throws {@link ExperimentException} listing every problem found.
     */
    public Plan validate(Config experiment) {
        ConfigValidator v = new ConfigValidator((kind, key) -> kernel.registry().defaults(kind, key),
                kind -> kernel.registry().keys(kind));
        v.validate(experiment, ConfigValidator.experimentDefaults());
        String methodKey = experiment.getString("method.key");
        var method = kernel.registry().find(ContributionKind.METHOD, methodKey, MethodFactory.class).orElseThrow();
        List<String> problems = new ArrayList<>();
        List<Stage> stages;
        try {
            stages = method.factory().stages(experiment.getConfig("method.params").withFallback(method.defaults()));
        } catch (InvalidConfigException e) {
            throw new ExperimentException(List.of(e.getMessage()));
        }
        List<Stage> planned = new ArrayList<>();
        // model folders that would not load fail here, before a run directory exists
        List<String> folderProblems = ModelFolderCheck.problems(experiment, kernel.models());
        for (Stage s : stages) {
            if (kernel.registry().find(ContributionKind.TRAINER, s.trainer(), TrainerFactory.class).isEmpty()) {
                problems.add("method.key: method '" + methodKey + "' needs trainer '" + s.trainer()
                        + "', which no bundle provides (accepted trainers: "
                        + String.join(", ", kernel.registry().keys(ContributionKind.TRAINER)) + ")");
                continue;
            }
            if (!(s instanceof KdStage kd)) {
                planned.add(s);
                continue;
            }
            String where = kd.configPath().isEmpty() ? "" : " (in stage " + s.name() + ", " + kd.configPath() + ")";
            String suffix = where.isEmpty() ? " (in stage " + s.name() + ")" : where;
            try {
                ResolvedKdStage r = KdStages.resolve(experiment, kd);
                // the stage's own train, student and teacher blocks get the same checks as the experiment's
                v.validate(r.experiment(), ConfigValidator.experimentDefaults());
                for (String p : ModelFolderCheck.problems(r.experiment(), kernel.models())) {
                    if (!folderProblems.contains(p)) {
                        problems.add(p + suffix);
                    }
                }
                planned.add(r);
            } catch (ExperimentException e) {
                e.problems().forEach(p -> problems.add(p + suffix));
            } catch (InvalidConfigException e) {
                problems.add(e.getMessage() + suffix);
            } catch (com.typesafe.config.ConfigException e) {
                problems.add("train: " + e.getMessage() + suffix);
            }
        }
        problems.addAll(org.distillery.kernel.config.VocabCheck.problems(experiment, kernel.models()));
        problems.addAll(folderProblems);
        if (problems.isEmpty()) {
            // records (and their images) are read only once the configuration itself is sound
            problems.addAll(org.distillery.kernel.config.DatasetCheck.problems(experiment, planned, kernel.data(),
                    kernel.models()));
        }
        if (!problems.isEmpty()) {
            throw new ExperimentException(problems.stream().distinct().toList());
        }
        return new Plan(experiment, method.info().coordinates(), List.copyOf(planned));
    }

    /**
     * Creates a fresh run directory for a validated experiment; written whole or not at all. Its
     * {@code config.conf} records the thread count the engine runs with ({@code experiment.threads},
     * resolved from {@code auto}), which {@code distill resume} uses again: results are bit-identical
     * for a fixed count only.
     */
    public Run create(Plan plan) throws IOException {
        ThreadSettings threads = kernel.tensors().threads();
        Config experiment = plan.experiment().withValue(ThreadPolicy.EXPERIMENT_KEY,
                ConfigValueFactory.fromAnyRef(threads.intraOp(), "resolved from " + threads.source()));
        plan = new Plan(experiment, plan.method(), plan.stages());
        Path out = Path.of(experiment.getString("experiment.output-dir")).toAbsolutePath().normalize();
        Files.createDirectories(out);
        String base = experiment.getString("experiment.name") + "-" + LocalDateTime.now().format(STAMP);
        Path dir;
        Path staging;
        for (int i = 1; ; i++) {
            dir = out.resolve(i == 1 ? base : base + "-" + i);
            staging = out.resolve("." + dir.getFileName() + ".tmp");
            if (Files.exists(dir)) {
                continue;
            }
            try {
                // claims the name: runs started in the same second in the same folder each get their own
                Files.createDirectory(staging);
                break;
            } catch (java.nio.file.FileAlreadyExistsException taken) {
                // another process is creating this run directory (or left its staging behind)
            }
        }
        Files.writeString(staging.resolve("config.conf"), experiment.root().render(
                ConfigRenderOptions.defaults().setOriginComments(false).setJson(false)));
        Files.createDirectories(staging.resolve(Run.CONTROL));
        AtomicFiles.commit(staging, dir);
        return open(dir, plan);
    }

    /** The resolved experiment a run directory recorded in its {@code config.conf}. */
    public static Config readRecordedConfig(Path dir) {
        Path conf = dir.resolve("config.conf");
        if (!Files.isRegularFile(conf)) {
            throw new ExperimentException(List.of("run-dir: not a run directory, no config.conf (got \"" + dir
                    + "\"; accepted: a folder made by distill run)"));
        }
        try {
            return ConfigFactory.parseFile(conf.toFile(), ConfigParseOptions.defaults()).resolve();
        } catch (com.typesafe.config.ConfigException e) {
            throw new ExperimentException(List.of("run-dir: " + conf + " cannot be read: " + e.getMessage()));
        }
    }

    /** Reopens an existing run directory to continue it. */
    public Run reopen(Path dir) throws IOException {
        Config experiment = readRecordedConfig(dir);
        Plan plan = validate(experiment);
        Files.createDirectories(dir.resolve(Run.CONTROL));
        return open(dir, plan);
    }

    private Run open(Path dir, Plan plan) throws IOException {
        JsonlEventLog log = new JsonlEventLog(dir.resolve("events.jsonl"));
        Run run = new Run(dir, plan, log, kernel.tensors(), kernel.registry(), kernel.models(), kernel.data());
        active.put(run.runId(), run);
        return run;
    }

    /**
     * Runs every stage not yet complete; returns when done or stopped. Holds the run's lock
     * meanwhile and records a failure before rethrowing it ({@link RunStatus}).
     */
    public Outcome execute(Run run) throws Exception {
        try (RunStatus.Lock lock = RunStatus.lock(run.runDir())) {
            try {
                return executeStages(run);
            } catch (Exception | Error e) {
                RunStatus.recordFailure(run.runDir(), run.events(), e);
                throw e;
            }
        }
    }

    private Outcome executeStages(Run run) throws Exception {
        try {
            ThreadSettings threads = applyRecordedThreads(run);
            kernel.tensors().seed(run.seed());
            List<Stage> stages = run.plan().stages();
            Map<String, Object> started = new LinkedHashMap<>();
            started.put("method", run.plan().method());
            started.put("stages", stages.stream().map(Stage::name).toList());
            started.put("engine", kernel.tensors().engineDescription());
            started.put("threads", threads.toEvent());
            started.put("engine_info", kernel.tensors().engineInfo().toEvent());
            kernel.tensors().loadWarning().ifPresent(w -> started.put("load_warning", w));
            run.events().event("run-started", started);
            Map<String, Object> results = new LinkedHashMap<>();
            boolean completed = true;
            for (Stage stage : stages) {
                Path resultFile = run.runDir().resolve("stages").resolve(stage.name()).resolve("result.json");
                if (Files.exists(resultFile)) {
                    results.put(stage.name(), GSON.fromJson(Files.readString(resultFile), JsonObject.class));
                    continue;
                }
                var trainer = kernel.registry().find(ContributionKind.TRAINER, stage.trainer(), TrainerFactory.class)
                        .orElseThrow(() -> new IllegalStateException("trainer " + stage.trainer() + " vanished"));
                run.events().event("stage-started", Map.of("stage", stage.name(), "trainer",
                        trainer.info().coordinates()));
                StageResult r = trainer.factory().create().run(run, stage);
                Map<String, Object> rec = new LinkedHashMap<>();
                rec.put("steps", r.stepsDone());
                rec.put("model", r.model() == null ? null : r.model().toString());
                rec.put("metrics", r.metrics());
                rec.put("stopped", r.stopped());
                run.events().event("stage-finished", Map.of("stage", stage.name(), "steps", r.stepsDone(),
                        "stopped", r.stopped()));
                if (r.stopped()) {
                    completed = false;
                    results.put(stage.name(), rec);
                    break;
                }
                AtomicFiles.writeString(resultFile, GSON.toJson(rec));
                results.put(stage.name(), rec);
            }
            AtomicFiles.writeString(run.runDir().resolve("results.json"), GSON.toJson(results));
            Map<String, Object> end = new LinkedHashMap<>();
            end.put("run", run.runId());
            org.distillery.tensor.TensorAudit audit = kernel.tensors().audit();
            if (audit.mode() != org.distillery.tensor.TensorAudit.Mode.OFF) {
                end.put("tensor_audit", audit.describe());
                end.put("tensor_audit_violations", audit.violationCount());
            }
            run.events().event(completed ? "run-finished" : "run-stopped", end);
            return new Outcome(run.runDir(), completed, results);
        } finally {
            active.remove(run.runId());
        }
    }

    /**
     * Makes the engine run with the thread count the run recorded (a kernel started for another run,
     * as in the shell, may have another; PyTorch has one pool per process, so this sets it for all).
     */
    private ThreadSettings applyRecordedThreads(Run run) {
        ThreadSettings now = kernel.tensors().threads();
        Config c = run.config();
        if (c.hasPath(ThreadPolicy.EXPERIMENT_KEY)
                && c.getValue(ThreadPolicy.EXPERIMENT_KEY).unwrapped() instanceof Number n
                && n.intValue() != now.intraOp()) {
            ThreadSettings set = kernel.tensors().setThreads(new ThreadSettings(n.intValue(), now.interOp(),
                    ThreadPolicy.EXPERIMENT_KEY + " = " + n.intValue() + ", recorded by the run"));
            run.events().event("threads-changed", Map.of("from", now.intraOp(), "to", set.intraOp()));
            return set;
        }
        return now;
    }

    /** The kernel's tensor service. */
    public org.distillery.tensor.DjlTensorService kernelTensors() {
        return kernel.tensors();
    }

    /** A run of this process by id. */
    public Optional<Run> active(String runId) {
        return Optional.ofNullable(active.get(runId));
    }

    /** Ids of the runs in this process. */
    public List<String> activeIds() {
        return List.copyOf(active.keySet());
    }
}

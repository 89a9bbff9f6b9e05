package org.distillery.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import com.typesafe.config.Config;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;

import org.distillery.api.ContributionKind;
import org.distillery.api.ContributionRef;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Datasets;
import org.distillery.api.data.Example;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossContext;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;
import org.distillery.api.loss.StepClock;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Logits;
import org.distillery.api.model.ModelConfig;
import org.distillery.api.model.ModelOutput;
import org.distillery.api.model.OutputHead;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.run.RunContext;
import org.distillery.api.run.SwapRequest;
import org.distillery.api.sampler.Sampler;
import org.distillery.api.sampler.SamplerContext;
import org.distillery.api.sampler.SamplerFactory;
import org.distillery.api.teacher.Teacher;
import org.distillery.api.teacher.TeacherOutput;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.Stage;
import org.distillery.api.train.StageResult;
import org.distillery.api.train.Trainer;
import org.distillery.api.train.TrainerFactory;
import org.distillery.eval.Decoding;
import org.distillery.eval.Evaluator;
import org.distillery.kit.data.Records;
import org.distillery.kit.io.AtomicFiles;
import org.distillery.kit.optim.AdamW;
import org.distillery.teachers.RunTeachers;

/**
 * {@code train.kd}: supervised distillation. Each step draws {@code grad-accum} micro-batches,
 * scores them with the teacher (no gradients) when a term needs it, and minimises the weighted
 * sum of loss terms, normalised by the loss tokens of all micro-batches together. Each step
 * runs in its own NDManager, seeds the engine with {@code seed + step} (so a resumed run draws
 * the same randomness) and looks its loss terms up in the registry (hot swap).
 *
 * <p>Only the student parameters the stage names trainable ({@link ResolvedKdStage#trainable()},
 * prefixes of their names; all when empty) record gradients and are optimised; the others stay
 * frozen, though gradients still flow through them to earlier trainable ones (a LLaVA projector
 * learns through a frozen language model). Batches with images hand their pixel values to the
 * student's and the teacher's forward passes; a teacher that scores them must take the same images
 * the same way ({@link org.distillery.api.model.VisionInput#describe()}).
 */
public final class KdTrainer implements Trainer {

    @Override
    public StageResult run(RunContext run, Stage given) throws Exception {
        ResolvedKdStage stage;
        if (given instanceof ResolvedKdStage r) {
            stage = r;
        } else if (given instanceof KdStage k) {
            stage = KdStages.resolve(run.config(), k);
        } else {
            throw new IllegalArgumentException(KdStage.TRAINER + " runs KdStages, not " + given);
        }
        Config cfg = stage.experiment();
        double evalTemperature = cfg.getDouble("train.eval-temperature");
        Decoding evalDecoding = evalTemperature > 0
                ? new Decoding(true, (float) evalTemperature, 0, 1f, List.of(run.seed())) : Decoding.greedy();
        TrainSettings s = stage.settings();
        Path stageDir = run.runDir().resolve("stages").resolve(stage.name());
        Files.createDirectories(stageDir);
        Tokenizer tokenizer = RunTeachers.tokenizer(run.models(), cfg);
        try (Teacher teacher = RunTeachers.open(run, cfg, tokenizer, s.maxLength(), sharedDir(run));
             LanguageModel student = stage.initFrom().isEmpty() ? StudentModels.create(run, cfg, teacher, tokenizer)
                     : StudentModels.fromStage(run, stage.initFrom())) {
            if (teacher != null) {
                teacher.attachStudent(student);
            }
            ModelConfig teacherConfig = teacher == null ? null : teacher.model().map(LanguageModel::config).orElse(null);
            StageClock clock = new StageClock(s.steps());
            List<LossTerm> terms = new ArrayList<>();
            for (int i = 0; i < stage.loss().size(); i++) {
                terms.add(new LossTerm(i, stage.loss().get(i), new LossContext(run.manager(), run.seed(), run.registry(),
                        student.config(), teacherConfig, "train.loss[" + i + "].params", clock)));
            }
            for (LossTerm t : terms) {
                if (t.resolve(run) == LossTerm.Resolution.MISSING) {
                    throw new InvalidConfigException("train.loss[" + t.index + "].key", "no registered loss", t.key,
                            String.join(", ", run.registry().list(ContributionKind.LOSS).stream()
                                    .map(i -> i.key()).toList()));
                }
            }
            if (teacher == null) {
                for (LossTerm t : terms) {
                    if (t.loss.needs().contains(Loss.Need.TEACHER_LOGITS) || t.loss.needs().contains(Loss.Need.TEACHER_HIDDEN)) {
                        throw new InvalidConfigException("teacher.key", "loss " + t.key + " needs a teacher but none is set",
                                "\"\"", String.join(", ", run.registry().list(ContributionKind.TEACHER).stream()
                                        .map(i -> i.key()).toList()));
                    }
                }
            }
            checkImageInputs(student, teacher);
            Map<String, NDArray> params = trainable(student, stage.trainable());
            params.values().forEach(p -> p.setRequiresGradient(true));
            if (params.size() < student.parameters().size()) {
                run.events().event("frozen", Map.of("stage", stage.name(), "trainable", stage.trainable(),
                        "trainable-parameters", params.values().stream().mapToLong(NDArray::size).sum(),
                        "frozen-parameters", student.parameters().entrySet().stream()
                                .filter(e -> !params.containsKey(e.getKey())).mapToLong(e -> e.getValue().size()).sum()));
            }
            AdamW optimizer = new AdamW(params, s.beta1(), s.beta2(), s.eps(), s.weightDecay(), run.manager());
            Sampler sampler = openSampler(run, stage.sampler(), s, tokenizer, student, teacher);
            LrSchedule schedule = new LrSchedule(s.schedule(), s.lr(), s.minLr(), s.warmupSteps(), s.steps());
            List<Example> validationExamples = validationExamples(run, s);
            String vocabPolicy = cfg.getString("tokenizer.vocab-policy");
            Path tokenizerDir = RunTeachers.tokenizerDir(cfg);
            List<Records.Encoded> validation = new ArrayList<>();
            for (Example e : validationExamples) {
                try {
                    validation.add(Records.encode(e, tokenizer, s.maxLength(), student.vision().orElse(null)));
                } catch (IllegalArgumentException bad) {
                    throw new InvalidConfigException("data.validation-file", bad.getMessage(),
                            run.datasets().file(Datasets.Split.VALIDATION).map(Path::toString).orElse(""),
                            "records the student can take");
                }
            }

            StageProgress progress = new StageProgress();
            progress.stage = stage.name();
            progress.bestScore = s.minimize() ? Double.POSITIVE_INFINITY : Double.NEGATIVE_INFINITY;
            Checkpoints checkpoints = new Checkpoints(run, stageDir, stage.name());
            Checkpoints.Parts parts = new Checkpoints.Parts(student, teacher, optimizer, sampler, terms, s);
            Optional<Path> resumeFrom = checkpoints.latestValid();
            if (resumeFrom.isPresent()) {
                Path ckpt = resumeFrom.get();
                progress = checkpoints.restore(ckpt, parts);
                run.events().event("resumed", Map.of("stage", stage.name(), "step", progress.step,
                        "checkpoint", ckpt.getFileName().toString()));
            }
            run.events().event("output-layer", Map.of("stage", stage.name(), "logits",
                    s.fusedOutput() && student.outputHead().isPresent() ? "fused" : "materialised"));
            boolean stopped = false;
            long lastCheckpoint = resumeFrom.isPresent() ? progress.step : -1;
            while (progress.step < s.steps()) {
                applySwaps(run, terms);
                if (!resolveTerms(run, terms, s)) {
                    stopped = true;
                    break;
                }
                if (run.stopRequested()) {
                    stopped = true;
                    break;
                }
                clock.step = progress.step;
                String before = sampler.position();
                try {
                    step(run, s, terms, student, params, teacher, sampler, stage.sampler().key(), optimizer, schedule,
                            progress, vocabPolicy);
                } catch (ContributionFailure failure) {
                    // nothing of the failed step reached the weights or the optimizer: keep the state before it
                    sampler.seek(before);
                    if (lastCheckpoint != progress.step) {
                        checkpoints.save(parts, progress);
                    }
                    run.events().event("stopping", Map.of("stage", stage.name(), "step", progress.step + 1,
                            "reason", failure.getMessage() + " at step " + (progress.step + 1)
                                    + "; stopped with the checkpoint of step " + progress.step
                                    + " (fix the cause, then distill resume)"));
                    if (failure.invalidInput().isPresent()) {
                        throw failure.invalidInput().get();
                    }
                    return new StageResult(progress.step, null, Map.of("train.loss", progress.lastLoss), true);
                }
                progress.step++;
                boolean last = progress.step == s.steps();
                if (s.evalEvery() > 0 && !validation.isEmpty() && (progress.step % s.evalEvery() == 0 || last)) {
                    double score = validate(run, s, evalDecoding, stage.name(), progress.step, student, teacher, tokenizer,
                            validation, validationExamples);
                    if (s.minimize() ? score < progress.bestScore : score > progress.bestScore) {
                        progress.bestScore = score;
                        progress.bestStep = progress.step;
                        progress.sinceBest = 0;
                        saveModel(run, student, stageDir.resolve("best"), tokenizerDir);
                    } else if (s.patience() > 0 && ++progress.sinceBest >= s.patience()) {
                        run.events().event("early-stop", Map.of("stage", stage.name(), "step", progress.step,
                                "best-step", progress.bestStep));
                        checkpoints.save(parts, progress);
                        lastCheckpoint = progress.step;
                        break;
                    }
                }
                if (s.checkpointEvery() > 0 && progress.step % s.checkpointEvery() == 0) {
                    checkpoints.save(parts, progress);
                    lastCheckpoint = progress.step;
                }
            }
            if (lastCheckpoint != progress.step) {
                checkpoints.save(parts, progress);
            }
            Path finalModel = stageDir.resolve("final");
            saveModel(run, student, finalModel, tokenizerDir);
            Path selected = Files.exists(stageDir.resolve("best")) && s.selectBest() ? stageDir.resolve("best") : finalModel;
            Map<String, Double> metrics = new LinkedHashMap<>();
            metrics.put("train.loss", progress.lastLoss);
            if (progress.bestStep >= 0) {
                metrics.put("val." + s.selectMetric().replaceFirst("^val\\.", ""), progress.bestScore);
                metrics.put("val.best-step", (double) progress.bestStep);
            }
            return new StageResult(progress.step, selected, metrics, stopped);
        }
    }

    /** Where teachers keep what several runs share: the folder holding the run directories. */
    static Path sharedDir(RunContext run) {
        Path parent = run.runDir().toAbsolutePath().getParent();
        return parent == null ? run.runDir() : parent;
    }

    private static Sampler openSampler(RunContext run, ContributionRef ref, TrainSettings s, Tokenizer tok,
                                       LanguageModel student, Teacher teacher) {
        var c = run.registry().find(ContributionKind.SAMPLER, ref.key(), SamplerFactory.class)
                .orElseThrow(() -> new InvalidConfigException("train.sampler.key", "no registered sampler",
                        ref.key(), String.join(", ", run.registry().list(ContributionKind.SAMPLER).stream()
                                .map(i -> i.key()).toList())));
        return c.factory().create(new SamplerContext(run, run.datasets(), tok, student, teacher, s.batchSize(),
                s.maxLength(), "train.sampler.params"), ref.params().withFallback(c.defaults()));
    }

    private static void applySwaps(RunContext run, List<LossTerm> terms) {
        for (SwapRequest req : run.takeSwapRequests()) {
            if (req.term() < 0 || req.term() >= terms.size()) {
                run.acknowledgeSwap(req, "term " + req.term() + " does not exist; the run has " + terms.size()
                        + " loss term(s)");
                continue;
            }
            if (run.registry().find(ContributionKind.LOSS, req.key(), org.distillery.api.loss.LossFactory.class).isEmpty()) {
                run.acknowledgeSwap(req, "no registered loss '" + req.key() + "'");
                continue;
            }
            terms.get(req.term()).retarget(req.key(), req.params());
            run.acknowledgeSwap(req, null);
        }
    }

    /** Resolves every term, waiting up to the configured time for a vanished loss; false means stop. */
    private static boolean resolveTerms(RunContext run, List<LossTerm> terms, TrainSettings s)
            throws InterruptedException {
        for (LossTerm t : terms) {
            LossTerm.Resolution r = t.resolve(run);
            if (r != LossTerm.Resolution.MISSING) {
                continue;
            }
            run.events().event("loss-missing", Map.of("term", t.index, "key", t.key, "wait-ms", s.hotSwapWaitMillis()));
            long deadline = System.currentTimeMillis() + s.hotSwapWaitMillis();
            while (r == LossTerm.Resolution.MISSING && System.currentTimeMillis() < deadline && !run.stopRequested()) {
                Thread.sleep(50);
                r = t.resolve(run);
            }
            if (r == LossTerm.Resolution.MISSING) {
                run.events().event("stopping", Map.of("reason", "loss '" + t.key + "' vanished and did not come back within "
                        + s.hotSwapWaitMillis() + " ms"));
                return false;
            }
            run.events().event("loss-returned", Map.of("term", t.index, "key", t.key,
                    "provider", t.current.info().coordinates()));
        }
        return true;
    }

    /**
     * One step, holding the engine for its whole length: the engine's random generator and its one
     * gradient collector are process-wide, so two runs in one kernel take turns step by step and
     * each draws what it would draw alone ({@link org.distillery.api.tensor.TensorService#exclusive}).
     */
    private static void step(RunContext run, TrainSettings s, List<LossTerm> terms, LanguageModel student,
                             Map<String, NDArray> trained, Teacher teacher, Sampler sampler, String samplerKey,
                             AdamW optimizer, LrSchedule schedule, StageProgress progress, String vocabPolicy)
            throws Exception {
        run.tensors().exclusive(run.seed() * 7919 + progress.step, () -> {
            stepHoldingEngine(run, s, terms, student, trained, teacher, sampler, samplerKey, optimizer, schedule,
                    progress, vocabPolicy);
            return null;
        });
    }

    private static void stepHoldingEngine(RunContext run, TrainSettings s, List<LossTerm> terms, LanguageModel student,
                                          Map<String, NDArray> trained, Teacher teacher, Sampler sampler, String samplerKey, AdamW optimizer,
                                          LrSchedule schedule, StageProgress progress, String vocabPolicy) {
        long t0 = System.nanoTime();
        boolean needTeacher = false;
        boolean needStudentHidden = false;
        boolean needTeacherHidden = false;
        for (LossTerm t : terms) {
            Set<Loss.Need> needs = t.loss.needs();
            needTeacher |= needs.contains(Loss.Need.TEACHER_LOGITS) || needs.contains(Loss.Need.TEACHER_HIDDEN);
            needStudentHidden |= needs.contains(Loss.Need.STUDENT_HIDDEN);
            needTeacherHidden |= needs.contains(Loss.Need.TEACHER_HIDDEN);
        }
        double[] termSums = new double[terms.size()];
        long tData;
        long tModel;
        long tOptim;
        Map<String, Object> fig = new LinkedHashMap<>();
        double lossSum = 0;
        long tokens = 0;
        double lossWeight = 0;
        try (NDManager step = run.tensors().newStepScope(run.manager())) {
            List<TokenBatch> micro = new ArrayList<>(s.gradAccum());
            for (int i = 0; i < s.gradAccum(); i++) {
                TokenBatch b = ContributionFailure.call(() -> "sampler " + samplerKey, () -> sampler.next(step));
                micro.add(b);
                // the loss masks' sum: the counted tokens, each with its record's weight when weighted
                lossWeight += b.lossMask().sum().getFloat();
                tokens += (long) b.attentionMask().sum().getFloat();
            }
            tData = System.nanoTime();
            float norm = lossWeight > 0 ? (float) lossWeight : 1f;
            OutputHead head = s.fusedOutput() ? student.outputHead().orElse(null) : null;
            for (TokenBatch b : micro) {
                boolean teacherHidden = needTeacherHidden;
                TeacherOutput tout = needTeacher ? ContributionFailure.call(() -> "teacher " + teacher.identity(),
                        () -> teacher.score(b, teacherHidden, step)) : null;
                if (tout != null) {
                    tout = teacherLogits(tout, head != null, vocabPolicy.equals("truncate-teacher")
                            ? student.config().vocabSize() : Long.MAX_VALUE);
                }
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    ForwardOptions opts = ForwardOptions.train().withMask(b.attentionMask())
                            .withPixelValues(b.pixelValues());
                    if (needStudentHidden) {
                        opts = opts.withHiddenStates();
                    }
                    if (head != null) {
                        opts = opts.withoutHead();
                    }
                    ModelOutput out = student.forward(b.inputIds(), opts);
                    Logits logits = head != null ? Logits.fused(out.finalHidden(), head) : Logits.of(out.logits());
                    LossInput in = new LossInput(b, logits, out.hiddenStates(), tout,
                            tout == null ? List.of() : tout.hiddenStates(), step, gc);
                    NDArray total = null;
                    for (LossTerm t : terms) {
                        LossValue v = ContributionFailure.call(() -> "loss term " + t.index + " ("
                                + t.current.info().coordinates() + ")", () -> t.loss.compute(in));
                        termSums[t.index] += v.sum().getFloat();
                        NDArray weighted = v.sum().mul(step.create((float) t.weight));
                        total = total == null ? weighted : total.add(weighted);
                    }
                    NDArray scaled = total.div(step.create(norm));
                    lossSum += scaled.getFloat();
                    gc.backward(scaled);
                }
            }
            tModel = System.nanoTime();
            Map<String, NDArray> trainable = new LinkedHashMap<>(trained);
            for (LossTerm t : terms) {
                Map<String, NDArray> lp = t.namedParameters();
                if (!lp.isEmpty() && t.optimizerOf != t.loss) {
                    t.optimizer = new AdamW(lp, s.beta1(), s.beta2(), s.eps(), s.weightDecay(), run.manager());
                    t.optimizerOf = t.loss;
                }
                trainable.putAll(lp);
            }
            double gradNorm = AdamW.gradientNorm(trainable, step);
            double scale = 1.0;
            boolean finite = Double.isFinite(gradNorm);
            if (finite && s.clipNorm() > 0 && gradNorm > s.clipNorm()) {
                scale = s.clipNorm() / (gradNorm + 1e-6);
            }
            double lr = schedule.at(progress.step);
            if (finite) {
                optimizer.step(lr, scale);
                for (LossTerm t : terms) {
                    if (t.optimizer != null && t.optimizerOf == t.loss) {
                        t.optimizer.step(lr, scale);
                    }
                }
            }
            AdamW.zeroGradients(trainable, step);
            tOptim = System.nanoTime();
            progress.lastLoss = lossSum;
            double seconds = (tOptim - t0) / 1e9;
            fig.put("stage", progress.stage);
            fig.put("of", s.steps());
            fig.put("loss", lossSum);
            Map<String, Object> termFigures = new LinkedHashMap<>();
            for (LossTerm t : terms) {
                termFigures.put(t.index + ":" + t.key, termSums[t.index] / norm);
            }
            fig.put("terms", termFigures);
            Map<String, Double> samplerFigures = sampler.figures();
            if (!samplerFigures.isEmpty()) {
                fig.put("sampler", samplerFigures);
            }
            fig.put("lr", lr);
            fig.put("grad-norm", gradNorm);
            fig.put("tokens", tokens);
            fig.put("tokens-per-s", tokens / Math.max(seconds, 1e-9));
            fig.put("ms", Map.of("data", (tData - t0) / 1e6, "forward-backward", (tModel - tData) / 1e6,
                    "optimizer", (tOptim - tModel) / 1e6));
            if (!finite) {
                fig.put("skipped", "non-finite gradient");
            }
        }
        // measured after the step's manager is closed: what the run holds between steps
        var memory = run.tensors().memory();
        fig.put("tensor-bytes", memory.tensorBytes());
        fig.put("native-bytes", memory.hostBytes());
        run.events().step(progress.step + 1, fig);
    }

    /**
     * The teacher's output as the step's losses read it: its logits left fused when the student's are
     * (else materialised, the unfused path throughout), and cut to the student's first {@code vocab}
     * entries under {@code tokenizer.vocab-policy = truncate-teacher} ({@code Long.MAX_VALUE}: no cut).
     */
    static TeacherOutput teacherLogits(TeacherOutput tout, boolean fused, long vocab) {
        if (!tout.hasLogits()) {
            return tout;
        }
        Logits view = tout.logitsView();
        boolean cut = view.vocab() > vocab;
        if (fused && !cut) {
            return tout;
        }
        List<NDArray> samples = cut ? tout.logitSamples().stream().map(l -> l.get(":, :, :" + vocab)).toList()
                : tout.logitSamples();
        Logits kept = cut ? view.truncated(vocab) : view;
        if (fused && kept.isFused() && !kept.isMaterialised()) {
            return new TeacherOutput(null, null, null, null, tout.hiddenStates(), samples, kept);
        }
        return new TeacherOutput(kept.full(), null, null, null, tout.hiddenStates(), samples);
    }

    static double evaluate(RunContext run, LanguageModel model, List<Records.Encoded> data, TrainSettings s,
                           int padId) {
        double sum = 0;
        double count = 0;
        int limit = Math.min(data.size(), s.evalBatches() * s.batchSize());
        for (int i = 0; i < limit; i += s.batchSize()) {
            try (NDManager step = run.tensors().newStepScope(run.manager())) {
                TokenBatch b = Records.batch(data.subList(i, Math.min(limit, i + s.batchSize())), padId, step,
                        model.vision().orElse(null));
                ModelOutput out = model.forward(b.inputIds(), ForwardOptions.inference().withMask(b.attentionMask())
                        .withPixelValues(b.pixelValues()));
                out.logits().attach(step);
                NDArray logp = out.logits().logSoftmax(-1);
                NDArray picked = logp.gather(b.targets().expandDims(-1), -1).squeeze(-1);
                sum -= picked.mul(b.lossMask()).sum().getFloat();
                count += b.lossMask().sum().getFloat();
            }
        }
        return count == 0 ? Double.NaN : sum / count;
    }

    /**
     * The student parameters that train: those whose names start with one of {@code prefixes}, or
     * all when there are none; the others are frozen (no gradient recorded). A prefix ending in
     * {@code ?} may name no parameter (e.g. {@code lm_head.?}, absent when the head is tied).
     *
     * @throws InvalidConfigException at {@code train.trainable} for a prefix that names no parameter
     */
    static Map<String, NDArray> trainable(LanguageModel student, List<String> prefixes) {
        Map<String, NDArray> all = student.parameters();
        if (prefixes.isEmpty()) {
            return all;
        }
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (String given : prefixes) {
            boolean optional = given.endsWith("?");
            String prefix = optional ? given.substring(0, given.length() - 1) : given;
            boolean any = optional;
            for (Map.Entry<String, NDArray> e : all.entrySet()) {
                if (e.getKey().startsWith(prefix)) {
                    out.put(e.getKey(), e.getValue());
                    any = true;
                }
            }
            if (!any) {
                java.util.Set<String> groups = new java.util.TreeSet<>();
                for (String n : all.keySet()) {
                    int dot = n.indexOf('.', n.indexOf('.') + 1);
                    groups.add(dot > 0 ? n.substring(0, dot + 1) : n);
                }
                throw new InvalidConfigException("train.trainable", "names no parameter of the "
                        + student.config().modelType() + " student", prefix, "prefixes such as " + groups);
            }
        }
        if (out.isEmpty()) {
            throw new InvalidConfigException("train.trainable", "names no parameter of the student", prefixes.toString(),
                    "prefixes of parameter names");
        }
        for (Map.Entry<String, NDArray> e : all.entrySet()) {
            if (!out.containsKey(e.getKey())) {
                e.getValue().setRequiresGradient(false);
            }
        }
        return out;
    }

    /**
     * A teacher that scores a student's image batches must take images as the student does: same
     * image token, tokens per image and preprocessing.
     */
    static void checkImageInputs(LanguageModel student, Teacher teacher) {
        var sv = student.vision();
        var tv = teacher == null ? java.util.Optional.<org.distillery.api.model.VisionInput>empty()
                : teacher.model().flatMap(LanguageModel::vision);
        if (sv.isPresent() && tv.isPresent() && !sv.get().describe().equals(tv.get().describe())) {
            throw new InvalidConfigException("teacher.params.model-dir", "the teacher takes images differently from "
                    + "the student (teacher: " + tv.get().describe() + "; student: " + sv.get().describe() + ")",
                    null, "a teacher with the student's image token, tokens per image and preprocessor_config.json");
        }
    }

    /** The validation records an evaluation uses: the first eval-batches x batch-size of data.validation-file. */
    private static List<Example> validationExamples(RunContext run, TrainSettings s) {
        if (run.datasets().file(Datasets.Split.VALIDATION).isEmpty()) {
            return List.of();
        }
        List<Example> all = run.datasets().read("", Datasets.Split.VALIDATION, "train.eval-every");
        return all.subList(0, Math.min(all.size(), s.evalBatches() * s.batchSize()));
    }

    /**
     * Evaluates on validation data, logs an {@code eval} event and returns the selection score:
     * {@code val.loss}, or the figure {@code select-metric} of the metric {@code select-metric-key}.
     */
    private static double validate(RunContext run, TrainSettings s, Decoding decoding, String stage, long step,
                                   LanguageModel student,
                                   Teacher teacher, Tokenizer tok, List<Records.Encoded> validation,
                                   List<Example> examples) {
        double valLoss = evaluate(run, student, validation, s, tok.padId());
        Map<String, Object> fig = new LinkedHashMap<>();
        fig.put("stage", stage);
        fig.put("step", step);
        fig.put("val.loss", valLoss);
        fig.put("val.ppl", Math.exp(valLoss));
        double score = valLoss;
        if (!s.selectMetricKey().isEmpty()) {
            LanguageModel teacherModel = teacher == null ? null : teacher.model().orElse(null);
            var result = new Evaluator(run, s.evalMaxNewTokens(), s.batchSize(), decoding).evaluate(
                    student, teacherModel, tok, examples,
                    List.of(Evaluator.MetricSpec.of(s.selectMetricKey())));
            result.figures().forEach((k, v) -> fig.put("val." + k, v));
            Double v = result.figures().get(s.selectMetric());
            if (v == null) {
                throw new InvalidConfigException("train.select-metric", "metric " + s.selectMetricKey()
                        + " reports no such figure", s.selectMetric(), String.join(", ", result.figures().keySet()));
            }
            score = v;
        }
        fig.put("selected-by", s.selectMetric());
        run.events().event("eval", fig);
        return score;
    }

    private static void saveModel(RunContext run, LanguageModel model, Path target, Path tokenizerDir)
            throws IOException {
        Path staging = AtomicFiles.staging(target);
        run.models().save(model, staging, DataType.FLOAT32);
        copyTokenizerFiles(tokenizerDir, staging);
        AtomicFiles.commit(staging, target);
    }

    private static void copyTokenizerFiles(Path source, Path dir) throws IOException {
        if (source == null) {
            return;
        }
        for (String f : List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")) {
            Path p = source.resolve(f);
            if (Files.exists(p)) {
                Files.copy(p, dir.resolve(f));
            }
        }
    }

    /** The losses' view of the stage's progress: the step being computed, set before each step (and after a resume). */
    private static final class StageClock implements StepClock {
        private final long total;
        volatile long step;

        StageClock(long total) {
            this.total = total;
        }

        @Override
        public long step() {
            return step;
        }

        @Override
        public long totalSteps() {
            return total;
        }
    }

    /** The factory. */
    public static final class Factory implements TrainerFactory {

        @Override
        public String description() {
            return "supervised distillation: weighted loss terms, AdamW, accumulation, checkpoints, hot swap";
        }

        @Override
        public Trainer create() {
            return new KdTrainer();
        }
    }

}

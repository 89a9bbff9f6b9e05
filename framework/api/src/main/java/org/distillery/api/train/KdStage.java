package org.distillery.api.train;

import java.util.List;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import org.distillery.api.ContributionRef;

/**
 * A stage of the built-in {@code train.kd} trainer: minimise a weighted sum of loss terms over
 * batches from a sampler, starting from the experiment's student or from the model an earlier
 * stage handed on. Everything left unset comes from the experiment's {@code train} block; the
 * kernel resolves a stage against the experiment once, checks it like the experiment itself and
 * hands the resolved stage to the trainer.
 *
 * <pre>
 * KdStage.named("gkd")
 *     .withLoss(List.of(new LossSpec("kd.jsd", 1.0, ConfigFactory.parseString("beta = 0.5"))))
 *     .withSampler(ContributionRef.of("gkd.on-policy"))
 *     .withInitFrom("sft")
 *     .withTrain(ConfigFactory.parseString("steps = 200, lr = 5e-4"));
 * </pre>
 *
 * @param name the stage name, unique in the run
 * @param loss the loss terms; empty means the experiment's {@code train.loss}
 * @param sampler where batches come from; {@code null} means the experiment's {@code train.sampler}
 * @param initFrom the earlier stage whose model the student starts from; {@code null} means the
 *     experiment's {@code train.init-from-stage}, {@code ""} the experiment's student block
 * @param train overrides of other {@code train} keys for this stage (steps, lr, select-metric, ...)
 * @param student a block laid over the experiment's {@code student} block for this stage only
 * @param teacher a block laid over the experiment's {@code teacher} block for this stage only
 * @param configPath where the stage was written in the experiment, for messages (e.g.
 *     {@code method.params.variants[2]}); {@code ""} when the method built it itself
 * @param trainable the student parameters that train in this stage, as prefixes of their Hugging Face
 *     names (e.g. {@code model.multi_modal_projector.} alone for LLaVA's distilled pre-training); every
 *     other parameter is frozen. Empty means the experiment's {@code train.trainable}, whose default
 *     (empty) trains every parameter; each prefix must name at least one parameter
 */
public record KdStage(String name, List<LossSpec> loss, ContributionRef sampler, String initFrom, Config train,
                      Config student, Config teacher, String configPath, List<String> trainable) implements Stage {

    /** The registry key of the trainer that runs every {@code KdStage}. */
    public static final String TRAINER = "train.kd";

    /** Never {@code null} lists, blocks or path. */
    public KdStage {
        loss = loss == null ? List.of() : List.copyOf(loss);
        train = train == null ? ConfigFactory.empty() : train;
        student = student == null ? ConfigFactory.empty() : student;
        teacher = teacher == null ? ConfigFactory.empty() : teacher;
        configPath = configPath == null ? "" : configPath;
        trainable = trainable == null ? List.of() : List.copyOf(trainable);
    }

    /** A stage that trains every parameter unless the experiment's {@code train.trainable} says otherwise. */
    public KdStage(String name, List<LossSpec> loss, ContributionRef sampler, String initFrom, Config train,
                   Config student, Config teacher, String configPath) {
        this(name, loss, sampler, initFrom, train, student, teacher, configPath, List.of());
    }

    /** A stage that takes everything from the experiment's {@code train} block. */
    public static KdStage named(String name) {
        return new KdStage(name, List.of(), null, null, null, null, null, "", List.of());
    }

    @Override
    public String trainer() {
        return TRAINER;
    }

    /** A copy with these loss terms. */
    public KdStage withLoss(List<LossSpec> terms) {
        return new KdStage(name, terms, sampler, initFrom, train, student, teacher, configPath, trainable);
    }

    /** A copy drawing batches from {@code ref}. */
    public KdStage withSampler(ContributionRef ref) {
        return new KdStage(name, loss, ref, initFrom, train, student, teacher, configPath, trainable);
    }

    /** A copy whose student starts from the model stage {@code stage} handed on ({@code ""}: the student block). */
    public KdStage withInitFrom(String stage) {
        return new KdStage(name, loss, sampler, stage, train, student, teacher, configPath, trainable);
    }

    /** A copy with these overrides of the {@code train} block (laid over earlier ones). */
    public KdStage withTrain(Config overrides) {
        return new KdStage(name, loss, sampler, initFrom, overrides.withFallback(train), student, teacher, configPath, trainable);
    }

    /** A copy with this block laid over the experiment's {@code student} block. */
    public KdStage withStudent(Config block) {
        return new KdStage(name, loss, sampler, initFrom, train, block, teacher, configPath, trainable);
    }

    /** A copy with this block laid over the experiment's {@code teacher} block. */
    public KdStage withTeacher(Config block) {
        return new KdStage(name, loss, sampler, initFrom, train, student, block, configPath, trainable);
    }

    /** A copy that trains only the parameters whose names start with one of {@code prefixes} (empty: all). */
    public KdStage withTrainable(List<String> prefixes) {
        return new KdStage(name, loss, sampler, initFrom, train, student, teacher, configPath, prefixes);
    }

    /** A copy that names where it was written in the experiment. */
    public KdStage at(String path) {
        return new KdStage(name, loss, sampler, initFrom, train, student, teacher, path, trainable);
    }
}

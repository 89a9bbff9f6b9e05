package org.distillery.kit.stage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;

import org.distillery.api.ContributionRef;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.StageSpec;
import org.distillery.kit.config.Params;

/**
 * Helpers for methods that build stages: training variants written like {@code kd.compare}'s (one
 * node, or a list of them), laying a method parameter shaped like the {@code train} block over a
 * {@link KdStage}, the closing {@code eval.report} stage, and the model an earlier stage of the run
 * handed on.
 *
 * <pre>
 * KdStage sft = KdStage.named("sft").withLoss(List.of(LossSpec.of("kd.sft")));
 * if (p.has("sft")) {
 *     sft = Stages.overTrain(sft, p.child("sft"));      // e.g. sft { steps = 300, lr = 1e-3 }
 * }
 * stages.add(sft);
 * stages.add(Stages.evaluate(params.getConfig("evaluate"), List.of("sft")));
 * </pre>
 */
public final class Stages {

    /** The registry key of the built-in evaluation trainer. */
    public static final String EVAL_REPORT = "eval.report";

    /** The name of the closing evaluation stage. */
    public static final String EVALUATE = "evaluate";

    private Stages() {
    }

    /**
     * Lays {@code block}, shaped like the experiment's {@code train} block, over {@code base}: its
     * {@code loss} replaces the stage's terms, its {@code sampler} replaces the stage's sampler (a
     * {@code sampler} without {@code key} keeps the stage's and lays its {@code params} over the
     * stage's), its {@code init-from-stage} replaces where the student starts, and every other key
     * overrides the {@code train} setting of that name for this stage.
     */
    public static KdStage overTrain(KdStage base, Params block) {
        KdStage out = base;
        Config rest = block.config();
        if (block.has("loss")) {
            out = out.withLoss(block.losses("loss"));
            rest = rest.withoutPath("loss");
        }
        if (block.has("sampler")) {
            Params node = block.child("sampler").allowOnly("key", "params");
            Config params = node.has("params") ? node.child("params").config() : ConfigFactory.empty();
            if (node.has("key")) {
                out = out.withSampler(new ContributionRef(node.string("key"), params));
            } else if (base.sampler() != null) {
                out = out.withSampler(new ContributionRef(base.sampler().key(),
                        params.withFallback(base.sampler().params())));
            } else {
                throw new InvalidConfigException(node.at("key"), "is missing", null, "a registered sampler key");
            }
            rest = rest.withoutPath("sampler");
        }
        if (block.has("init-from-stage")) {
            out = out.withInitFrom(block.string("init-from-stage"));
            rest = rest.withoutPath("init-from-stage");
        }
        return rest.isEmpty() ? out : out.withTrain(rest);
    }

    /** The keys a variant node may have. */
    public static final List<String> VARIANT_KEYS = List.of("name", "loss", "train", "init-from", "student", "teacher");

    /**
     * A {@code train.kd} stage from one variant node {@code {name, loss, train, init-from, student,
     * teacher}} as {@code kd.compare} reads them: {@code name} lowercase and not {@code evaluate},
     * {@code teacher} or one of {@code earlier}, {@code loss} required, {@code train} laid over the stage
     * ({@link #overTrain}), {@code student} and {@code teacher} laid over the experiment's blocks for this
     * stage, {@code init-from} naming one of {@code earlier}. The node's path is recorded for messages.
     *
     * @param node the variant, with its config path
     * @param earlier the names of the stages before it (init-from must be one; the name must not)
     */
    public static KdStage variant(Params node, Collection<String> earlier) {
        List<String> taken = new ArrayList<>(earlier);
        taken.add(EVALUATE);
        taken.add("teacher");
        return variant(node, taken, earlier);
    }

    /**
     * Training stages written as a list of variants at {@code key} of {@code params}, each read as
     * {@link #variant(Params, Collection)} reads one; {@code init-from} names an earlier variant or one of
     * {@code earlier} (stages the method puts before these). Names are unique and neither in
     * {@code earlier} nor {@code reserved}; every error names the variant's config path.
     */
    public static List<KdStage> variants(Params params, String key, List<String> earlier, Set<String> reserved) {
        List<? extends Config> list;
        try {
            list = params.config().getConfigList(key);
        } catch (com.typesafe.config.ConfigException e) {
            throw new InvalidConfigException(params.at(key), "wrong type", null,
                    "a list of {name, loss = [...], train {...}}");
        }
        List<KdStage> stages = new ArrayList<>();
        List<String> before = new ArrayList<>(earlier);
        for (int i = 0; i < list.size(); i++) {
            List<String> taken = new ArrayList<>(before);
            taken.addAll(reserved);
            KdStage stage = variant(Params.of(list.get(i), params.at(key) + "[" + i + "]"), taken, before);
            stages.add(stage);
            before.add(stage.name());
        }
        return stages;
    }

    private static KdStage variant(Params node, Collection<String> taken, Collection<String> initFrom) {
        Params v = node.allowOnly(VARIANT_KEYS.toArray(String[]::new));
        if (!v.has("name") || !v.string("name").matches("[a-z0-9][a-z0-9.-]*")) {
            throw new InvalidConfigException(v.at("name"), "missing or not a lowercase name",
                    v.has("name") ? v.string("name") : null, "e.g. forward-kl");
        }
        String name = v.string("name");
        if (taken.contains(name)) {
            throw new InvalidConfigException(v.at("name"), "must be unique and not one of "
                    + String.join(", ", taken.stream().distinct().toList()), name, "another name");
        }
        if (!v.has("loss")) {
            throw new InvalidConfigException(v.at("loss"), "is missing", null, "a list of {key, weight, params}");
        }
        KdStage stage = KdStage.named(name).withLoss(v.losses("loss")).at(v.path());
        if (v.has("train")) {
            stage = overTrain(stage, v.child("train"));
        }
        if (v.has("student")) {
            stage = stage.withStudent(v.child("student").config());
        }
        if (v.has("teacher")) {
            stage = stage.withTeacher(v.child("teacher").config());
        }
        if (v.has("init-from")) {
            String from = v.string("init-from");
            if (!initFrom.contains(from)) {
                throw new InvalidConfigException(v.at("init-from"), "names no earlier stage", from,
                        initFrom.isEmpty() ? "none (this is the first variant)" : String.join(", ", initFrom));
            }
            stage = stage.withInitFrom(from);
        }
        return stage;
    }

    /**
     * The model folder a finished stage of the run in {@code runDir} handed on: the {@code model} of
     * its {@code stages/<stage>/result.json}, else its {@code best} or {@code final} folder.
     *
     * @throws IllegalStateException when the stage left no model
     */
    public static Path modelOf(Path runDir, String stage) throws IOException {
        Path dir = runDir.resolve("stages").resolve(stage);
        Path result = dir.resolve("result.json");
        if (Files.exists(result)) {
            JsonObject o = JsonParser.parseString(Files.readString(result)).getAsJsonObject();
            if (o.has("model") && !o.get("model").isJsonNull()) {
                return Path.of(o.get("model").getAsString());
            }
        }
        for (String sub : List.of("best", "final")) {
            if (Files.exists(dir.resolve(sub).resolve("config.json"))) {
                return dir.resolve(sub);
            }
        }
        throw new IllegalStateException("stage " + stage + " left no model in " + dir);
    }

    /** The closing {@code eval.report} stage over {@code students} (stage names), with a method's {@code evaluate} block. */
    public static StageSpec evaluate(Config evaluate, List<String> students) {
        return new StageSpec(EVALUATE, EVAL_REPORT,
                evaluate.withValue("students", ConfigValueFactory.fromIterable(students)));
    }
}

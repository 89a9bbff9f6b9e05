package org.distillery.kit.stage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;

import org.distillery.api.ContributionRef;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.run.RunContext;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.StageSpec;
import org.distillery.kit.config.Params;

/**
 * Helpers for methods that build stages: training variants written like {@code kd.compare}'s, laying a
 * method parameter shaped like the {@code train} block over a {@link KdStage}, the closing
 * {@code eval.report} stage, and the model an earlier stage of the run handed on.
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

    /**
     * Training stages written as a list of variants at {@code key} of {@code params}, each
     * {@code {name, loss = [...], train {...}, init-from, student {...}, teacher {...}}}: a {@code train.kd}
     * stage with its loss terms, {@code train} overrides ({@link #overTrain}), and {@code student} and
     * {@code teacher} blocks laid over the experiment's; {@code init-from} names an earlier variant or
     * one of {@code earlier} (stages the method puts before these). Names are lowercase, unique, and
     * neither in {@code earlier} nor {@code reserved}; every error names the variant's config path.
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
        Set<String> names = new HashSet<>();
        for (int i = 0; i < list.size(); i++) {
            String where = params.at(key) + "[" + i + "]";
            Params v = Params.of(list.get(i), where).allowOnly("name", "loss", "train", "init-from", "student",
                    "teacher");
            if (!v.has("name") || !v.string("name").matches("[a-z0-9][a-z0-9.-]*")) {
                throw new InvalidConfigException(v.at("name"), "missing or not a lowercase name",
                        v.has("name") ? v.string("name") : null, "e.g. forward-kl");
            }
            String name = v.string("name");
            if (!names.add(name) || earlier.contains(name) || reserved.contains(name)) {
                List<String> taken = new ArrayList<>(earlier);
                taken.addAll(reserved);
                throw new InvalidConfigException(v.at("name"), "must be unique and not one of "
                        + String.join(", ", taken), name, "another name");
            }
            if (!v.has("loss")) {
                throw new InvalidConfigException(v.at("loss"), "is missing", null, "a list of {key, weight, params}");
            }
            KdStage stage = KdStage.named(name).withLoss(v.losses("loss")).at(where);
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
                boolean known = earlier.contains(from) || stages.stream().anyMatch(s -> s.name().equals(from));
                if (!known) {
                    List<String> accepted = new ArrayList<>(earlier);
                    stages.forEach(s -> accepted.add(s.name()));
                    throw new InvalidConfigException(v.at("init-from"), "names no earlier stage", from,
                            accepted.isEmpty() ? "none (this is the first variant)" : String.join(", ", accepted));
                }
                stage = stage.withInitFrom(from);
            }
            stages.add(stage);
        }
        return stages;
    }

    /**
     * The model folder an earlier stage of this run handed on: the {@code model} of its
     * {@code stages/<stage>/result.json}, else its {@code best} or {@code final} folder.
     *
     * @throws IllegalStateException when the stage left no model
     */
    public static Path model(RunContext run, String stage) throws IOException {
        Path dir = run.runDir().resolve("stages").resolve(stage);
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

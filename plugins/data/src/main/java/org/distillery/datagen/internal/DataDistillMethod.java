package org.distillery.datagen.internal;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;

import org.distillery.api.ContributionRef;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Datasets;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.Stage;
import org.distillery.api.train.StageSpec;
import org.distillery.kit.config.Params;
import org.distillery.kit.stage.Stages;

/**
 * {@code data.distill}: data distillation as stages. First one {@code data.generate} stage per
 * dataset (each runs a generator contribution; a later one may read an earlier one's output with
 * {@code input = "stage:<name>"}), then one {@code train.kd} stage per student on a dataset
 * ({@code data = <dataset name>}, or {@code ""} for {@code data.train-file}), then
 * {@code eval.report} over the students and the teacher. The {@code endpoint} block is shared by
 * every generator that talks to a teacher, under any endpoint settings a generator gives itself,
 * so one {@code --set method.params.endpoint.base-url=...} points the whole pipeline elsewhere.
 *
 * <pre>
 * method {
 *   key = data.distill
 *   params {
 *     datasets = [
 *       { name = targeted, generator { key = data.targeted, params { seed-file = seeds.jsonl, instructions = 50 } } }
 *       { name = filtered, generator { key = data.quality-filter, params { input = "stage:targeted" } } }
 *     ]
 *     students = [ { name = student, data = filtered, loss = [ { key = kd.sft } ], train { steps = 200 } } ]
 *   }
 * }
 * </pre>
 * Generators of this bundle have their parameters checked here, at validation time, with the full
 * config path of any bad value; others are checked by their own factory when the stage runs.
 */
final class DataDistillMethod implements MethodFactory {

    static final String KEY = "data.distill";
    private static final String NAME = "[a-z0-9][a-z0-9.-]*";

    private final Map<String, GeneratorFactory> own;
    private final Config reference;

    DataDistillMethod(Map<String, GeneratorFactory> own, Config reference) {
        this.own = own;
        this.reference = reference;
    }

    @Override
    public String description() {
        return "data.generate stages (generate, filter, select), train.kd students on their data, eval.report";
    }

    @Override
    public List<Stage> stages(Config params) {
        List<? extends Config> datasets = list(params, "datasets");
        List<? extends Config> students = list(params, "students");
        if (students.isEmpty()) {
            throw new InvalidConfigException("method.params.students", "needs at least one student", "[]",
                    "a list of {name, data, loss = [...], train {...}}");
        }
        List<Stage> stages = new ArrayList<>();
        Set<String> names = new HashSet<>();
        Set<String> dataNames = new HashSet<>();
        for (int i = 0; i < datasets.size(); i++) {
            Config d = datasets.get(i);
            String where = "method.params.datasets[" + i + "]";
            String name = name(d, where, names);
            allowOnly(d, where, "name", "generator");
            if (!d.hasPath("generator.key")) {
                throw new InvalidConfigException(where + ".generator.key", "is missing", null,
                        "a generator key, e.g. " + String.join(", ", own.keySet()));
            }
            allowOnly(d.getConfig("generator"), where + ".generator", "key", "params");
            String key = d.getString("generator.key");
            Config given = d.hasPath("generator.params") ? d.getConfig("generator.params") : ConfigFactory.empty();
            GeneratorFactory f = own.get(key);
            if (f != null && params.hasPath("endpoint") && reference.hasPath(
                    "distillery.generators.\"" + key + "\".endpoint")) {
                // the method's shared endpoint, under the generator's own endpoint settings
                given = given.withFallback(ConfigFactory.empty().withValue("endpoint", params.getValue("endpoint")));
            }
            if (f != null) {
                Config defaults = reference.getConfig("distillery.generators.\"" + key + "\"");
                String at = where + ".generator.params";
                Params.checkKnown(given.root(), defaults.root(), at);
                if (given.hasPath("input") && given.getString("input").startsWith(Datasets.STAGE_PREFIX)) {
                    String from = given.getString("input").substring(Datasets.STAGE_PREFIX.length());
                    if (!dataNames.contains(from)) {
                        throw new InvalidConfigException(at + ".input", "names no earlier dataset",
                                Params.quote(given.getString("input")), dataNames.isEmpty() ? "a JSONL file (no dataset "
                                + "comes before this one)" : "stage:" + String.join(", stage:", dataNames));
                    }
                }
                f.create(Params.of(given.withFallback(defaults), at));
            }
            Config stage = ConfigFactory.empty()
                    .withValue("generator.key", d.getValue("generator.key"))
                    .withValue("generator.params", given.root())
                    .withValue("config-path", ConfigValueFactory.fromAnyRef(where + ".generator"));
            stages.add(new StageSpec(name, GenerateTrainer.KEY, stage));
            dataNames.add(name);
        }
        List<String> studentNames = new ArrayList<>();
        for (int i = 0; i < students.size(); i++) {
            String where = "method.params.students[" + i + "]";
            Params v = Params.of(students.get(i), where).allowOnly("name", "data", "loss", "train", "init-from");
            String name = name(students.get(i), where, names);
            if (!v.has("loss")) {
                throw new InvalidConfigException(v.at("loss"), "is missing", null, "a list of {key, weight, params}");
            }
            String data = v.has("data") ? v.string("data") : "";
            if (!data.isEmpty() && !dataNames.contains(data)) {
                throw new InvalidConfigException(v.at("data"), "names no dataset", data,
                        "\"\" (data.train-file)" + (dataNames.isEmpty() ? "" : ", " + String.join(", ", dataNames)));
            }
            KdStage stage = KdStage.named(name).withLoss(v.losses("loss")).at(where);
            if (v.has("train")) {
                stage = Stages.overTrain(stage, v.child("train"));
            }
            ContributionRef sampler = stage.sampler() != null ? stage.sampler() : ContributionRef.of("data.dataset");
            if (!data.isEmpty()) {
                sampler = new ContributionRef(sampler.key(), sampler.params().withValue("file",
                        ConfigValueFactory.fromAnyRef(Datasets.STAGE_PREFIX + data)));
            }
            stage = stage.withSampler(sampler);
            if (v.has("init-from")) {
                String from = v.string("init-from");
                if (!studentNames.contains(from)) {
                    throw new InvalidConfigException(v.at("init-from"), "names no earlier student", from,
                            String.join(", ", studentNames));
                }
                stage = stage.withInitFrom(from);
            }
            stages.add(stage);
            studentNames.add(name);
        }
        stages.add(Stages.evaluate(params.getConfig("evaluate"), studentNames));
        return stages;
    }

    private static List<? extends Config> list(Config params, String key) {
        try {
            return params.getConfigList(key);
        } catch (com.typesafe.config.ConfigException e) {
            throw new InvalidConfigException("method.params." + key, "must be a list of objects", null,
                    "[ { name = ..., ... } ]");
        }
    }

    private static String name(Config c, String where, Set<String> names) {
        if (!c.hasPath("name") || !c.getString("name").matches(NAME)) {
            throw new InvalidConfigException(where + ".name", "missing or not a lowercase name",
                    c.hasPath("name") ? c.getString("name") : null, "e.g. targeted");
        }
        String name = c.getString("name");
        if (!names.add(name) || name.equals("evaluate") || name.equals("teacher")) {
            throw new InvalidConfigException(where + ".name", "must be unique and not 'evaluate' or 'teacher'", name,
                    "another name");
        }
        return name;
    }

    private static void allowOnly(Config c, String where, String... keys) {
        for (String k : c.root().keySet()) {
            if (!List.of(keys).contains(k)) {
                throw new InvalidConfigException(where + "." + k, "unknown key", null, String.join(", ", keys));
            }
        }
    }
}

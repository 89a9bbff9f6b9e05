package org.distillery.train;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.StageSpec;

/**
 * {@code kd.compare}: trains one fresh student per variant (each a {@code train.kd} stage with
 * its own loss terms and optional overrides of the {@code train} block and of the experiment's
 * {@code student} and {@code teacher} blocks (laid over them for that stage), optionally starting from
 * the student an earlier variant handed on with {@code init-from}), then evaluates every
 * student and the teacher in an {@code eval.report} stage that prints one table and writes an
 * HTML report with the loss curves.
 *
 * <pre>
 * method {
 *   key = kd.compare
 *   params {
 *     variants = [
 *       { name = sft, loss = [ { key = kd.sft } ] }
 *       { name = forward-kl, loss = [ { key = kd.forward-kl } ], train { lr = 2e-3 } }
 *       { name = minillm, init-from = sft, loss = [ ... ], train { sampler { key = minillm.rollout } } }
 *       { name = gathered, loss = [ ... ], student { initializer { key = moe.aggregate, params { method = sum } } } }
 *       { name = ka, loss = [ { key = moe.ka } ], teacher { key = moe.ka, params { samples = 4 } } }
 *     ]
 *   }
 * }
 * </pre>
 */
public final class CompareMethod implements MethodFactory {

    @Override
    public String description() {
        return "one train.kd stage per loss variant, then eval.report over all students and the teacher";
    }

    @Override
    public List<StageSpec> stages(Config params) {
        List<? extends Config> variants = params.getConfigList("variants");
        if (variants.isEmpty()) {
            throw new InvalidConfigException("method.params.variants", "needs at least one variant", "[]",
                    "a list of {name, loss = [...], train {...}}");
        }
        List<StageSpec> stages = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (int i = 0; i < variants.size(); i++) {
            Config v = variants.get(i);
            String where = "method.params.variants[" + i + "]";
            if (!v.hasPath("name") || !v.getString("name").matches("[a-z0-9][a-z0-9.-]*")) {
                throw new InvalidConfigException(where + ".name", "missing or not a lowercase name",
                        v.hasPath("name") ? v.getString("name") : null, "e.g. forward-kl");
            }
            String name = v.getString("name");
            if (!names.add(name) || name.equals("evaluate") || name.equals("teacher")) {
                throw new InvalidConfigException(where + ".name", "must be unique and not 'evaluate' or 'teacher'",
                        name, "another name");
            }
            for (String k : v.root().keySet()) {
                if (!List.of("name", "loss", "train", "init-from", "student", "teacher").contains(k)) {
                    throw new InvalidConfigException(where + "." + k, "unknown key", null,
                            "name, loss, train, init-from, student, teacher");
                }
            }
            if (!v.hasPath("loss")) {
                throw new InvalidConfigException(where + ".loss", "is missing", null, "a list of {key, weight, params}");
            }
            Config stage = v.hasPath("train") ? v.getConfig("train") : ConfigFactory.empty();
            stage = stage.withValue("loss", v.getValue("loss"));
            for (String block : List.of("student", "teacher")) {
                if (v.hasPath(block)) {
                    // laid over the experiment's block for this stage only (StageOverrides)
                    stage = stage.withValue(StageOverrides.PATH + "." + block, v.getValue(block));
                }
            }
            if (v.hasPath("init-from")) {
                String from = v.getString("init-from");
                if (!names.contains(from) || from.equals(name)) {
                    throw new InvalidConfigException(where + ".init-from", "names no earlier variant", from,
                            String.join(", ", stages.stream().map(StageSpec::name).toList()));
                }
                stage = stage.withValue("init-from-stage", ConfigValueFactory.fromAnyRef(from));
            }
            stages.add(new StageSpec(name, "train.kd", stage));
        }
        Config eval = params.getConfig("evaluate").withValue("students",
                ConfigValueFactory.fromIterable(stages.stream().map(StageSpec::name).toList()));
        stages.add(new StageSpec("evaluate", "eval.report", eval));
        return stages;
    }
}

package org.distillery.train;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import com.typesafe.config.Config;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.Stage;
import org.distillery.kit.config.Params;
import org.distillery.kit.stage.Stages;

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

    /** Registry key. */
    public static final String KEY = "kd.compare";

    @Override
    public String description() {
        return "one train.kd stage per loss variant, then eval.report over all students and the teacher";
    }

    @Override
    public List<Stage> stages(Config params) {
        List<? extends Config> variants = params.getConfigList("variants");
        if (variants.isEmpty()) {
            throw new InvalidConfigException("method.params.variants", "needs at least one variant", "[]",
                    "a list of {name, loss = [...], train {...}}");
        }
        List<Stage> stages = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (int i = 0; i < variants.size(); i++) {
            String where = "method.params.variants[" + i + "]";
            Params v = Params.of(variants.get(i), where).allowOnly("name", "loss", "train", "init-from", "student",
                    "teacher");
            if (!v.has("name") || !v.string("name").matches("[a-z0-9][a-z0-9.-]*")) {
                throw new InvalidConfigException(v.at("name"), "missing or not a lowercase name",
                        v.has("name") ? v.string("name") : null, "e.g. forward-kl");
            }
            String name = v.string("name");
            if (!names.add(name) || name.equals("evaluate") || name.equals("teacher")) {
                throw new InvalidConfigException(v.at("name"), "must be unique and not 'evaluate' or 'teacher'",
                        name, "another name");
            }
            if (!v.has("loss")) {
                throw new InvalidConfigException(v.at("loss"), "is missing", null, "a list of {key, weight, params}");
            }
            KdStage stage = KdStage.named(name).withLoss(v.losses("loss")).at(where);
            if (v.has("train")) {
                stage = Stages.overTrain(stage, v.child("train"));
            }
            if (v.has("student")) {
                stage = stage.withStudent(v.child("student").config());
            }
            if (v.has("teacher")) {
                stage = stage.withTeacher(v.child("teacher").config());
            }
            if (v.has("init-from")) {
                String from = v.string("init-from");
                if (!names.contains(from) || from.equals(name)) {
                    throw new InvalidConfigException(v.at("init-from"), "names no earlier variant", from,
                            String.join(", ", stages.stream().map(Stage::name).toList()));
                }
                stage = stage.withInitFrom(from);
            }
            stages.add(stage);
        }
        stages.add(Stages.evaluate(params.getConfig("evaluate"), stages.stream().map(Stage::name).toList()));
        return stages;
    }
}

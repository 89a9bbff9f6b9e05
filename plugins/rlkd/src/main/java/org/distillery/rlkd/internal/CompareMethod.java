package org.distillery.rlkd.internal;

import java.util.ArrayList;
import java.util.LinkedHashSet;
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
 * {@code rl.compare}: {@code kd.compare} with data stages between the students. {@code stages} run in
 * order; each is either a {@code train.kd} variant ({@code {name, loss, train, init-from, student,
 * teacher}}, read as {@code kd.compare} reads it) or a data stage ({@code {name, data {key, params}}},
 * e.g. {@code rl.traces} or {@code dpo.aif}), whose dataset later variants read as
 * {@code file = "stage:<name>"} and which may sample from earlier students ({@code stage:<name>});
 * then {@code eval.report} evaluates every trained student and the teacher. {@code train-overrides} and
 * {@code data-overrides} are laid over every training and data stage (a shortened run of the whole
 * pipeline: {@code --set method.params.train-overrides.steps=5}).
 *
 * <pre>
 * method {
 *   key = rl.compare
 *   params.stages = [
 *     { name = traces, data { key = rl.traces, params { tries = 4 } } }
 *     { name = sft-traces, loss = [ { key = kd.sft } ], train.sampler { key = data.dataset, params.file = "stage:traces" } }
 *     { name = grpo, init-from = sft-traces, loss = [ { key = rl.grpo } ], train.sampler { key = rl.grpo } }
 *   ]
 * }
 * </pre>
 */
final class CompareMethod implements MethodFactory {

    /** Registry key. */
    static final String KEY = "rl.compare";

    @Override
    public String description() {
        return "kd.compare with data stages (rl.traces, dpo.aif) between the students, then eval.report";
    }

    @Override
    public List<Stage> stages(Config params) {
        Params p = Params.of(params, "method.params");
        List<? extends Config> nodes = params.getConfigList("stages");
        if (nodes.isEmpty()) {
            throw new InvalidConfigException(p.at("stages"), "needs at least one stage", "[]",
                    "a list of {name, loss, train, ...} variants and {name, data {key, params}} data stages");
        }
        Params trainOverrides = Methods.block(p, "train-overrides");
        Params dataOverrides = Methods.block(p, "data-overrides");
        List<Stage> stages = new ArrayList<>();
        Set<String> names = new LinkedHashSet<>();
        List<String> students = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            Params node = Params.of(nodes.get(i), p.at("stages") + "[" + i + "]");
            if (node.has("data")) {
                node.allowOnly("name", "data");
                if (!node.has("name") || !node.string("name").matches("[a-z0-9][a-z0-9.-]*")
                        || names.contains(node.string("name")) || node.string("name").equals(Stages.EVALUATE)) {
                    throw new InvalidConfigException(node.at("name"), "missing, not a lowercase name, or not unique",
                            node.has("name") ? node.string("name") : null, "e.g. traces");
                }
                Params data = node.child("data").allowOnly("key", "params");
                if (!data.has("key")) {
                    throw new InvalidConfigException(data.at("key"), "is missing", null,
                            TracesTrainer.KEY + ", " + AifTrainer.KEY + " or another data trainer");
                }
                Params dataParams = data.has("params") ? data.child("params") : Methods.block(data, "params");
                if (!dataOverrides.config().isEmpty()) {
                    dataParams = Params.of(dataOverrides.config().withFallback(dataParams.config()), dataParams.path());
                }
                stages.add(Methods.dataStage(node.string("name"), data.string("key"), dataParams));
                names.add(node.string("name"));
                continue;
            }
            KdStage stage = Methods.overTrain(Stages.variant(node, names), trainOverrides);
            names.add(stage.name());
            students.add(stage.name());
            stages.add(stage);
        }
        stages.add(Stages.evaluate(params.getConfig("evaluate"), students));
        return stages;
    }
}

package org.distillery.train;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import com.typesafe.config.Config;

import org.distillery.api.InvalidConfigException;
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
        if (params.getConfigList("variants").isEmpty()) {
            throw new InvalidConfigException("method.params.variants", "needs at least one variant", "[]",
                    "a list of {name, loss = [...], train {...}}");
        }
        List<Stage> stages = new ArrayList<>(Stages.variants(Params.of(params, "method.params"), "variants", List.of(),
                Set.of("evaluate", "teacher")));
        stages.add(Stages.evaluate(params.getConfig("evaluate"), stages.stream().map(Stage::name).toList()));
        return stages;
    }
}

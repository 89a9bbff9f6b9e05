package org.distillery.multimodal.internal;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.Stage;
import org.distillery.api.train.StageSpec;
import org.distillery.kit.config.Params;

/**
 * {@code vikdf.recipe}: VIKDF (Zhang et al., "Distilling implicit multimodal knowledge into large
 * language models for zero-resource dialogue generation", Information Fusion 118:102985, 2025) as
 * stages of {@code vikdf.train}:
 * <ol>
 *   <li>{@code vikdf.iqformer}: the Implicit Query Transformer learns from image–caption pairs
 *       (InfoNCE image–text matching, masked image modelling, masked text modelling);</li>
 *   <li>{@code vikdf.bvif}: bidirectional fusion into the frozen language model (I2T caption CE
 *       after the projected image queries, T2I query matching by MSE);</li>
 *   <li>{@code vikdf}: zero-resource instruction tuning on text-only records, the IQ-Former's
 *       queries of the prompt text in front of it;</li>
 *   <li>{@code text-sft} (with {@code baseline}): the same language model tuned on the same records
 *       without queries;</li>
 *   <li>{@code evaluate}: exact-answer accuracy of both on text-only test records.</li>
 * </ol>
 * <pre>
 * method {
 *   key = vikdf.recipe
 *   params {
 *     vision-from = ${DISTILL_HOME}/config/models/vlm-teacher
 *     language-model = ${DISTILL_HOME}/config/models/vlm-student-llm
 *     caption-file = ${DISTILL_HOME}/config/data/vision-suite/captions-train.jsonl
 *     instruction-file = ${DISTILL_HOME}/config/data/vision-suite/qa-text-train.jsonl
 *     test-file = ${DISTILL_HOME}/config/data/vision-suite/qa-text-test.jsonl
 *   }
 * }
 * </pre>
 */
final class VikdfMethod implements MethodFactory {

    /** Registry key. */
    static final String KEY = "vikdf.recipe";

    @Override
    public String description() {
        return "VIKDF: IQ-Former pre-training, bidirectional fusion into a frozen LLM, zero-resource instruction "
                + "tuning, evaluation against a text-only baseline";
    }

    @Override
    public List<Stage> stages(Config params) {
        Params p = Params.of(params, "method.params");
        for (String required : List.of("vision-from", "language-model", "caption-file", "instruction-file")) {
            if (p.string(required).isEmpty()) {
                throw new InvalidConfigException(p.at(required), "is required", "\"\"", required.endsWith("file")
                        ? "a JSONL file" : "a model folder");
            }
        }
        Map<String, Object> common = new LinkedHashMap<>();
        for (String k : List.of("vision-from", "language-model", "batch-size", "max-length", "weight-decay",
                "clip-norm", "checkpoint-every", "temperature", "mim-ratio", "mlm-ratio")) {
            common.put(k, params.getValue(k).unwrapped());
        }
        common.put("weights", params.getConfig("weights").root().unwrapped());
        common.put("iqformer", params.getConfig("iqformer").root().unwrapped());
        List<Stage> stages = new ArrayList<>();
        stages.add(stage("vikdf.iqformer", common, Map.of("phase", "iqformer", "file", p.string("caption-file"),
                "init-from", "", "use-queries", true), params.getConfig("pretrain")));
        stages.add(stage("vikdf.bvif", common, Map.of("phase", "bvif", "file", p.string("caption-file"),
                "init-from", "vikdf.iqformer", "use-queries", true), params.getConfig("fusion")));
        stages.add(stage("vikdf", common, Map.of("phase", "sft", "file", p.string("instruction-file"),
                "init-from", "vikdf.bvif", "use-queries", true), params.getConfig("sft")));
        List<String> students = new ArrayList<>(List.of("vikdf"));
        if (p.bool("baseline")) {
            stages.add(stage("text-sft", common, Map.of("phase", "sft", "file", p.string("instruction-file"),
                    "init-from", "", "use-queries", false), params.getConfig("sft")));
            students.add("text-sft");
        }
        Config evaluate = params.getConfig("evaluate");
        stages.add(stage("evaluate", common, Map.of("phase", "evaluate", "file", p.string("test-file"),
                "students", students, "init-from", "", "use-queries", true), evaluate));
        return stages;
    }

    private static StageSpec stage(String name, Map<String, Object> common, Map<String, Object> own, Config block) {
        Map<String, Object> all = new LinkedHashMap<>(common);
        all.putAll(own);
        all.putAll(block.root().unwrapped());
        return new StageSpec(name, VikdfTrainer.KEY, ConfigFactory.parseMap(all));
    }
}

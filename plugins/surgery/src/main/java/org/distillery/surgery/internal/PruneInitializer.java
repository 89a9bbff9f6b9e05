package org.distillery.surgery.internal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigRenderOptions;

import ai.djl.ndarray.types.DataType;

import org.distillery.api.model.InitializerContext;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelInitializer;
import org.distillery.api.model.ModelInitializerFactory;
import org.distillery.api.run.RunResources;
import org.distillery.kit.config.Params;

/**
 * {@code prune.layers}: a student made of the teacher without some of its decoder blocks, chosen by
 * angular distance on calibration records or listed ({@link LayerPruner}). The student is written as a
 * Hugging Face folder (every kept tensor exactly as the teacher holds it, with the tokenizer files of the
 * run's tokenizer folder) and loaded from it, so the run documents it and other tools can read it.
 * Needs an in-process teacher ({@code teacher.local}).
 *
 * <pre>
 * teacher { key = teacher.local, params { model-dir = ... } }
 * student.initializer { key = prune.layers, params { drop = 2, selection = contiguous } }
 * </pre>
 */
final class PruneInitializer implements ModelInitializer {

    /** Registry key. */
    static final String KEY = "prune.layers";

    private final Config config;

    PruneInitializer(Config config) {
        this.config = config;
    }

    @Override
    public LanguageModel initialize(InitializerContext context, LanguageModel teacher) {
        Params params = Params.of(config, context.paramsPath());
        RunResources run = context.resources();
        LayerPruner.Plan plan = LayerPruner.plan(run, context.datasets(), context.tokenizer(), teacher, params);
        Path out = outputDir(context, params);
        try {
            Map<String, Object> provenance = new LinkedHashMap<>();
            provenance.put("initializer", KEY);
            provenance.put("params", params.config().root().unwrapped());
            LayerPruner.write(run, teacher, plan, out, context.tokenizerDir(), provenance, params.at("drop"));
            Map<String, Object> event = new LinkedHashMap<>();
            event.put("dropped", plan.drop());
            event.put("kept", plan.keep());
            event.put("distances", plan.distances().toString());
            event.put("dir", out.toString());
            run.events().event(KEY, event);
            return run.models().load(out, DataType.FLOAT32, run.manager());
        } catch (IOException e) {
            throw new IllegalStateException(KEY + ": could not write or load the pruned student in " + out + ": "
                    + e.getMessage(), e);
        }
    }

    /** {@code output-dir}, else a folder of the run named by the parameters (the same parameters, the same folder). */
    private static Path outputDir(InitializerContext context, Params p) {
        String dir = p.string("output-dir");
        if (!dir.isEmpty()) {
            return Path.of(dir);
        }
        String render = p.config().root().render(ConfigRenderOptions.concise());
        String hash = Integer.toHexString(Arrays.hashCode(render.getBytes(StandardCharsets.UTF_8)));
        return context.workDir().resolve(KEY + "-" + hash);
    }

    /** Builds {@link PruneInitializer}. */
    static final class Factory implements ModelInitializerFactory {
        @Override
        public String description() {
            return "the teacher without n decoder blocks, chosen by angular distance (or listed); MoE included";
        }

        @Override
        public ModelInitializer create(Config params) {
            return new PruneInitializer(params);
        }
    }
}

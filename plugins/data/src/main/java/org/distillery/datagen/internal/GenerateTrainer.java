package org.distillery.datagen.internal;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import org.distillery.api.Contribution;
import org.distillery.api.ContributionInfo;
import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.DataGeneratorFactory;
import org.distillery.api.data.Example;
import org.distillery.api.data.GeneratorContext;
import org.distillery.api.run.RunContext;
import org.distillery.api.train.Stage;
import org.distillery.api.train.StageResult;
import org.distillery.api.train.StageSpec;
import org.distillery.api.train.Trainer;
import org.distillery.api.train.TrainerFactory;
import org.distillery.kit.config.Params;
import org.distillery.kit.io.AtomicFiles;

/**
 * {@code data.generate}: a stage that runs one generator contribution and leaves its dataset in
 * {@code stages/<name>/data.jsonl} and its provenance in {@code stages/<name>/provenance.json},
 * each written atomically (a temporary file, then a rename), with the response cache beside them
 * so a resumed run does not pay twice. A later {@code train.kd} stage reads the dataset with the
 * {@code data.dataset} sampler's {@code file = "stage:<name>"}; a later generator with
 * {@code input = "stage:<name>"}. The stage result's metrics are the counts
 * ({@code records}, and {@code <step>.in / .kept / .dropped} for each pipeline step).
 *
 * <p>Stage parameters: {@code generator { key, params }} and, for messages, {@code config-path}
 * (where the generator node was written, e.g. {@code method.params.datasets[0].generator}).
 */
final class GenerateTrainer implements Trainer {

    static final String KEY = "data.generate";
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().serializeNulls()
            .serializeSpecialFloatingPointValues().disableHtmlEscaping().create();

    @Override
    public StageResult run(RunContext run, Stage planned) throws Exception {
        if (!(planned instanceof StageSpec stage)) {
            throw new IllegalArgumentException(KEY + " runs stages with their own parameters, not " + planned);
        }
        Config p = stage.params();
        String path = p.hasPath("config-path") ? p.getString("config-path") : "stage " + stage.name() + ".generator";
        if (!p.hasPath("generator.key")) {
            throw new InvalidConfigException(path + ".key", "is missing", null, generatorKeys(run));
        }
        String key = p.getString("generator.key");
        Contribution<DataGeneratorFactory> c = run.registry().find(ContributionKind.DATA_GENERATOR, key,
                DataGeneratorFactory.class).orElseThrow(() -> new InvalidConfigException(path + ".key",
                "no registered generators named '" + key + "'", key, generatorKeys(run)));
        Config given = p.hasPath("generator.params") ? p.getConfig("generator.params") : ConfigFactory.empty();
        Config params = given.withFallback(c.defaults());
        Path dir = run.runDir().resolve("stages").resolve(stage.name());
        Files.createDirectories(dir);
        run.events().event("data-generation-started", Map.of("stage", stage.name(), "generator",
                c.info().coordinates()));
        GeneratorContext context = new GeneratorContext(run, run.datasets(), dir, run::stopRequested, path + ".params");
        Generated.Output out;
        if (c.factory() instanceof GeneratorFactory own) {
            Params.checkKnown(given.root(), c.defaults().root(), path + ".params");
            out = own.create(Params.of(params, path + ".params")).produce(context);
        } else {
            List<Example> examples = c.factory().create(params).generate(context);
            out = new Generated.Output(examples, new Provenance(key));
        }
        if (run.stopRequested()) {
            return new StageResult(0, null, Map.of(), true);
        }
        Provenance prov = out.provenance();
        prov.put("stage", stage.name()).put("contribution", c.info().coordinates())
                .put("params", params.root().unwrapped());
        Map<String, Object> record = prov.toMap(out.examples().size());
        AtomicFiles.writeString(dir.resolve("provenance.json"), GSON.toJson(record));
        run.data().writeJsonl(dir.resolve("data.jsonl"), out.examples());
        Map<String, Double> metrics = new LinkedHashMap<>();
        metrics.put("records", (double) out.examples().size());
        metrics.putAll(prov.metrics());
        run.events().event("data-generation-finished", Map.of("stage", stage.name(), "records",
                out.examples().size(), "file", dir.resolve("data.jsonl").toString()));
        if (out.examples().isEmpty()) {
            throw new IllegalStateException("stage " + stage.name() + ": " + key + " kept no records (see "
                    + dir.resolve("provenance.json") + " for what was dropped and why)");
        }
        return new StageResult(0, null, metrics, false);
    }

    private static String generatorKeys(RunContext run) {
        List<String> keys = run.registry().list(ContributionKind.DATA_GENERATOR).stream().map(ContributionInfo::key)
                .sorted().toList();
        return keys.isEmpty() ? "none registered" : String.join(", ", keys);
    }

    /** The factory. */
    static final class Factory implements TrainerFactory {
        @Override
        public String description() {
            return "run a data generator; writes stages/<name>/data.jsonl and provenance.json";
        }

        @Override
        public Trainer create() {
            return new GenerateTrainer();
        }
    }
}

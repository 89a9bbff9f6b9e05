package org.distillery.rlkd.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.google.gson.GsonBuilder;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Datasets;
import org.distillery.api.data.Example;
import org.distillery.api.model.GenerationOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.run.RunContext;
import org.distillery.api.teacher.Teacher;
import org.distillery.api.train.StageSpec;
import org.distillery.api.train.TrainerFactory;
import org.distillery.kit.config.Params;
import org.distillery.kit.data.Records;
import org.distillery.kit.io.AtomicFiles;
import org.distillery.kit.rollout.SeededOrder;
import org.distillery.kit.stage.Stages;
import org.distillery.kit.teacher.ExperimentTeacher;

/** What the data stages of this bundle share: parameters, prompts, writer models, generation and output files. */
final class StageSupport {

    /** The dataset a data stage writes into its folder ({@code stage:<name>} reads it). */
    static final String DATA = "data.jsonl";
    /** What a data stage records of how its dataset was made. */
    static final String PROVENANCE = "provenance.json";

    private StageSupport() {
    }

    /**
     * A model a data stage samples from, with what it must close.
     *
     * @param reference how it was named ({@code teacher}, {@code stage:<name>}, a folder)
     * @param identity what provenance records of it
     * @param model the model
     * @param owner closes the model (or the teacher holding it)
     */
    record Writer(String reference, String identity, LanguageModel model, Runnable owner) implements AutoCloseable {
        @Override
        public void close() {
            owner.run();
        }
    }

    /**
     * The stage's parameters over the trainer's defaults, each key checked against them; a stage
     * spec's {@code config-path} (where the method found the block) names them in messages.
     */
    static Params params(RunContext run, StageSpec spec, String trainer) {
        Config defaults = run.registry().find(ContributionKind.TRAINER, trainer, TrainerFactory.class)
                .map(c -> c.defaults()).orElse(ConfigFactory.empty());
        Config given = spec.params().withoutPath(CONFIG_PATH);
        String path = spec.params().hasPath(CONFIG_PATH) ? spec.params().getString(CONFIG_PATH)
                : "stage " + spec.name();
        Params.checkKnown(given.root(), defaults.root(), path);
        return Params.of(given.withFallback(defaults).resolve(), path);
    }

    /** The parameter under which a method records where it found a stage's block, for messages. */
    static final String CONFIG_PATH = "config-path";

    /** The seed of a stage: its {@code seed} parameter, or the run's when it is -1. */
    static long seed(Params p, RunContext run, String purpose) {
        long s = p.longInteger("seed", -1);
        return s == -1 ? run.random(purpose).nextLong() : s;
    }

    /** The stage's prompt records ({@code file}), at most {@code prompts} of them (a seeded sample; 0 = all). */
    static List<Example> prompts(RunContext run, Params p, long seed) {
        String file = p.string("file");
        List<Example> all = new ArrayList<>();
        for (Example e : run.datasets().read(file, Datasets.Split.TRAIN, p.at("file"))) {
            if (Records.hasPrompt(e)) {
                all.add(e);
            }
        }
        if (all.isEmpty()) {
            throw new InvalidConfigException(file.isEmpty() ? "data.train-file" : p.at("file"),
                    "has no prompt/response or chat records", file, "a JSONL file of {prompt, response} records");
        }
        int limit = p.integer("prompts", 0);
        if (limit == 0 || limit >= all.size()) {
            return all;
        }
        List<Example> out = new ArrayList<>(limit);
        for (int i : SeededOrder.shuffled(all.size(), SeededOrder.mix(seed, 11)).subList(0, limit)) {
            out.add(all.get(i));
        }
        return out;
    }

    /** The run's {@code train.max-length}. */
    static int maxLength(RunContext run) {
        return run.config().getInt("train.max-length");
    }

    /** The run's tokenizer. */
    static Tokenizer tokenizer(RunContext run) {
        return ExperimentTeacher.tokenizer(run.models(), run.config());
    }

    /** Opens the run's teacher, or returns {@code null} when the experiment has none. */
    static Teacher teacher(RunContext run, Tokenizer tok) {
        return ExperimentTeacher.open(run, run.config(), tok, maxLength(run), sharedDir(run));
    }

    /**
     * Opens the writer model {@code ref}: {@code teacher} (the model of {@code teacher}, the run's
     * teacher, which the writer does not close), {@code stage:<name>} or a model folder.
     */
    static Writer open(RunContext run, String ref, Teacher teacher, String path) {
        if (ref.equals("teacher")) {
            if (teacher == null || teacher.model().isEmpty()) {
                throw new InvalidConfigException(path, "the run has no in-process teacher to sample from", ref,
                        "teacher.key = teacher.local, a stage:<name>, a model folder"
                                + (path.endsWith("writer") ? ", or endpoint" : ""));
            }
            return new Writer(ref, teacher.identity(), teacher.model().get(), () -> { });
        }
        Path dir;
        if (ref.startsWith(Datasets.STAGE_PREFIX)) {
            String stage = ref.substring(Datasets.STAGE_PREFIX.length());
            try {
                dir = Stages.modelOf(run.runDir(), stage);
            } catch (IllegalStateException | IOException e) {
                throw new InvalidConfigException(path, "no earlier stage of this run handed on a model", ref,
                        "stage:<an earlier training stage>");
            }
        } else {
            dir = Path.of(ref);
            if (!Files.isRegularFile(dir.resolve("config.json"))) {
                throw new InvalidConfigException(path, "not a model folder", Params.quote(ref),
                        "teacher, stage:<name>, or a Hugging Face model folder");
            }
        }
        if (ref.isBlank()) {
            throw new InvalidConfigException(path, "is empty", "\"\"", "teacher, stage:<name>, or a model folder");
        }
        NDManager m = run.manager().newSubManager();
        try {
            LanguageModel model = run.models().load(dir, DataType.FLOAT32, m);
            return new Writer(ref, dir.toString(), model, () -> {
                model.close();
                m.close();
            });
        } catch (IOException | RuntimeException e) {
            m.close();
            throw new InvalidConfigException(path, "cannot load the model: " + e.getMessage(), ref,
                    "a Hugging Face model folder");
        }
    }

    /** Where teachers keep what several runs share: the folder holding the run directories. */
    static Path sharedDir(RunContext run) {
        Path parent = run.runDir().toAbsolutePath().getParent();
        return parent == null ? run.runDir() : parent;
    }

    /**
     * Samples one response per prompt from {@code model} in batches of {@code batchSize}, each batch in
     * its own sub-manager and seeded by {@code mix(seed, batch index)}; responses are cut so that prompt
     * plus response fit {@code maxLength}; the stop token (eos) is kept when produced.
     */
    static List<int[]> generate(RunContext run, LanguageModel model, List<int[]> prompts, Tokenizer tok,
                                int maxNewTokens, float temperature, int topK, float topP, int batchSize,
                                long seed) {
        int maxLength = Math.min(maxLength(run), model.config().maxPositions());
        List<int[]> out = new ArrayList<>(prompts.size());
        for (int from = 0, b = 0; from < prompts.size(); from += batchSize, b++) {
            List<int[]> batch = prompts.subList(from, Math.min(prompts.size(), from + batchSize));
            int longest = batch.stream().mapToInt(p -> p.length).max().orElse(0);
            int room = Math.max(1, Math.min(maxNewTokens, maxLength - longest));
            GenerationOptions o = new GenerationOptions(room, temperature, topK, topP, Set.of(tok.eosId()),
                    SeededOrder.mix(seed, b), true);
            try (NDManager m = run.manager().newSubManager()) {
                out.addAll(run.models().generator().generate(model, batch, o, m).tokens());
            }
        }
        return out;
    }

    /** The prompt ids of a record, cut to half the run's maximum length (bos and the prompt's end kept). */
    static int[] promptIds(RunContext run, Example e, Tokenizer tok) {
        return Records.truncatePrompt(Records.promptIds(e, tok), Math.max(1, maxLength(run) / 2), tok);
    }

    /** {@code e} answered with {@code response}: a pair with that response, or the chat with an assistant turn. */
    static Example answered(Example e, String id, String response, Map<String, String> meta) {
        if (e.prompt() != null) {
            return Example.pair(id, e.prompt(), response, meta);
        }
        List<Example.Message> turns = new ArrayList<>(e.messages());
        if (!turns.isEmpty() && turns.get(turns.size() - 1).role().equals("assistant")) {
            turns.remove(turns.size() - 1);
        }
        turns.add(new Example.Message("assistant", response));
        return new Example(id, null, null, List.copyOf(turns), null, Map.copyOf(meta));
    }

    /** The text of generated ids up to (not including) the stop token. */
    static String text(int[] response, Tokenizer tok) {
        int n = response.length > 0 && response[response.length - 1] == tok.eosId() ? response.length - 1
                : response.length;
        return tok.decode(java.util.Arrays.copyOf(response, n));
    }

    /** Writes the stage's dataset and provenance into its folder, each atomically. */
    static void write(RunContext run, Path dir, List<Example> records, Map<String, Object> provenance)
            throws IOException {
        AtomicFiles.writeString(dir.resolve(PROVENANCE), new GsonBuilder().setPrettyPrinting().serializeNulls()
                .serializeSpecialFloatingPointValues().disableHtmlEscaping().create().toJson(provenance) + "\n");
        run.data().writeJsonl(dir.resolve(DATA), records);
    }
}

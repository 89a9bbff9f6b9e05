package org.distillery.surgery.internal;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.google.gson.GsonBuilder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Datasets;
import org.distillery.api.data.Example;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.GenerationOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelOutput;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.run.RunContext;
import org.distillery.api.run.RunResources;
import org.distillery.api.train.Stage;
import org.distillery.api.train.StageResult;
import org.distillery.api.train.Trainer;
import org.distillery.api.train.TrainerFactory;
import org.distillery.kit.config.Params;
import org.distillery.kit.data.Records;
import org.distillery.kit.io.AtomicFiles;
import org.distillery.kit.text.TextMetrics;

/**
 * {@code sdd.regenerate}: the data step of Self-Data Distillation (Thangarasa et al., "Self-Data
 * Distillation for Recovering Quality in Pruned Large Language Models", arXiv 2410.09982; METHODS.md
 * A15). The unpruned model ({@code model-dir}) answers every fine-tuning prompt again (greedy, the
 * project's prompt format); its answer replaces the original response where it is acceptable, else the
 * original is kept, so the pruned model is then fine-tuned on data closer to its own distribution:
 * <ul>
 *   <li>{@code exact}: the answer equals the original after normalisation (as {@code eval.exact-match});</li>
 *   <li>{@code rouge-l}: its ROUGE-L F against the original is at least {@code min-rouge-l} (as
 *       {@code eval.rouge-l}): right short answers and close paraphrases of long ones;</li>
 *   <li>{@code judge}: a judge model ({@code judge-dir}; {@code ""} = the answering model) gives it a mean
 *       token log-probability at least the original's minus {@code judge-margin};</li>
 *   <li>{@code none}: every non-empty answer.</li>
 * </ul>
 * An empty answer, or one the token budget cut ({@code max-new-tokens} reached before eos), is never kept.
 * Text records, and chats that do not end with an assistant turn, are
 * copied as they are. Each record says where its response came from ({@code meta.sdd = regenerated} or
 * {@code original}); {@code provenance.json} counts both per task family, with the reasons originals were
 * kept. Writes {@code stages/<name>/data.jsonl} (read by a later stage as {@code stage:<name>}) and
 * {@code provenance.json}, each atomically.
 */
final class RegenerateTrainer implements Trainer {

    /** Registry key. */
    static final String KEY = "sdd.regenerate";

    /** How a regenerated answer is accepted. */
    enum Check { EXACT, ROUGE_L, JUDGE, NONE }

    @Override
    public StageResult run(RunContext run, Stage stage) throws Exception {
        Params p = StageParams.of(stage, KEY);
        String dir = p.string("model-dir");
        if (dir.isEmpty() || !Files.isRegularFile(Path.of(dir).resolve("config.json"))) {
            throw new InvalidConfigException(p.at("model-dir"), "is not a model folder", dir,
                    "the Hugging Face folder of the unpruned model");
        }
        Check check = p.choice("check", Check.class);
        double minRouge = p.probability("min-rouge-l");
        double margin = p.nonNegative("judge-margin");
        int maxNew = p.integer("max-new-tokens", 1);
        int batchSize = p.integer("batch-size", 1);
        int maxLength = p.integer("max-length", 2);
        List<Example> records = run.datasets().read(p.string("input"), Datasets.Split.TRAIN, p.at("input"));
        int limit = p.integer("limit", 0);
        if (limit > 0 && records.size() > limit) {
            records = records.subList(0, limit);
        }
        Path source = Path.of(dir);
        Tokenizer tok = run.models().tokenizer(source);
        Path stageDir = Files.createDirectories(run.runDir().resolve("stages").resolve(stage.name()));

        List<Integer> answerable = new ArrayList<>();
        for (int i = 0; i < records.size(); i++) {
            if (Records.hasPrompt(records.get(i)) && Records.hasReference(records.get(i))) {
                answerable.add(i);
            }
        }
        List<Answer> answers;
        List<Double> regeneratedScores = List.of();
        List<Double> originalScores = List.of();
        try (NDManager scope = run.manager().newSubManager();
             LanguageModel model = run.models().load(source, DataType.FLOAT32, scope)) {
            answers = answer(run, model, tok, records, answerable, maxNew, batchSize);
            if (check == Check.JUDGE) {
                String judgeDir = p.string("judge-dir");
                List<Example> regenerated = new ArrayList<>();
                List<Example> originals = new ArrayList<>();
                for (int k = 0; k < answerable.size(); k++) {
                    Example e = records.get(answerable.get(k));
                    regenerated.add(withResponse(e, answers.get(k).text(), "regenerated"));
                    originals.add(e);
                }
                if (judgeDir.isEmpty()) {
                    regeneratedScores = meanLogProbs(run, model, tok, regenerated, maxLength, batchSize);
                    originalScores = meanLogProbs(run, model, tok, originals, maxLength, batchSize);
                } else {
                    try (NDManager judgeScope = run.manager().newSubManager();
                         LanguageModel judge = run.models().load(Path.of(judgeDir), DataType.FLOAT32, judgeScope)) {
                        regeneratedScores = meanLogProbs(run, judge, tok, regenerated, maxLength, batchSize);
                        originalScores = meanLogProbs(run, judge, tok, originals, maxLength, batchSize);
                    }
                }
            }
        }

        List<Example> out = new ArrayList<>(records);
        Map<String, Map<String, Long>> byTask = new LinkedHashMap<>();
        Set<Integer> asked = new java.util.HashSet<>(answerable);
        for (int i = 0; i < records.size(); i++) {
            if (!asked.contains(i)) {
                count(byTask, task(records.get(i)), "original.no-prompt");
            }
        }
        long regeneratedCount = 0;
        for (int k = 0; k < answerable.size(); k++) {
            int i = answerable.get(k);
            Example e = records.get(i);
            String answer = answers.get(k).text();
            String original = Records.responseText(e);
            String reason;
            if (!answers.get(k).finished()) {
                reason = "original.unfinished";
            } else if (answer.isBlank()) {
                reason = "original.empty-answer";
            } else {
                boolean accepted = switch (check) {
                    case EXACT -> TextMetrics.words(answer).equals(TextMetrics.words(original));
                    case ROUGE_L -> TextMetrics.rougeL(TextMetrics.words(answer), TextMetrics.words(original)) >= minRouge;
                    case JUDGE -> regeneratedScores.get(k) >= originalScores.get(k) - margin;
                    case NONE -> true;
                };
                reason = accepted ? "regenerated" : "original.rejected";
            }
            count(byTask, task(e), reason);
            if (reason.equals("regenerated")) {
                out.set(i, withResponse(e, answer, "regenerated"));
                regeneratedCount++;
            } else {
                out.set(i, withResponse(e, original, "original"));
            }
        }
        Map<String, Object> provenance = new LinkedHashMap<>();
        provenance.put("generator", KEY);
        provenance.put("stage", stage.name());
        provenance.put("model", source.toString());
        provenance.put("input", run.datasets().resolve(p.string("input"), Datasets.Split.TRAIN, p.at("input")).toString());
        provenance.put("params", p.config().root().unwrapped());
        provenance.put("records", records.size());
        provenance.put("regenerated", regeneratedCount);
        provenance.put("original", records.size() - regeneratedCount);
        provenance.put("by-task", byTask);
        AtomicFiles.writeString(stageDir.resolve("provenance.json"), new GsonBuilder().setPrettyPrinting()
                .disableHtmlEscaping().create().toJson(provenance) + "\n");
        run.data().writeJsonl(stageDir.resolve("data.jsonl"), out);
        run.events().event(KEY, Map.of("stage", stage.name(), "records", records.size(), "regenerated",
                regeneratedCount, "by-task", byTask));
        Map<String, Double> metrics = new LinkedHashMap<>();
        metrics.put("records", (double) records.size());
        metrics.put("regenerated", (double) regeneratedCount);
        metrics.put("regenerated.fraction", records.isEmpty() ? 0 : (double) regeneratedCount / records.size());
        return new StageResult(0, null, metrics, false);
    }

    private static String task(Example e) {
        return e.meta() == null || e.meta().get("task") == null ? "(none)" : e.meta().get("task");
    }

    private static void count(Map<String, Map<String, Long>> byTask, String task, String what) {
        byTask.computeIfAbsent(task, t -> new LinkedHashMap<>()).merge(what, 1L, Long::sum);
    }

    /** {@code e} with {@code response} as its answer and {@code meta.sdd = source}. */
    static Example withResponse(Example e, String response, String source) {
        Map<String, String> meta = new LinkedHashMap<>(e.meta() == null ? Map.of() : e.meta());
        meta.put("sdd", source);
        if (e.prompt() != null) {
            return new Example(e.id(), e.prompt(), response, List.of(), null, Map.copyOf(meta));
        }
        List<Example.Message> messages = new ArrayList<>(e.messages());
        messages.set(messages.size() - 1, new Example.Message("assistant", response));
        return new Example(e.id(), null, null, List.copyOf(messages), null, Map.copyOf(meta));
    }

    /**
     * A generated answer.
     *
     * @param text the decoded answer, stripped
     * @param finished whether the model ended it (eos) rather than the token budget
     */
    record Answer(String text, boolean finished) {
    }

    /** Greedy answers of {@code model} to the prompts of {@code records} at {@code which}, in batches. */
    private static List<Answer> answer(RunContext run, LanguageModel model, Tokenizer tok, List<Example> records,
                                       List<Integer> which, int maxNew, int batchSize) {
        int room = Math.max(2, model.config().maxPositions() - maxNew);
        Set<Integer> stops = Set.of(tok.eosId());
        List<Answer> out = new ArrayList<>();
        for (int i = 0; i < which.size(); i += batchSize) {
            List<int[]> prompts = new ArrayList<>();
            for (int k = i; k < Math.min(which.size(), i + batchSize); k++) {
                prompts.add(Records.truncatePrompt(Records.promptIds(records.get(which.get(k)), tok), room, tok));
            }
            GenerationOptions o = new GenerationOptions(maxNew, 0f, 0, 1f, stops, run.seed() + i, true);
            try (NDManager step = run.manager().newSubManager()) {
                for (int[] tokens : run.models().generator().generate(model, prompts, o, step).tokens()) {
                    int end = 0;
                    while (end < tokens.length && !stops.contains(tokens[end])) {
                        end++;
                    }
                    out.add(new Answer(tok.decode(java.util.Arrays.copyOf(tokens, end)).strip(), end < tokens.length));
                }
            }
        }
        return out;
    }

    /** Each record's mean log-probability per response token (and eos) under {@code model}. */
    static List<Double> meanLogProbs(RunResources run, LanguageModel model, Tokenizer tok, List<Example> records,
                                     int maxLength, int batchSize) {
        int max = Math.min(maxLength, model.config().maxPositions() + 1);
        List<Double> out = new ArrayList<>();
        for (int i = 0; i < records.size(); i += batchSize) {
            List<Records.Encoded> seqs = new ArrayList<>();
            for (Example e : records.subList(i, Math.min(records.size(), i + batchSize))) {
                seqs.add(Records.encode(e, tok, max));
            }
            try (NDManager step = run.manager().newSubManager()) {
                TokenBatch b = Records.batch(seqs, tok.padId(), step);
                ModelOutput o = model.forward(b.inputIds(), ForwardOptions.inference().withMask(b.attentionMask()));
                NDArray logp = o.logits().logSoftmax(-1).gather(b.targets().expandDims(-1), -1).squeeze(-1);
                float[] sums = logp.mul(b.lossMask()).sum(new int[] {1}).toFloatArray();
                float[] counts = b.lossMask().sum(new int[] {1}).toFloatArray();
                for (int r = 0; r < sums.length; r++) {
                    out.add(counts[r] == 0 ? Double.NEGATIVE_INFINITY : (double) sums[r] / counts[r]);
                }
            }
        }
        return out;
    }

    /** Builds {@link RegenerateTrainer}. */
    static final class Factory implements TrainerFactory {
        @Override
        public String description() {
            return "self-data distillation: the unpruned model re-answers the fine-tuning prompts; acceptable answers "
                    + "replace the originals (exact, rouge-l or judge check); provenance per record";
        }

        @Override
        public Trainer create() {
            return new RegenerateTrainer();
        }
    }
}

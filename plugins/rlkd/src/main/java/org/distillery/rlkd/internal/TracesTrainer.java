package org.distillery.rlkd.internal;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import ai.djl.ndarray.NDManager;

import org.distillery.api.data.Example;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.reward.Completion;
import org.distillery.api.reward.RewardValue;
import org.distillery.api.run.RunContext;
import org.distillery.api.teacher.Teacher;
import org.distillery.api.train.Stage;
import org.distillery.api.train.StageResult;
import org.distillery.api.train.StageSpec;
import org.distillery.api.train.Trainer;
import org.distillery.api.train.TrainerFactory;
import org.distillery.kit.config.Params;
import org.distillery.kit.data.Records;
import org.distillery.kit.openai.EndpointSettings;
import org.distillery.kit.openai.OpenAiClient;
import org.distillery.kit.rollout.SeededOrder;

/**
 * {@code rl.traces}: DeepSeek-R1's distillation data by rejection sampling (arXiv 2501.12948; METHODS
 * §11): the teacher writes a response (a step-by-step trace) to each prompt, up to {@code tries}
 * times, and a response is kept when the verifiers ({@code reward.exact-answer} by default) judge it
 * correct: the first correct one ({@code keep = first}) or every distinct correct one ({@code all}).
 * Prompts with no correct response are dropped. The writer is the run's in-process teacher, a model an
 * earlier stage handed on ({@code stage:<name>}), a model folder, or an OpenAI-compatible endpoint.
 *
 * <p>Output in {@code stages/<name>/}: {@code data.jsonl} ({@code {prompt, response}} records with the
 * prompt's meta plus {@code source}, {@code writer} and {@code try}: the 1-based try that produced it),
 * and {@code provenance.json}: the writer, the parameters, and the bookkeeping (prompts, samples drawn,
 * correct samples and records kept per try, prompts kept and dropped). A later stage trains on it with
 * {@code data.dataset}'s {@code file = "stage:<name>"}.
 */
final class TracesTrainer implements Trainer {

    /** Registry key. */
    static final String KEY = "rl.traces";

    @Override
    public StageResult run(RunContext run, Stage stage) throws Exception {
        if (!(stage instanceof StageSpec spec)) {
            throw new IllegalArgumentException(KEY + " runs stages with their own parameters, not " + stage);
        }
        Params p = StageSupport.params(run, spec, KEY);
        long seed = StageSupport.seed(p, run, KEY);
        int tries = p.integer("tries", 1);
        boolean keepAll = p.choice("keep", "first", "all").equals("all");
        String writerRef = p.string("writer");
        float temperature = (float) p.nonNegative("temperature");
        int topK = p.integer("top-k", 0);
        float topP = (float) p.number("top-p", 1e-6, 1);
        int maxNew = p.integer("max-new-tokens", 1);
        int batchSize = p.integer("batch-size", 1);
        List<RewardSet.Spec> verifierSpecs = RewardSet.specs(p, "verifiers", false);
        Tokenizer tok = StageSupport.tokenizer(run);
        List<Example> prompts = StageSupport.prompts(run, p, seed);
        Path dir = Files.createDirectories(run.runDir().resolve("stages").resolve(spec.name()));

        Bookkeeping book = new Bookkeeping(tries);
        List<Example> kept = new ArrayList<>();
        Set<Integer> promptsWithRecords = new HashSet<>();
        String identity;
        try (Teacher teacher = StageSupport.teacher(run, tok);
             RewardSet verifiers = RewardSet.open(verifierSpecs, run, tok, teacher)) {
            Sampling sampling = sampling(run, p, writerRef, tok, teacher, dir);
            try (sampling) {
                identity = sampling.identity();
                List<Integer> open = new ArrayList<>();
                for (int i = 0; i < prompts.size(); i++) {
                    open.add(i);
                }
                List<Set<String>> seen = new ArrayList<>();
                prompts.forEach(e -> seen.add(new HashSet<>()));
                for (int t = 0; t < tries && !open.isEmpty(); t++) {
                    if (run.stopRequested()) {
                        return new StageResult(0, null, Map.of(), true);
                    }
                    List<Example> asked = open.stream().map(prompts::get).toList();
                    List<int[]> promptIds = asked.stream().map(e -> StageSupport.promptIds(run, e, tok)).toList();
                    List<int[]> responses = sampling.sample(asked, promptIds, maxNew, temperature, topK, topP,
                            batchSize, SeededOrder.mix(seed, 5, t));
                    List<Completion> completions = new ArrayList<>(asked.size());
                    for (int i = 0; i < asked.size(); i++) {
                        completions.add(new Completion(asked.get(i), promptIds.get(i), responses.get(i),
                                StageSupport.text(responses.get(i), tok)));
                    }
                    List<RewardSet.Scored> verdicts;
                    try (NDManager m = run.manager().newSubManager()) {
                        verdicts = verifiers.score(completions, m);
                    }
                    List<Integer> stillOpen = new ArrayList<>();
                    int correct = 0;
                    int added = 0;
                    for (int i = 0; i < asked.size(); i++) {
                        int k = open.get(i);
                        boolean ok = verdicts.get(i).verdict() == RewardValue.Verdict.CORRECT;
                        correct += ok ? 1 : 0;
                        String text = completions.get(i).response();
                        if (ok && seen.get(k).add(text)) {
                            Example e = prompts.get(k);
                            Map<String, String> meta = new LinkedHashMap<>(e.meta());
                            meta.put("source", KEY);
                            meta.put("writer", identity);
                            meta.put("try", Integer.toString(t + 1));
                            String id = keepAll ? e.id() + "-" + seen.get(k).size() : e.id();
                            kept.add(StageSupport.answered(e, id, text, meta));
                            promptsWithRecords.add(k);
                            added++;
                        }
                        if (keepAll || !ok) {
                            stillOpen.add(k);
                        }
                    }
                    book.tried(t, asked.size(), correct, added);
                    run.events().event("rl-traces", Map.of("stage", spec.name(), "try", t + 1, "sampled", asked.size(),
                            "correct", correct, "kept", added));
                    open = stillOpen;
                }
            }
        }
        int promptsKept = promptsWithRecords.size();
        Map<String, Object> prov = new LinkedHashMap<>();
        prov.put("stage", spec.name());
        prov.put("trainer", KEY);
        prov.put("writer", identity);
        prov.put("verifiers", verifierSpecs.stream().map(RewardSet.Spec::key).toList());
        prov.put("params", p.config().root().unwrapped());
        prov.put("prompts", prompts.size());
        prov.put("prompts-kept", promptsKept);
        prov.put("prompts-dropped", prompts.size() - promptsKept);
        prov.put("records", kept.size());
        prov.put("tries", book.perTry());
        StageSupport.write(run, dir, kept, prov);
        if (kept.isEmpty()) {
            throw new IllegalStateException("stage " + spec.name() + ": no response passed the verifiers in " + tries
                    + " tries per prompt (see " + dir.resolve(StageSupport.PROVENANCE) + ")");
        }
        Map<String, Double> metrics = new LinkedHashMap<>();
        metrics.put("records", (double) kept.size());
        metrics.put("prompts-kept", (double) promptsKept);
        metrics.put("acceptance", book.sampled() == 0 ? Double.NaN : (double) book.correct() / book.sampled());
        return new StageResult(0, null, metrics, false);
    }

    /** Where responses come from: an in-process model or an endpoint. */
    private interface Sampling extends AutoCloseable {
        String identity();

        List<int[]> sample(List<Example> prompts, List<int[]> promptIds, int maxNew, float temperature, int topK,
                           float topP, int batchSize, long seed);

        @Override
        void close() throws Exception;
    }

    private static Sampling sampling(RunContext run, Params p, String ref, Tokenizer tok, Teacher teacher, Path dir) {
        if (ref.equals("endpoint")) {
            EndpointSettings s = EndpointSettings.of(p.child("endpoint"));
            OpenAiClient client = s.client(p.at("endpoint"), dir);
            return new Sampling() {
                @Override
                public String identity() {
                    return s.baseUrl() + " (" + s.model() + ")";
                }

                @Override
                public List<int[]> sample(List<Example> prompts, List<int[]> promptIds, int maxNew, float temperature,
                                          int topK, float topP, int batchSize, long seed) {
                    List<int[]> out = new ArrayList<>(prompts.size());
                    for (int i = 0; i < prompts.size(); i++) {
                        Example e = prompts.get(i);
                        long requestSeed = SeededOrder.mix(seed, i);
                        String text = s.chat()
                                ? client.chatText(List.of(new Tokenizer.ChatTurn("user", e.prompt() != null ? e.prompt()
                                        : Records.promptText(e, tok))), maxNew, temperature, requestSeed)
                                : client.completeText(Records.promptText(e, tok), maxNew, temperature, requestSeed);
                        out.add(Records.concat(tok.encode(text), new int[] {tok.eosId()}));
                    }
                    return out;
                }

                @Override
                public void close() {
                    client.close();
                }
            };
        }
        StageSupport.Writer writer = StageSupport.open(run, ref, teacher, p.at("writer"));
        return new Sampling() {
            @Override
            public String identity() {
                return writer.identity();
            }

            @Override
            public List<int[]> sample(List<Example> prompts, List<int[]> promptIds, int maxNew, float temperature,
                                      int topK, float topP, int batchSize, long seed) {
                return StageSupport.generate(run, writer.model(), promptIds, tok, maxNew, temperature, topK, topP,
                        batchSize, seed);
            }

            @Override
            public void close() throws Exception {
                writer.close();
            }
        };
    }

    /** Rejection sampling's counts per try. */
    static final class Bookkeeping {
        private final int[] sampled;
        private final int[] correct;
        private final int[] kept;

        Bookkeeping(int tries) {
            this.sampled = new int[tries];
            this.correct = new int[tries];
            this.kept = new int[tries];
        }

        void tried(int t, int n, int ok, int added) {
            sampled[t] += n;
            correct[t] += ok;
            kept[t] += added;
        }

        int sampled() {
            return java.util.Arrays.stream(sampled).sum();
        }

        int correct() {
            return java.util.Arrays.stream(correct).sum();
        }

        List<Map<String, Object>> perTry() {
            List<Map<String, Object>> out = new ArrayList<>();
            for (int t = 0; t < sampled.length; t++) {
                if (sampled[t] == 0) {
                    continue;
                }
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("try", t + 1);
                m.put("sampled", sampled[t]);
                m.put("correct", correct[t]);
                m.put("kept", kept[t]);
                out.add(m);
            }
            return out;
        }
    }

    /** The factory. */
    static final class Factory implements TrainerFactory {
        @Override
        public String description() {
            return "R1-style traces: the teacher samples up to n responses per prompt, the verified ones are kept; "
                    + "data.jsonl and provenance.json";
        }

        @Override
        public Trainer create() {
            return new TracesTrainer();
        }
    }
}

package org.distillery.rlkd.internal;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;

import ai.djl.ndarray.NDManager;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Example;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.reward.Completion;
import org.distillery.api.run.RunContext;
import org.distillery.api.teacher.Teacher;
import org.distillery.api.train.Stage;
import org.distillery.api.train.StageResult;
import org.distillery.api.train.StageSpec;
import org.distillery.api.train.Trainer;
import org.distillery.api.train.TrainerFactory;
import org.distillery.kit.config.Params;
import org.distillery.kit.rollout.SeededOrder;

/**
 * {@code dpo.aif}: Zephyr's AI-feedback stage (Tunstall et al., arXiv 2310.16944; METHODS §10, A10),
 * with a reward or judge in place of GPT-4: {@code completions} responses per prompt from a pool of
 * models (completion j from pool member j mod |pool|, each with its own temperature and top-k), scored
 * by the weighted rewards; the best is chosen, a random other one rejected (UltraFeedback-binarized's
 * rule). With {@code drop-ties}, a prompt whose chosen and rejected score the same is dropped.
 *
 * <p>Output in {@code stages/<name>/}: {@code data.jsonl} (preference pairs: {@code {prompt, response
 * = chosen, meta.rejected, meta.chosen-score, meta.rejected-score, meta.chosen-model,
 * meta.rejected-model}}, what {@code dpo.pairs} reads) and {@code provenance.json} (the pool, each
 * model's mean reward and accuracy, how often each was chosen and rejected, ties dropped).
 */
final class AifTrainer implements Trainer {

    /** Registry key. */
    static final String KEY = "dpo.aif";

    /**
     * One pool member.
     *
     * @param model teacher, stage:&lt;name&gt; or a folder
     * @param temperature its sampling temperature
     * @param topK its top-k (0 off)
     */
    record Member(String model, float temperature, int topK) {
    }

    @Override
    public StageResult run(RunContext run, Stage stage) throws Exception {
        if (!(stage instanceof StageSpec spec)) {
            throw new IllegalArgumentException(KEY + " runs stages with their own parameters, not " + stage);
        }
        Params p = StageSupport.params(run, spec, KEY);
        long seed = StageSupport.seed(p, run, KEY);
        List<Member> pool = pool(p);
        int k = p.integer("completions", 2);
        boolean dropTies = p.bool("drop-ties");
        int maxNew = p.integer("max-new-tokens", 1);
        int batchSize = p.integer("batch-size", 1);
        List<RewardSet.Spec> rewardSpecs = RewardSet.specs(p, "rewards", false);
        Tokenizer tok = StageSupport.tokenizer(run);
        List<Example> prompts = StageSupport.prompts(run, p, seed);
        Path dir = Files.createDirectories(run.runDir().resolve("stages").resolve(spec.name()));
        List<int[]> promptIds = prompts.stream().map(e -> StageSupport.promptIds(run, e, tok)).toList();

        // completions[prompt][j]
        List<List<Completion>> completions = new ArrayList<>();
        prompts.forEach(e -> completions.add(new ArrayList<>()));
        List<String> identities = new ArrayList<>();
        List<List<RewardSet.Scored>> scores = new ArrayList<>();
        try (Teacher teacher = StageSupport.teacher(run, tok);
             RewardSet rewards = RewardSet.open(rewardSpecs, run, tok, teacher)) {
            for (int j = 0; j < k; j++) {
                if (run.stopRequested()) {
                    return new StageResult(0, null, Map.of(), true);
                }
                Member member = pool.get(j % pool.size());
                try (StageSupport.Writer writer = StageSupport.open(run, member.model(), teacher,
                        p.at("pool") + "[" + (j % pool.size()) + "].model")) {
                    if (j < pool.size()) {
                        identities.add(writer.identity());
                    }
                    List<int[]> responses = StageSupport.generate(run, writer.model(), promptIds, tok, maxNew,
                            member.temperature(), member.topK(), 1f, batchSize, SeededOrder.mix(seed, 7, j));
                    for (int i = 0; i < prompts.size(); i++) {
                        completions.get(i).add(new Completion(prompts.get(i), promptIds.get(i), responses.get(i),
                                StageSupport.text(responses.get(i), tok)));
                    }
                }
                run.events().event("dpo-aif", Map.of("stage", spec.name(), "completion", j + 1, "of", k,
                        "model", pool.get(j % pool.size()).model()));
            }
            try (NDManager m = run.manager().newSubManager()) {
                for (List<Completion> row : completions) {
                    scores.add(rewards.score(row, m));
                }
            }
        }

        Random rng = new Random(SeededOrder.mix(seed, 8));
        List<Example> pairs = new ArrayList<>();
        int ties = 0;
        double[] rewardSum = new double[pool.size()];
        double[] correctSum = new double[pool.size()];
        int[] checked = new int[pool.size()];
        int[] samples = new int[pool.size()];
        int[] chosenBy = new int[pool.size()];
        int[] rejectedBy = new int[pool.size()];
        for (int i = 0; i < prompts.size(); i++) {
            List<RewardSet.Scored> s = scores.get(i);
            for (int j = 0; j < k; j++) {
                int member = j % pool.size();
                rewardSum[member] += s.get(j).total();
                samples[member]++;
                if (!Double.isNaN(s.get(j).correct())) {
                    correctSum[member] += s.get(j).correct();
                    checked[member]++;
                }
            }
            Choice c = choose(s, rng);
            if (dropTies && s.get(c.chosen()).total() == s.get(c.rejected()).total()) {
                ties++;
                continue;
            }
            Example e = prompts.get(i);
            Completion chosen = completions.get(i).get(c.chosen());
            Completion rejected = completions.get(i).get(c.rejected());
            Map<String, String> meta = new LinkedHashMap<>(e.meta());
            meta.put(PairSampler.REJECTED, rejected.response());
            meta.put("chosen-score", Double.toString(s.get(c.chosen()).total()));
            meta.put("rejected-score", Double.toString(s.get(c.rejected()).total()));
            meta.put("chosen-model", pool.get(c.chosen() % pool.size()).model());
            meta.put("rejected-model", pool.get(c.rejected() % pool.size()).model());
            meta.put("source", KEY);
            if (e.prompt() == null) {
                throw new InvalidConfigException(p.at("file"), "record " + e.id() + " is not a {prompt, response} "
                        + "record; preference pairs need a prompt", e.id(), "{prompt, response} records");
            }
            pairs.add(Example.pair(e.id(), e.prompt(), chosen.response(), meta));
            chosenBy[c.chosen() % pool.size()]++;
            rejectedBy[c.rejected() % pool.size()]++;
        }

        List<Map<String, Object>> members = new ArrayList<>();
        for (int m = 0; m < pool.size(); m++) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("model", pool.get(m).model());
            o.put("identity", m < identities.size() ? identities.get(m) : null);
            o.put("temperature", pool.get(m).temperature());
            o.put("top-k", pool.get(m).topK());
            o.put("completions", samples[m]);
            o.put("mean-reward", samples[m] == 0 ? Double.NaN : rewardSum[m] / samples[m]);
            o.put("accuracy", checked[m] == 0 ? Double.NaN : correctSum[m] / checked[m]);
            o.put("chosen", chosenBy[m]);
            o.put("rejected", rejectedBy[m]);
            members.add(o);
        }
        Map<String, Object> prov = new LinkedHashMap<>();
        prov.put("stage", spec.name());
        prov.put("trainer", KEY);
        prov.put("rewards", rewardSpecs.stream().map(RewardSet.Spec::key).toList());
        prov.put("params", p.config().root().unwrapped());
        prov.put("prompts", prompts.size());
        prov.put("completions-per-prompt", k);
        prov.put("pairs", pairs.size());
        prov.put("dropped-ties", ties);
        prov.put("pool", members);
        StageSupport.write(run, dir, pairs, prov);
        if (pairs.isEmpty()) {
            throw new IllegalStateException("stage " + spec.name() + ": every prompt's completions scored the same, "
                    + "no preference pair (see " + dir.resolve(StageSupport.PROVENANCE) + ")");
        }
        Map<String, Double> metrics = new LinkedHashMap<>();
        metrics.put("pairs", (double) pairs.size());
        metrics.put("dropped-ties", (double) ties);
        return new StageResult(0, null, metrics, false);
    }

    /**
     * Indices of the chosen and rejected completions.
     *
     * @param chosen the best
     * @param rejected a random other one
     */
    record Choice(int chosen, int rejected) {
    }

    /** The best completion (ties broken at random) and a random other one, as UltraFeedback-binarized picks them. */
    static Choice choose(List<RewardSet.Scored> scores, Random rng) {
        double best = Double.NEGATIVE_INFINITY;
        List<Integer> top = new ArrayList<>();
        for (int j = 0; j < scores.size(); j++) {
            double v = scores.get(j).total();
            if (v > best) {
                best = v;
                top.clear();
            }
            if (v == best) {
                top.add(j);
            }
        }
        int chosen = top.get(rng.nextInt(top.size()));
        int other = rng.nextInt(scores.size() - 1);
        return new Choice(chosen, other >= chosen ? other + 1 : other);
    }

    private static List<Member> pool(Params p) {
        List<? extends Config> nodes;
        try {
            nodes = p.config().getConfigList("pool");
        } catch (ConfigException e) {
            throw new InvalidConfigException(p.at("pool"), "must be a list of {model, temperature, top-k}", null,
                    "e.g. [ { model = teacher, temperature = 1.0 } ]");
        }
        if (nodes.isEmpty()) {
            throw new InvalidConfigException(p.at("pool"), "needs at least one model", "[]",
                    "e.g. [ { model = teacher }, { model = \"stage:dsft\" } ]");
        }
        List<Member> out = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            Params m = Params.of(nodes.get(i), p.at("pool") + "[" + i + "]").allowOnly("model", "temperature", "top-k");
            if (!m.has("model") || m.string("model").isBlank()) {
                throw new InvalidConfigException(m.at("model"), "is missing", null,
                        "teacher, stage:<name>, or a model folder");
            }
            float t = m.has("temperature") ? (float) m.nonNegative("temperature") : 1f;
            int topK = m.has("top-k") ? m.integer("top-k", 0) : 0;
            out.add(new Member(m.string("model"), t, topK));
        }
        return List.copyOf(out);
    }

    /** Checks a pool block's shape (for methods, before the run starts). */
    static void checkPool(Params p) {
        pool(p);
    }

    /** The factory. */
    static final class Factory implements TrainerFactory {
        @Override
        public String description() {
            return "Zephyr AI feedback: k completions per prompt from a pool of models, ranked by rewards; chosen = "
                    + "best, rejected = random other; data.jsonl and provenance.json";
        }

        @Override
        public Trainer create() {
            return new AifTrainer();
        }
    }
}

package org.distillery.rlkd.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.data.Example;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.sampler.Sampler;
import org.distillery.api.sampler.SamplerContext;
import org.distillery.api.sampler.SamplerFactory;
import org.distillery.kit.config.Params;
import org.distillery.kit.io.AtomicFiles;
import org.distillery.kit.rollout.Rollout;

/**
 * {@code rl.llmr}: LLMR's policy-gradient rollouts (Li, Hao, Mou, arXiv 2409.12500; METHODS §8, A8).
 *
 * <p>Responses are sampled from a lagged copy of the student (top-k 2 by default, as the authors'
 * code), copied from the student every {@code sync-every} rounds, and scored by dense rewards (by
 * default {@code reward.llmr}: Q_t − V_{t+1} from the teacher); a whole-response reward adds its value
 * on the last token. Each token's advantage is the reward-to-go G_t = Σ_{k≥t} r_k / denominator
 * ({@link PolicyMath#rewardToGo}), minus the round's mean G with {@code baseline = mean} (REINFORCE
 * with a baseline). {@code old-logprobs} are the lagged copy's, so the {@code rl.grpo} loss's
 * ratio π_θ / π_old is LLMR's importance weight against the sampler copy, clipped; add
 * {@code rl.entropy} for the entropy term. The lagged copy is written into every checkpoint with the
 * buffer, so a resumed run samples from the same copy.
 *
 * <pre>
 * train {
 *   loss = [ { key = rl.grpo }, { key = rl.entropy, weight = 0.01 } ]
 *   sampler { key = rl.llmr, params { prompts-per-round = 32, top-k = 2, sync-every = 5 } }
 * }
 * </pre>
 */
final class LlmrSampler extends PolicySampler {

    /** Registry key. */
    static final String KEY = "rl.llmr";
    private static final String LAGGED = "lagged-copy";
    private static final String SYNCED = "lagged-copy-round.txt";

    /**
     * The LLMR-specific settings.
     *
     * @param syncEvery rounds between copies of the student into the sampling copy
     * @param denominator G_t is divided by it
     * @param meanBaseline subtract the round's mean return
     */
    record Settings(int syncEvery, double denominator, boolean meanBaseline) {
        static Settings of(Params p) {
            return new Settings(p.integer("sync-every", 1), p.positive("denominator"),
                    p.choice("baseline", "none", "mean").equals("mean"));
        }
    }

    private final Settings s;
    private final LanguageModel lagged;
    private long syncedRound = -1;

    LlmrSampler(SamplerContext ctx, Common common, Settings s, RewardSet rewards, List<Example> examples,
                List<int[]> prompts, long seed, LanguageModel lagged) {
        super(KEY, ctx, common, rewards, examples, prompts, seed);
        this.s = s;
        this.lagged = lagged;
    }

    @Override
    int groupSize() {
        return 1;
    }

    @Override
    LanguageModel behaviour(long round) {
        if (round % s.syncEvery() == 0 && syncedRound != round) {
            ModelCopies.copyInto(ctx.student(), lagged);
            syncedRound = round;
            ctx.resources().events().event("rl-sync", Map.of("round", round));
        }
        return lagged;
    }

    @Override
    List<String> batchValues() {
        return List.of(OLD_LOGPROBS, ADVANTAGES);
    }

    @Override
    List<Rollout> finish(long round, List<Sample> samples, Map<String, Object> event) {
        List<float[]> returns = new ArrayList<>(samples.size());
        double sum = 0;
        long n = 0;
        for (Sample x : samples) {
            float[] g = PolicyMath.rewardToGo(x.scored().tokenRewards(), s.denominator());
            returns.add(g);
            for (float v : g) {
                sum += v;
                n++;
            }
        }
        double baseline = s.meanBaseline() && n > 0 ? sum / n : 0;
        List<Rollout> out = new ArrayList<>(samples.size());
        for (int i = 0; i < samples.size(); i++) {
            float[] g = returns.get(i);
            float[] adv = new float[g.length];
            for (int t = 0; t < g.length; t++) {
                adv[t] = (float) (g[t] - baseline);
            }
            out.add(base(samples.get(i)).with(ADVANTAGES, adv));
        }
        event.put("baseline", baseline);
        event.put("sampled-by-round", syncedRound);
        return out;
    }

    @Override
    public void saveState(Path dir) throws IOException {
        super.saveState(dir);
        if (syncedRound >= 0) {
            ctx.resources().models().save(lagged, dir.resolve(LAGGED), DataType.FLOAT32);
            AtomicFiles.writeString(dir.resolve(SYNCED), syncedRound + "\n");
        }
    }

    @Override
    public void restoreState(Path dir) throws IOException {
        super.restoreState(dir);
        Path synced = dir.resolve(SYNCED);
        if (Files.exists(synced)) {
            try (NDManager m = ctx.resources().manager().newSubManager();
                 LanguageModel saved = ctx.resources().models().load(dir.resolve(LAGGED), DataType.FLOAT32, m)) {
                ModelCopies.copyInto(saved, lagged);
            }
            syncedRound = Long.parseLong(Files.readString(synced).trim());
        }
    }

    /** The factory. */
    static final class Factory implements SamplerFactory {

        @Override
        public String description() {
            return "LLMR rollouts: samples from a lagged copy of the student, dense teacher-induced rewards, "
                    + "reward-to-go advantages with a baseline";
        }

        @Override
        public Sampler create(SamplerContext ctx, Config params) {
            Params p = Params.of(params, ctx.paramsPath());
            Common common = Common.of(p, ctx);
            Settings s = Settings.of(p);
            List<Example> examples = promptRecords(ctx, p);
            List<int[]> prompts = promptIds(examples, ctx.tokenizer(), common.maxPromptLength());
            RewardSet rewards = RewardSet.open(RewardSet.specs(p, "rewards", false), ctx.resources(), ctx.tokenizer(),
                    ctx.teacher());
            LanguageModel lagged = ModelCopies.copy(ctx.resources(), ctx.student(),
                    ctx.resources().manager().newSubManager());
            long seed = ctx.resources().random(KEY).nextLong();
            return new LlmrSampler(ctx, common, s, rewards, examples, prompts, seed, lagged);
        }
    }
}

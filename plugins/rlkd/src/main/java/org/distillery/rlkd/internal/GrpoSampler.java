package org.distillery.rlkd.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDManager;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Example;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.sampler.Sampler;
import org.distillery.api.sampler.SamplerContext;
import org.distillery.api.sampler.SamplerFactory;
import org.distillery.api.teacher.Teacher;
import org.distillery.kit.config.Params;
import org.distillery.kit.rollout.Rollout;

/**
 * {@code rl.grpo}: GRPO's rollouts (Shao et al., "DeepSeekMath", arXiv 2402.03300) and, with a
 * teacher KL, KDRL's (Xu et al., arXiv 2506.02208; METHODS §9, A9), inside {@code train.kd}.
 *
 * <p>Each round samples {@code group-size} responses to each of {@code prompts-per-round} prompts
 * from the current student ({@link PolicySampler}), sums the weighted rewards r_i of each response
 * and gives every token of response i the group-normalised advantage Â_i = (r_i − mean_g r) /
 * (std_g r + ε) ({@link PolicyMath#groupAdvantages}) for the {@code rl.grpo} loss.
 *
 * <p>KDRL, {@code teacher-kl { beta > 0 }}: KL(π_θ ‖ π_T) on the same samples, β constant or linear
 * from {@code beta} to {@code beta-end} over {@code anneal-rounds} rounds ({@link PolicyMath#beta}):
 * <ul>
 *   <li>{@code in-reward = true}: the k1 estimator in the reward, r_i − β·Σ_t (log π_old − log π_T)
 *       before the group normalisation (reward shaping);</li>
 *   <li>{@code in-reward = false}: per-token weights β ({@code teacher-kl-weight}) for the
 *       {@code rl.kl} loss with {@code reference = teacher} and its estimator (k2 or k3: joint loss);</li>
 *   <li>{@code reward-guided = true}: responses the rewards judge correct get no KD term (weight 0,
 *       no shaping).</li>
 * </ul>
 * With {@code reference = initial} it also stores log-probabilities under the student this stage
 * started from ({@code reference-logprobs}), for {@code rl.kl} with {@code reference = initial}
 * (GRPO's KL to the reference policy).
 *
 * <pre>
 * train {
 *   loss = [ { key = rl.grpo }, { key = rl.kl, params { reference = teacher, estimator = k2 } } ]
 *   sampler { key = rl.grpo, params { prompts-per-round = 16, group-size = 4,
 *             teacher-kl { beta = 5e-3, beta-end = 1e-3, anneal-rounds = 20, reward-guided = true } } }
 * }
 * </pre>
 */
final class GrpoSampler extends PolicySampler {

    /** Registry key. */
    static final String KEY = "rl.grpo";
    /** Per-token β of the KL to the teacher (0 on masked responses). */
    static final String TEACHER_KL_WEIGHT = "teacher-kl-weight";
    /** log π_ref of each sampled token under the stage's starting student. */
    static final String REFERENCE_LOGPROBS = "reference-logprobs";

    /**
     * The GRPO-specific settings.
     *
     * @param groupSize G
     * @param scale divide by the group's standard deviation
     * @param epsilon added to the standard deviation
     * @param reference store the starting student's log-probabilities
     * @param beta KL coefficient at round 0 (0: no KL to the teacher)
     * @param betaEnd coefficient after the anneal
     * @param annealRounds rounds of the linear anneal (0: constant)
     * @param inReward k1 in the reward instead of per-token loss weights
     * @param rewardGuided no KD on correct responses
     */
    record Settings(int groupSize, boolean scale, double epsilon, boolean reference, double beta, double betaEnd,
                    long annealRounds, boolean inReward, boolean rewardGuided) {

        static Settings of(Params p) {
            Params kl = p.child("teacher-kl");
            return new Settings(p.integer("group-size", 1), p.bool("scale-advantages"),
                    p.positive("advantage-epsilon"), p.choice("reference", "none", "initial").equals("initial"),
                    kl.nonNegative("beta"), kl.nonNegative("beta-end"), kl.longInteger("anneal-rounds", 0),
                    kl.bool("in-reward"), kl.bool("reward-guided"));
        }

        boolean teacherKl() {
            return beta > 0 || (annealRounds > 0 && betaEnd > 0);
        }
    }

    private final Settings s;
    private final LanguageModel reference;

    GrpoSampler(SamplerContext ctx, Common common, Settings s, RewardSet rewards, List<Example> examples,
                List<int[]> prompts, long seed, LanguageModel reference) {
        super(KEY, ctx, common, rewards, examples, prompts, seed);
        this.s = s;
        this.reference = reference;
    }

    @Override
    int groupSize() {
        return s.groupSize();
    }

    @Override
    LanguageModel behaviour(long round) {
        return ctx.student();
    }

    @Override
    Map<String, LanguageModel> extraScorers() {
        return reference == null ? Map.of() : Map.of(REFERENCE_LOGPROBS, reference);
    }

    @Override
    void requireTeacherLogits() {
        if (s.teacherKl()) {
            throw new IllegalStateException(KEY + " teacher-kl needs the teacher's full logits; the teacher gives "
                    + "top-k log-probabilities only");
        }
    }

    @Override
    List<String> batchValues() {
        List<String> names = new ArrayList<>(List.of(OLD_LOGPROBS, ADVANTAGES));
        if (s.teacherKl()) {
            names.add(TEACHER_LOGPROBS);
            if (!s.inReward()) {
                names.add(TEACHER_KL_WEIGHT);
            }
        }
        if (reference != null) {
            names.add(REFERENCE_LOGPROBS);
        }
        return names;
    }

    @Override
    List<Rollout> finish(long round, List<Sample> samples, Map<String, Object> event) {
        double beta = s.teacherKl() ? PolicyMath.beta(s.beta(), s.betaEnd(), s.annealRounds(), round) : 0;
        int g = s.groupSize();
        List<Rollout> out = new ArrayList<>(samples.size());
        int groupsWithSignal = 0;
        for (int from = 0; from < samples.size(); from += g) {
            double[] rewards = new double[g];
            for (int i = 0; i < g; i++) {
                Sample x = samples.get(from + i);
                rewards[i] = x.scored().total();
                if (beta > 0 && s.inReward() && !masked(x)) {
                    rewards[i] -= beta * x.teacherKl();
                }
            }
            float[] adv = PolicyMath.groupAdvantages(rewards, s.scale(), s.epsilon());
            boolean signal = false;
            for (int i = 0; i < g; i++) {
                signal |= rewards[i] != rewards[0];
                Sample x = samples.get(from + i);
                Rollout r = base(x).withConstant(ADVANTAGES, adv[i]);
                if (beta > 0 && !s.inReward()) {
                    r = r.withConstant(TEACHER_KL_WEIGHT, masked(x) ? 0f : (float) beta);
                } else if (s.teacherKl() && !s.inReward()) {
                    r = r.withConstant(TEACHER_KL_WEIGHT, 0f);
                }
                if (reference != null) {
                    r = r.with(REFERENCE_LOGPROBS, x.scoredBy().get(REFERENCE_LOGPROBS));
                }
                out.add(r);
            }
            groupsWithSignal += signal ? 1 : 0;
        }
        event.put("groups-with-signal", groupsWithSignal);
        if (s.teacherKl()) {
            event.put("beta", beta);
        }
        return out;
    }

    /** True when reward-guided KD leaves this response out (it is correct). */
    private boolean masked(Sample x) {
        return s.rewardGuided() && x.scored().correct() == 1.0;
    }

    /** The factory. */
    static final class Factory implements SamplerFactory {

        @Override
        public String description() {
            return "GRPO rollouts: G samples per prompt, rewards, group-normalised advantages, PPO epochs over a "
                    + "buffer; KDRL's KL to the teacher (k1 in the reward or per-token weights, annealed, reward-guided)";
        }

        @Override
        public Sampler create(SamplerContext ctx, Config params) {
            Params p = Params.of(params, ctx.paramsPath());
            Common common = Common.of(p, ctx);
            Settings s = Settings.of(p);
            Teacher teacher = ctx.teacher();
            if (s.teacherKl() && (teacher == null)) {
                throw new InvalidConfigException(p.at("teacher-kl.beta"), "KL to the teacher needs a teacher",
                        String.valueOf(s.beta()), "0, or a teacher (teacher.key = teacher.local)");
            }
            if (s.groupSize() < 2 && s.scale()) {
                throw new InvalidConfigException(p.at("group-size"), "a group of one has no spread to normalise by",
                        String.valueOf(s.groupSize()), ">= 2 (GRPO), or scale-advantages = false");
            }
            List<Example> examples = promptRecords(ctx, p);
            List<int[]> prompts = promptIds(examples, ctx.tokenizer(), common.maxPromptLength());
            RewardSet rewards = RewardSet.open(RewardSet.specs(p, "rewards", false), ctx.resources(), ctx.tokenizer(),
                    teacher);
            LanguageModel reference = null;
            if (s.reference()) {
                // the student as the stage starts it (the trainer restores a checkpoint only after the sampler is built)
                NDManager m = ctx.resources().manager().newSubManager();
                reference = ModelCopies.copy(ctx.resources(), ctx.student(), m);
            }
            long seed = ctx.resources().random(KEY).nextLong();
            return new GrpoSampler(ctx, common, s, rewards, examples, prompts, seed, reference);
        }
    }
}

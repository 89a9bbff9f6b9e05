package org.distillery.rlkd.internal;

import java.util.ArrayList;
import java.util.List;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDManager;

import org.distillery.api.Contribution;
import org.distillery.api.ContributionInfo;
import org.distillery.api.ContributionKind;
import org.distillery.api.ContributionRegistry;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.reward.Completion;
import org.distillery.api.reward.Reward;
import org.distillery.api.reward.RewardContext;
import org.distillery.api.reward.RewardFactory;
import org.distillery.api.reward.RewardValue;
import org.distillery.api.run.RunResources;
import org.distillery.api.teacher.Teacher;
import org.distillery.kit.config.Params;

/**
 * A weighted list of rewards, {@code [{key, weight, params}, ...]}, each built from the registry with
 * its parameters checked against its defaults, scored together: the total is Σ weight·value; the
 * per-token rewards are Σ weight·(the reward's token rewards, or its value on the last token); the
 * verdict is correct when some reward checked the response and none found it wrong.
 */
final class RewardSet implements AutoCloseable {

    /**
     * One weighted reward node, as written.
     *
     * @param key registry key
     * @param weight its weight in the sum
     * @param params its parameters as written
     * @param path where it was written, e.g. {@code train.sampler.params.rewards[0]}
     */
    record Spec(String key, double weight, Config params, String path) {
    }

    /**
     * The combined judgement of one completion.
     *
     * @param total Σ weight·value
     * @param tokenRewards Σ weight·(token rewards, or the value on the last token), one per response token
     * @param verdict correct, wrong, or unknown when no reward checks correctness
     * @param values each reward's value, in list order
     */
    record Scored(double total, float[] tokenRewards, RewardValue.Verdict verdict, double[] values) {

        /** 1 for correct, 0 for wrong, NaN when unknown. */
        double correct() {
            return switch (verdict) {
                case CORRECT -> 1;
                case WRONG -> 0;
                case UNKNOWN -> Double.NaN;
            };
        }
    }

    private final List<Spec> specs;
    private final List<Reward> rewards;

    private RewardSet(List<Spec> specs, List<Reward> rewards) {
        this.specs = specs;
        this.rewards = rewards;
    }

    /**
     * Reads the weighted reward nodes of {@code list} in {@code p} ({@code [{key, weight, params}]};
     * weight defaults to 1), failing at the node's path on unknown keys or a missing key.
     */
    static List<Spec> specs(Params p, String list, boolean mayBeEmpty) {
        List<? extends Config> nodes;
        try {
            nodes = p.config().getConfigList(list);
        } catch (ConfigException e) {
            throw new InvalidConfigException(p.at(list), "must be a list of {key, weight, params}", null,
                    "e.g. [ { key = reward.exact-answer, weight = 1.0 } ]");
        }
        if (nodes.isEmpty() && !mayBeEmpty) {
            throw new InvalidConfigException(p.at(list), "needs at least one reward", "[]",
                    "e.g. [ { key = reward.exact-answer, weight = 1.0 } ]");
        }
        List<Spec> out = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            String path = p.at(list) + "[" + i + "]";
            Params node = Params.of(nodes.get(i), path).allowOnly("key", "weight", "params");
            if (!node.has("key") || node.string("key").isEmpty()) {
                throw new InvalidConfigException(node.at("key"), "is missing", null, "a registered reward key");
            }
            double weight = node.has("weight") ? node.number("weight") : 1.0;
            Config params = node.has("params") ? node.child("params").config() : ConfigFactory.empty();
            out.add(new Spec(node.string("key"), weight, params, path));
        }
        return List.copyOf(out);
    }

    /** Checks that every spec names a registered reward and writes only its known parameters. */
    static void check(List<Spec> specs, ContributionRegistry registry) {
        for (Spec s : specs) {
            Contribution<RewardFactory> c = find(s, registry);
            Params.checkKnown(s.params().root(), c.defaults().root(), s.path() + ".params");
        }
    }

    /** Builds every reward with the run's resources, tokenizer and teacher. */
    static RewardSet open(List<Spec> specs, RunResources resources, Tokenizer tokenizer, Teacher teacher) {
        check(specs, resources.registry());
        List<Reward> built = new ArrayList<>();
        try {
            for (Spec s : specs) {
                Contribution<RewardFactory> c = find(s, resources.registry());
                built.add(c.factory().create(new RewardContext(resources, tokenizer, teacher, s.path() + ".params"),
                        s.params().withFallback(c.defaults()).resolve()));
            }
        } catch (RuntimeException e) {
            built.forEach(Reward::close);
            throw e;
        }
        return new RewardSet(specs, List.copyOf(built));
    }

    private static Contribution<RewardFactory> find(Spec s, ContributionRegistry registry) {
        return registry.find(ContributionKind.REWARD, s.key(), RewardFactory.class).orElseThrow(() -> {
            List<String> known = registry.list(ContributionKind.REWARD).stream().map(ContributionInfo::key).toList();
            return new InvalidConfigException(s.path() + ".key", "no registered rewards named '" + s.key() + "'",
                    s.key(), known.isEmpty() ? "none registered" : String.join(", ", known));
        });
    }

    /** The reward keys, in order. */
    List<String> keys() {
        return specs.stream().map(Spec::key).toList();
    }

    /** Scores {@code completions} with every reward and combines them. */
    List<Scored> score(List<Completion> completions, NDManager manager) {
        List<List<RewardValue>> all = new ArrayList<>();
        for (int r = 0; r < rewards.size(); r++) {
            List<RewardValue> v = rewards.get(r).score(completions, manager);
            if (v.size() != completions.size()) {
                throw new IllegalStateException(specs.get(r).key() + " returned " + v.size() + " values for "
                        + completions.size() + " completions");
            }
            all.add(v);
        }
        List<Scored> out = new ArrayList<>(completions.size());
        for (int i = 0; i < completions.size(); i++) {
            int n = completions.get(i).responseIds().length;
            float[] tokens = new float[n];
            double total = 0;
            double[] values = new double[rewards.size()];
            boolean checked = false;
            boolean wrong = false;
            for (int r = 0; r < rewards.size(); r++) {
                RewardValue v = all.get(r).get(i);
                double w = specs.get(r).weight();
                values[r] = v.value();
                total += w * v.value();
                if (v.tokenRewards() != null) {
                    if (v.tokenRewards().length != n) {
                        throw new IllegalStateException(specs.get(r).key() + " returned " + v.tokenRewards().length
                                + " token rewards for a response of " + n + " tokens");
                    }
                    for (int t = 0; t < n; t++) {
                        tokens[t] += (float) (w * v.tokenRewards()[t]);
                    }
                } else if (n > 0) {
                    tokens[n - 1] += (float) (w * v.value());
                }
                checked |= v.verdict() != RewardValue.Verdict.UNKNOWN;
                wrong |= v.verdict() == RewardValue.Verdict.WRONG;
            }
            RewardValue.Verdict verdict = !checked ? RewardValue.Verdict.UNKNOWN
                    : wrong ? RewardValue.Verdict.WRONG : RewardValue.Verdict.CORRECT;
            out.add(new Scored(total, tokens, verdict, values));
        }
        return out;
    }

    @Override
    public void close() {
        rewards.forEach(Reward::close);
    }
}

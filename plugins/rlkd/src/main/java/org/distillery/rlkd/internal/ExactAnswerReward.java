package org.distillery.rlkd.internal;

import java.util.ArrayList;
import java.util.List;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDManager;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.reward.Completion;
import org.distillery.api.reward.Reward;
import org.distillery.api.reward.RewardContext;
import org.distillery.api.reward.RewardFactory;
import org.distillery.api.reward.RewardValue;
import org.distillery.kit.config.Params;

/**
 * {@code reward.exact-answer}: the verifiable reward of reasoning RL (DeepSeek-R1's rule-based
 * accuracy reward; KDRL's rule-based reward): {@code correct} when the final answer, the content of
 * the last {@code <answer>…</answer>} of the response, equals the record's reference answer
 * {@code meta.<answer-key>}, else {@code wrong}. A response without the answer tags (a format error)
 * is wrong. Its verdict is the one rejection sampling and reward-guided KD read.
 *
 * <pre>
 * rewards = [ { key = reward.exact-answer, weight = 1.0, params { answer-key = answer, numeric = true } } ]
 * </pre>
 */
final class ExactAnswerReward implements Reward {

    /** Registry key. */
    static final String KEY = "reward.exact-answer";

    private final String answerKey;
    private final boolean numeric;
    private final boolean requireThink;
    private final double correct;
    private final double wrong;
    private final String path;

    ExactAnswerReward(String answerKey, boolean numeric, boolean requireThink, double correct, double wrong,
                      String path) {
        this.answerKey = answerKey;
        this.numeric = numeric;
        this.requireThink = requireThink;
        this.correct = correct;
        this.wrong = wrong;
        this.path = path;
    }

    @Override
    public List<RewardValue> score(List<Completion> completions, NDManager manager) {
        List<RewardValue> out = new ArrayList<>(completions.size());
        for (Completion c : completions) {
            String reference = c.example().meta() == null ? null : c.example().meta().get(answerKey);
            if (reference == null) {
                throw new InvalidConfigException(path + ".answer-key", "record " + c.example().id()
                        + " has no meta." + answerKey + " to check the answer against", answerKey,
                        "the meta key holding each record's reference answer (the reasoning suite's is answer)");
            }
            boolean ok = Answers.correct(c.response(), reference, numeric, requireThink);
            out.add(RewardValue.checked(ok ? correct : wrong, ok));
        }
        return out;
    }

    /** The factory. */
    static final class Factory implements RewardFactory {
        @Override
        public String description() {
            return "1 when the final <answer> equals the record's reference answer, else 0 (format errors score 0)";
        }

        @Override
        public Reward create(RewardContext context, Config params) {
            Params p = Params.of(params, context.paramsPath());
            String key = p.string("answer-key");
            if (key.isBlank()) {
                throw new InvalidConfigException(p.at("answer-key"), "is required", "\"\"", "e.g. answer");
            }
            return new ExactAnswerReward(key, p.bool("numeric"), p.bool("require-think"), p.number("correct"),
                    p.number("wrong"), context.paramsPath());
        }
    }
}

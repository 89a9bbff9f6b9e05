package org.distillery.rlkd.internal;

import java.util.ArrayList;
import java.util.List;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDManager;

import org.distillery.api.reward.Completion;
import org.distillery.api.reward.Reward;
import org.distillery.api.reward.RewardContext;
import org.distillery.api.reward.RewardFactory;
import org.distillery.api.reward.RewardValue;
import org.distillery.kit.config.Params;

/**
 * {@code reward.format}: DeepSeek-R1's format reward: {@code value} when the response has the shape
 * {@code <think>…</think><answer>…</answer>} (whitespace around the parts allowed, no tag inside a
 * part), else 0. It says nothing about correctness (no verdict).
 *
 * <pre>
 * rewards = [ { key = reward.format, weight = 0.1, params { require-think = true } } ]
 * </pre>
 */
final class FormatReward implements Reward {

    /** Registry key. */
    static final String KEY = "reward.format";

    private final boolean requireThink;
    private final double value;

    FormatReward(boolean requireThink, double value) {
        this.requireThink = requireThink;
        this.value = value;
    }

    @Override
    public List<RewardValue> score(List<Completion> completions, NDManager manager) {
        List<RewardValue> out = new ArrayList<>(completions.size());
        for (Completion c : completions) {
            out.add(RewardValue.of(Answers.wellFormed(c.response(), requireThink) ? value : 0));
        }
        return out;
    }

    /** The factory. */
    static final class Factory implements RewardFactory {
        @Override
        public String description() {
            return "value for a <think>...</think><answer>...</answer> response, else 0";
        }

        @Override
        public Reward create(RewardContext context, Config params) {
            Params p = Params.of(params, context.paramsPath());
            return new FormatReward(p.bool("require-think"), p.number("value"));
        }
    }
}

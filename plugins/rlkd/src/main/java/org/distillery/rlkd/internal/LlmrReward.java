package org.distillery.rlkd.internal;

import java.util.ArrayList;
import java.util.List;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Example;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.reward.Completion;
import org.distillery.api.reward.Reward;
import org.distillery.api.reward.RewardContext;
import org.distillery.api.reward.RewardFactory;
import org.distillery.api.reward.RewardValue;
import org.distillery.api.teacher.Teacher;
import org.distillery.api.teacher.TeacherOutput;
import org.distillery.kit.config.Params;
import org.distillery.kit.data.Records;

/**
 * {@code reward.llmr}: LLMR's reward induced from the teacher (METHODS §8, A8; Li, Hao, Mou,
 * "LLMR: Knowledge Distillation with a Large Language Model-Induced Reward", LREC-COLING 2024,
 * arXiv 2409.12500): per response token r_t = Q_t − V_{t+1} from the teacher's mean-centred logits
 * ({@link LlmrMath}), averaged over the prompt templates, a dense reward (one value per token; the
 * response's value is their sum, which telescopes to the teacher's log-likelihood of the response up to
 * a constant per prompt). The teacher scores each template's prompt followed by the response in one
 * forward pass; it must give full logits (an in-process teacher).
 *
 * <p>Defaults (A8): one template {@code {prompt}}, V as the expectation, rewards clipped to ±1.
 * <pre>
 * rewards = [ { key = reward.llmr, params { templates = ["{prompt}", "Question: {prompt}"], clip = 1.0 } } ]
 * </pre>
 */
final class LlmrReward implements Reward {

    /** Registry key. */
    static final String KEY = "reward.llmr";

    private final Teacher teacher;
    private final Tokenizer tokenizer;
    private final List<String> templates;
    private final LlmrMath.Value value;
    private final double clip;
    private final int batchSize;

    LlmrReward(Teacher teacher, Tokenizer tokenizer, List<String> templates, LlmrMath.Value value, double clip,
               int batchSize) {
        this.teacher = teacher;
        this.tokenizer = tokenizer;
        this.templates = templates;
        this.value = value;
        this.clip = clip;
        this.batchSize = batchSize;
    }

    @Override
    public List<RewardValue> score(List<Completion> completions, NDManager manager) {
        List<float[]> sums = new ArrayList<>(completions.size());
        for (Completion c : completions) {
            sums.add(new float[c.responseIds().length]);
        }
        for (String template : templates) {
            for (int from = 0; from < completions.size(); from += batchSize) {
                List<Completion> chunk = completions.subList(from, Math.min(completions.size(), from + batchSize));
                List<float[]> rewards = scoreChunk(chunk, template, manager);
                for (int i = 0; i < chunk.size(); i++) {
                    float[] acc = sums.get(from + i);
                    float[] r = rewards.get(i);
                    for (int t = 0; t < acc.length; t++) {
                        acc[t] += r[t];
                    }
                }
            }
        }
        List<RewardValue> out = new ArrayList<>(completions.size());
        for (float[] s : sums) {
            for (int t = 0; t < s.length; t++) {
                s[t] /= templates.size();
            }
            out.add(RewardValue.dense(s));
        }
        return out;
    }

    private List<float[]> scoreChunk(List<Completion> chunk, String template, NDManager manager) {
        List<int[]> sequences = new ArrayList<>(chunk.size());
        List<Integer> promptLengths = new ArrayList<>(chunk.size());
        for (Completion c : chunk) {
            int[] prompt = promptIds(c, template);
            sequences.add(Records.concat(prompt, c.responseIds()));
            promptLengths.add(prompt.length);
        }
        List<float[]> out = new ArrayList<>(chunk.size());
        try (NDManager m = manager.newSubManager()) {
            TeacherOutput t = teacher.score(Sequences.fullBatch(sequences, tokenizer.padId(), m), false, m);
            if (!t.hasLogits()) {
                throw new IllegalStateException(KEY + " needs the teacher's full logits; teacher " + teacher.identity()
                        + " gives only top-k log-probabilities");
            }
            NDArray logits = t.logits().toType(DataType.FLOAT32, false);
            for (int i = 0; i < chunk.size(); i++) {
                int p = promptLengths.get(i);
                int[] response = chunk.get(i).responseIds();
                if (response.length == 0) {
                    out.add(new float[0]);
                    continue;
                }
                // rows p-1 .. p+T-1: the states before each response token, then after the last one
                NDArray rows = logits.get("{}, {}:{}, :", i, p - 1, p + response.length);
                long vocab = rows.getShape().get(1);
                float[] flat = rows.toFloatArray();
                float[][] z = new float[response.length + 1][];
                for (int r = 0; r <= response.length; r++) {
                    z[r] = java.util.Arrays.copyOfRange(flat, (int) (r * vocab), (int) ((r + 1) * vocab));
                }
                boolean terminal = response[response.length - 1] == tokenizer.eosId();
                out.add(LlmrMath.rewards(z, response, terminal, value, clip));
            }
        }
        return out;
    }

    /** The prompt of {@code c} under {@code template}: its own ids for {@code {prompt}}, else the template filled in. */
    private int[] promptIds(Completion c, String template) {
        if (template.equals("{prompt}")) {
            return c.promptIds();
        }
        Example e = c.example();
        if (e.prompt() == null) {
            throw new IllegalArgumentException(KEY + ": record " + e.id() + " is not a {prompt, response} record; "
                    + "templates other than {prompt} need its prompt text");
        }
        Example filled = Example.pair(e.id(), template.replace("{prompt}", e.prompt()), "", e.meta());
        return Records.promptIds(filled, tokenizer);
    }

    /** The factory. */
    static final class Factory implements RewardFactory {
        @Override
        public String description() {
            return "LLMR teacher-induced dense reward: Q_t - V_{t+1} from the teacher's mean-centred logits, "
                    + "averaged over prompt templates";
        }

        @Override
        public Reward create(RewardContext context, Config params) {
            Params p = Params.of(params, context.paramsPath());
            Teacher teacher = context.teacher();
            if (teacher == null || teacher.model().isEmpty()) {
                throw new InvalidConfigException("teacher.key", KEY + " reads the teacher's full logits and needs an "
                        + "in-process teacher", teacher == null ? "\"\"" : teacher.identity(), "teacher.local");
            }
            List<String> templates = p.strings("templates");
            if (templates.isEmpty()) {
                throw new InvalidConfigException(p.at("templates"), "needs at least one template", "[]",
                        "e.g. [\"{prompt}\"]");
            }
            for (int i = 0; i < templates.size(); i++) {
                if (!templates.get(i).contains("{prompt}")) {
                    throw new InvalidConfigException(p.at("templates") + "[" + i + "]", "must contain {prompt}",
                            Params.quote(templates.get(i)), "a template with {prompt}");
                }
            }
            return new LlmrReward(teacher, context.tokenizer(), List.copyOf(templates),
                    p.choice("value", LlmrMath.Value.class), p.nonNegative("clip"), p.integer("batch-size", 1));
        }
    }
}

package org.distillery.rlkd.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Example;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.GenerationOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.reward.Completion;
import org.distillery.api.reward.Reward;
import org.distillery.api.reward.RewardContext;
import org.distillery.api.reward.RewardFactory;
import org.distillery.api.reward.RewardValue;
import org.distillery.api.run.RunResources;
import org.distillery.kit.config.Params;
import org.distillery.kit.data.Records;
import org.distillery.kit.openai.EndpointSettings;
import org.distillery.kit.openai.OpenAiClient;

/**
 * {@code reward.judge}: a judge model's score of each response, in place of GPT-4 as Zephyr's
 * AI feedback judge (METHODS §10: UltraFeedback's completions scored by GPT-4): the run's teacher, a
 * local model folder, or any OpenAI-compatible endpoint through the kit's client.
 * <ul>
 *   <li>{@code scorer = logprob} (local judges): the mean log-probability of the response tokens given
 *       the prompt under the judge, the project's teacher-as-judge score;</li>
 *   <li>{@code scorer = score}: the judge's greedy reply to {@code judge-template} (with {@code {prompt}}
 *       and {@code {response}}), read as the first number in it; a reply without one is
 *       {@code unscored}.</li>
 * </ul>
 * Every value is multiplied by {@code scale}. No verdict: a judge ranks, it does not check.
 *
 * <pre>
 * rewards = [ { key = reward.judge, params { source = endpoint, scorer = score,
 *               endpoint { base-url = "https://api.openai.com/v1", model = gpt-4o-mini, api-key-env = OPENAI_API_KEY } } } ]
 * </pre>
 */
final class JudgeReward implements Reward {

    /** Registry key. */
    static final String KEY = "reward.judge";

    private static final Pattern NUMBER = Pattern.compile("-?\\d+(\\.\\d+)?");

    private final RunResources resources;
    private final Tokenizer tokenizer;
    private final LanguageModel model;
    private final boolean ownsModel;
    private final OpenAiClient client;
    private final boolean chat;
    private final boolean logprob;
    private final String template;
    private final int maxJudgeTokens;
    private final double unscored;
    private final double scale;
    private final int batchSize;
    private final int maxLength;

    private JudgeReward(RunResources resources, Tokenizer tokenizer, LanguageModel model, boolean ownsModel,
                        OpenAiClient client, boolean chat, boolean logprob, String template, int maxJudgeTokens,
                        double unscored, double scale, int batchSize, int maxLength) {
        this.resources = resources;
        this.tokenizer = tokenizer;
        this.model = model;
        this.ownsModel = ownsModel;
        this.client = client;
        this.chat = chat;
        this.logprob = logprob;
        this.template = template;
        this.maxJudgeTokens = maxJudgeTokens;
        this.unscored = unscored;
        this.scale = scale;
        this.batchSize = batchSize;
        this.maxLength = maxLength;
    }

    @Override
    public List<RewardValue> score(List<Completion> completions, NDManager manager) {
        List<RewardValue> out = new ArrayList<>(completions.size());
        if (logprob) {
            for (double v : meanLogProbs(completions, manager)) {
                out.add(RewardValue.of(v * scale));
            }
            return out;
        }
        List<String> replies = client != null ? ask(completions) : generate(completions, manager);
        for (String reply : replies) {
            Matcher m = NUMBER.matcher(reply);
            out.add(RewardValue.of((m.find() ? Double.parseDouble(m.group()) : unscored) * scale));
        }
        return out;
    }

    private List<Double> meanLogProbs(List<Completion> completions, NDManager manager) {
        List<Double> out = new ArrayList<>(completions.size());
        for (int from = 0; from < completions.size(); from += batchSize) {
            List<Completion> chunk = completions.subList(from, Math.min(completions.size(), from + batchSize));
            List<Records.Encoded> seqs = new ArrayList<>(chunk.size());
            for (Completion c : chunk) {
                seqs.add(Records.join(c.promptIds(), c.responseIds(), maxLength, Records.Truncation.KEEP_PROMPT_END));
            }
            try (NDManager m = manager.newSubManager()) {
                TokenBatch b = Records.batch(seqs, tokenizer.padId(), m);
                NDArray logits = model.forward(b.inputIds(), ForwardOptions.inference().withMask(b.attentionMask()))
                        .logits();
                logits.attach(m);
                NDArray picked = logits.toType(DataType.FLOAT32, false).logSoftmax(-1)
                        .gather(b.targets().expandDims(-1), -1).squeeze(-1);
                float[] sums = picked.mul(b.lossMask()).sum(new int[] {1}).toFloatArray();
                float[] counts = b.lossMask().sum(new int[] {1}).toFloatArray();
                for (int i = 0; i < chunk.size(); i++) {
                    out.add(counts[i] == 0 ? 0.0 : sums[i] / counts[i]);
                }
            }
        }
        return out;
    }

    private String filled(Completion c) {
        Example e = c.example();
        String prompt = e.prompt() != null ? e.prompt() : Records.promptText(e, tokenizer);
        return template.replace("{prompt}", prompt).replace("{response}", c.response());
    }

    private List<String> ask(List<Completion> completions) {
        List<String> out = new ArrayList<>(completions.size());
        for (Completion c : completions) {
            String text = filled(c);
            out.add(chat ? client.chatText(List.of(new Tokenizer.ChatTurn("user", text)), maxJudgeTokens, 0.0, 0L)
                    : client.completeText(text, maxJudgeTokens, 0.0, 0L));
        }
        return out;
    }

    private List<String> generate(List<Completion> completions, NDManager manager) {
        List<int[]> prompts = new ArrayList<>(completions.size());
        for (Completion c : completions) {
            Example asked = Example.pair(c.example().id(), filled(c), "", java.util.Map.of());
            prompts.add(Records.truncatePrompt(Records.promptIds(asked, tokenizer),
                    Math.max(2, Math.min(maxLength, model.config().maxPositions()) - maxJudgeTokens), tokenizer));
        }
        List<String> out = new ArrayList<>(completions.size());
        GenerationOptions o = new GenerationOptions(maxJudgeTokens, 0f, 0, 1f, Set.of(tokenizer.eosId()), 0L, true);
        for (int from = 0; from < prompts.size(); from += batchSize) {
            try (NDManager m = manager.newSubManager()) {
                var r = resources.models().generator().generate(model,
                        prompts.subList(from, Math.min(prompts.size(), from + batchSize)), o, m);
                for (int[] t : r.tokens()) {
                    int n = t.length > 0 && t[t.length - 1] == tokenizer.eosId() ? t.length - 1 : t.length;
                    out.add(tokenizer.decode(java.util.Arrays.copyOf(t, n)));
                }
            }
        }
        return out;
    }

    @Override
    public void close() {
        if (ownsModel && model != null) {
            model.close();
        }
        if (client != null) {
            client.close();
        }
    }

    /** The factory. */
    static final class Factory implements RewardFactory {
        @Override
        public String description() {
            return "a judge's score of the response: mean log-prob under the teacher or a model, or an endpoint's "
                    + "1-10 rating";
        }

        @Override
        public Reward create(RewardContext context, Config params) {
            Params p = Params.of(params, context.paramsPath());
            String source = p.choice("source", "teacher", "model", "endpoint");
            String scorer = p.choice("scorer", "logprob", "score");
            String template = p.template("judge-template", "response");
            int maxJudge = p.integer("max-judge-tokens", 1);
            double unscored = p.number("unscored");
            double scale = p.number("scale");
            int batch = p.integer("batch-size", 1);
            int maxLength = p.integer("max-length", 2);
            RunResources r = context.resources();
            switch (source) {
                case "endpoint" -> {
                    if (scorer.equals("logprob")) {
                        throw new InvalidConfigException(p.at("scorer"), "an endpoint judge answers with a score",
                                scorer, "score (or source = teacher | model for logprob)");
                    }
                    EndpointSettings s = EndpointSettings.of(p.child("endpoint"));
                    return new JudgeReward(r, context.tokenizer(), null, false, s.client(p.at("endpoint"), null),
                            s.chat(), false, template, maxJudge, unscored, scale, batch, maxLength);
                }
                case "model" -> {
                    String dir = p.string("model-dir");
                    if (dir.isEmpty() || !Files.isDirectory(Path.of(dir))) {
                        throw new InvalidConfigException(p.at("model-dir"), "not a model folder", Params.quote(dir),
                                "a Hugging Face model folder (source = model)");
                    }
                    LanguageModel m;
                    try {
                        m = r.models().load(Path.of(dir), DataType.FLOAT32, r.manager());
                    } catch (IOException | RuntimeException e) {
                        throw new InvalidConfigException(p.at("model-dir"), "cannot load the judge: " + e.getMessage(),
                                dir, "a Hugging Face model folder");
                    }
                    return new JudgeReward(r, context.tokenizer(), m, true, null, false, scorer.equals("logprob"),
                            template, maxJudge, unscored, scale, batch, maxLength);
                }
                default -> {
                    if (context.teacher() == null || context.teacher().model().isEmpty()) {
                        throw new InvalidConfigException(p.at("source"), "the run has no in-process teacher to judge with",
                                source, "model (with model-dir) or endpoint, or teacher.key = teacher.local");
                    }
                    return new JudgeReward(r, context.tokenizer(), context.teacher().model().get(), false, null, false,
                            scorer.equals("logprob"), template, maxJudge, unscored, scale, batch, maxLength);
                }
            }
        }
    }
}

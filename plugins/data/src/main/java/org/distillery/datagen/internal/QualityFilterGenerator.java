package org.distillery.datagen.internal;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.distillery.api.data.Datasets;
import org.distillery.api.data.Example;
import org.distillery.api.data.GeneratorContext;
import org.distillery.api.model.Tokenizer;
import org.distillery.kit.config.Params;
import org.distillery.kit.openai.EndpointSettings;
import org.distillery.kit.data.Records;

/**
 * {@code data.quality-filter}: keeps the samples of a dataset that a judge scores at least
 * {@code min-score} (phi-1's "educational value" annotation, with the teacher or any other
 * endpoint as the annotator; METHODS.md section 13).
 *
 * <ul>
 *   <li>{@code scorer = judge}: {@code judge-template} asks for a 1-10 score of the response; the
 *       reply is parsed robustly ("8", "Score: 8/10", "**7.5**", "I'd give it 9"): an {@code x/10}
 *       fraction first, then a number after "score", then the first number; a reply without a
 *       number in [1, 10] counts as unparsed.</li>
 *   <li>{@code scorer = logprob}: the endpoint's mean log-probability of the response after
 *       {@code scoring-prefix-template} ({@code /v1/completions} with {@code echo} and
 *       {@code max_tokens: 0}, which {@code distill serve} and vLLM offer), e.g. min-score = -1.5.</li>
 * </ul>
 * Each kept record carries its score in {@code meta.quality}; provenance counts kept, below
 * threshold, unparsed and refused.
 *
 * <pre>
 * generator { key = data.quality-filter, params { input = "stage:targeted", scorer = judge, min-score = 7 } }
 * </pre>
 */
final class QualityFilterGenerator extends Generated {

    static final String KEY = "data.quality-filter";
    private static final Pattern FRACTION = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*/\\s*10\\b");
    private static final Pattern AFTER_SCORE = Pattern.compile("(?i)(?:score|rating)[^0-9]{0,12}(\\d+(?:\\.\\d+)?)");
    private static final Pattern NUMBER = Pattern.compile("(?<![0-9.])(\\d+(?:\\.\\d+)?)");

    private final EndpointSettings endpoint;
    private final String endpointPath;
    private final String input;
    private final String inputPath;
    private final String scorer;
    private final String judgeTemplate;
    private final String prefixTemplate;
    private final double minScore;
    private final int maxJudgeTokens;
    private final double judgeTemperature;
    private final boolean keepUnscored;
    private final long seed;

    QualityFilterGenerator(Params p) {
        endpointPath = p.at("endpoint");
        endpoint = EndpointSettings.of(p.child("endpoint"));
        input = p.string("input");
        inputPath = p.at("input");
        Inputs.check(input, inputPath);
        scorer = p.choice("scorer", "judge", "logprob");
        judgeTemplate = p.template("judge-template", "response");
        prefixTemplate = p.string("scoring-prefix-template");
        minScore = p.number("min-score");
        maxJudgeTokens = p.integer("max-judge-tokens", 1);
        judgeTemperature = p.number("judge-temperature", 0, 2);
        keepUnscored = p.bool("keep-unscored");
        seed = p.config().getLong("seed");
    }

    /** The score in a judge's reply, if it holds a number in [1, 10]. */
    static OptionalDouble parseScore(String reply) {
        if (reply == null) {
            return OptionalDouble.empty();
        }
        for (Pattern p : List.of(FRACTION, AFTER_SCORE, NUMBER)) {
            Matcher m = p.matcher(reply);
            while (m.find()) {
                double v = Double.parseDouble(m.group(1));
                if (v >= 1 && v <= 10) {
                    return OptionalDouble.of(v);
                }
                if (p != NUMBER) {
                    break;
                }
            }
        }
        return OptionalDouble.empty();
    }

    @Override
    Output produce(GeneratorContext run) {
        Path workDir = run.workDir();
        long s = seed < 0 ? run.resources().seed() : seed;
        List<Example> in = run.datasets().read(input, Datasets.Split.TRAIN, inputPath);
        Provenance prov = new Provenance(KEY);
        prov.put("endpoint", endpoint.describe()).put("seed", s).put("input", input).put("scorer", scorer)
                .put("templates", scorer.equals("judge") ? Map.of("judge", judgeTemplate)
                        : Map.of("scoring-prefix", prefixTemplate))
                .put("filters", Map.of("min-score", minScore, "keep-unscored", keepUnscored));
        Provenance.Step step = prov.step("quality");
        List<Example> out = new ArrayList<>();
        double sum = 0;
        int scored = 0;
        try (Endpoint ep = Endpoint.open(endpoint, endpointPath, workDir);
             Parallel par = new Parallel(endpoint.concurrency())) {
            int chunk = 4 * endpoint.concurrency();
            for (int start = 0; start < in.size() && !run.stopRequested(); start += chunk) {
                int n = Math.min(chunk, in.size() - start);
                int base = start;
                List<Endpoint.Reply> replies = par.map(n, i -> score(ep, in.get(base + i), s, base + i));
                for (int i = 0; i < n; i++) {
                    Example e = in.get(base + i);
                    Endpoint.Reply r = replies.get(i);
                    OptionalDouble score = !r.ok() ? OptionalDouble.empty() : scorer.equals("judge") ? parseScore(r.text())
                            : OptionalDouble.of(Double.parseDouble(r.text()));
                    if (score.isPresent()) {
                        sum += score.getAsDouble();
                        scored++;
                    }
                    String reason = score.isEmpty() ? (keepUnscored ? null : r.ok() ? "unparsed" : "refused")
                            : score.getAsDouble() < minScore ? "below-threshold" : null;
                    if (reason != null) {
                        step.dropped(reason);
                        continue;
                    }
                    step.kept();
                    out.add(withScore(e, score));
                }
            }
            step.note("mean-score", scored == 0 ? null : sum / scored);
            prov.put("usage", ep.usage());
        }
        return new Output(out, prov);
    }

    private Endpoint.Reply score(Endpoint ep, Example e, long s, int index) {
        String prompt = Inputs.promptOf(e);
        String response = Records.responseText(e);
        if (scorer.equals("logprob")) {
            return ep.meanLogProb(prefixTemplate.replace("{prompt}", prompt), response);
        }
        String text = judgeTemplate.replace("{prompt}", prompt).replace("{response}", response);
        return ep.generate(List.of(new Tokenizer.ChatTurn("user", text)), text, maxJudgeTokens, judgeTemperature, 1.0,
                Generated.requestSeed(s, "judge", index));
    }

    private static Example withScore(Example e, OptionalDouble score) {
        Map<String, String> meta = new LinkedHashMap<>(e.meta() == null ? Map.of() : e.meta());
        meta.put("quality", score.isPresent() ? String.format(Locale.ROOT, "%.4f", score.getAsDouble()) : "unscored");
        return new Example(e.id(), e.prompt(), e.response(), e.messages(), e.text(), Map.copyOf(meta));
    }

    /** The factory. */
    static final class Factory extends GeneratorFactory {
        @Override
        public String description() {
            return "quality filter: a judge endpoint scores each sample 1-10 (or by log-probability); keeps >= min-score";
        }

        @Override
        Generated create(Params params) {
            return new QualityFilterGenerator(params);
        }
    }
}

package org.distillery.datagen.internal;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Datasets;
import org.distillery.api.data.Example;
import org.distillery.api.data.GeneratorContext;
import org.distillery.api.model.Tokenizer;
import org.distillery.kit.config.Params;
import org.distillery.kit.openai.EndpointSettings;

/**
 * {@code data.targeted}: Self-Instruct-style generation steered to a skill (Wang et al., 2022;
 * yizhongw/self-instruct {@code bootstrap_instructions.py}; METHODS.md section 13).
 *
 * <ol>
 *   <li>Each instruction request shows {@code in-context-seeds} seed instructions (from
 *       {@code seed-file}) and {@code in-context-generated} machine-generated ones (6 + 2 in the
 *       paper) in {@code instruction-template}, which names the {@code skill}, and asks for the next;
 *       the first line of the reply, without its numbering, is the candidate.</li>
 *   <li>Filters, in order, each counted in provenance: refused by the endpoint, empty, fewer than
 *       {@code min-words} or more than {@code max-words} words, a blocked keyword (image, graph,
 *       picture, file, map, draw, plot, go to), a blocked prefix ("write a program"), a leading
 *       punctuation mark or non-ASCII character, and ROUGE-L &ge; {@code rouge-threshold} (0.7)
 *       against the growing pool (seeds and every instruction kept so far).</li>
 *   <li>Each kept instruction (and each seed with {@code include-seeds}) is sent through
 *       {@code response-template}; responses outside the length bounds are dropped. With
 *       {@code reasoning = also | only}, a variant with {@code reasoning-suffix} ("explain step
 *       by step") asks for a reasoning trace, recorded with {@code meta.variant = reasoning}.</li>
 * </ol>
 * Requests go out {@code endpoint.concurrency} at a time, each round built from the pool at its
 * start and its answers filtered in request order, with per-request seeds: a run is repeatable.
 *
 * <pre>
 * generator { key = data.targeted, params {
 *   endpoint { base-url = "http://127.0.0.1:8000/v1", model = teacher }
 *   seed-file = seeds.jsonl, skill = "arithmetic word problems", instructions = 100
 * } }
 * </pre>
 */
final class TargetedGenerator extends Generated {

    static final String KEY = "data.targeted";
    private static final Pattern NUMBERING = Pattern.compile("^\\s*(?:\\d+\\s*[.):]|[-*•]|task\\s*\\d*\\s*:|instruction\\s*:)\\s*",
            Pattern.CASE_INSENSITIVE);

    private final EndpointSettings endpoint;
    private final String endpointPath;
    private final String seedFile;
    private final String seedFilePath;
    private final int seedLimit;
    private final String skill;
    private final int instructions;
    private final int maxRequests;
    private final int inContextSeeds;
    private final int inContextGenerated;
    private final String instructionTemplate;
    private final String exampleTemplate;
    private final String responseTemplate;
    private final boolean includeSeeds;
    private final String reasoning;
    private final String reasoningSuffix;
    private final double temperature;
    private final double topP;
    private final double responseTemperature;
    private final int maxInstructionTokens;
    private final int maxResponseTokens;
    private final InstructionFilter filter;
    private final int minResponseChars;
    private final int maxResponseChars;
    private final long seed;

    TargetedGenerator(Params p) {
        endpointPath = p.at("endpoint");
        endpoint = EndpointSettings.of(p.child("endpoint"));
        seedFile = p.string("seed-file");
        seedFilePath = p.at("seed-file");
        Inputs.check(seedFile, seedFilePath);
        seedLimit = p.integer("seed-limit", 0);
        skill = p.string("skill");
        instructions = p.integer("instructions", 0);
        int mr = p.integer("max-requests", 0);
        maxRequests = mr == 0 ? 4 * instructions : mr;
        inContextSeeds = p.integer("in-context-seeds", 0);
        inContextGenerated = p.integer("in-context-generated", 0);
        if (inContextSeeds + inContextGenerated == 0 && instructions > 0) {
            throw new InvalidConfigException(p.at("in-context-seeds"), "at least one in-context example is needed",
                    "0", ">= 1");
        }
        instructionTemplate = p.template("instruction-template", "examples");
        exampleTemplate = p.template("example-template", "instruction");
        responseTemplate = p.template("response-template", "instruction");
        includeSeeds = p.bool("include-seeds");
        reasoning = p.choice("reasoning", "off", "also", "only");
        reasoningSuffix = p.string("reasoning-suffix");
        temperature = p.number("temperature", 0, 2);
        topP = p.number("top-p", 1e-6, 1);
        responseTemperature = p.number("response-temperature", 0, 2);
        maxInstructionTokens = p.integer("max-instruction-tokens", 1);
        maxResponseTokens = p.integer("max-response-tokens", 1);
        Params f = p.child("filters");
        filter = new InstructionFilter(f);
        minResponseChars = f.integer("min-response-chars", 0);
        maxResponseChars = f.integer("max-response-chars", 1);
        seed = p.config().getLong("seed");
        if (instructions == 0 && !includeSeeds) {
            throw new InvalidConfigException(p.at("instructions"), "nothing to generate: 0 new instructions and "
                    + "include-seeds = false", "0", "instructions >= 1, or include-seeds = true");
        }
    }

    @Override
    Output produce(GeneratorContext run) {
        Path workDir = run.workDir();
        long s = seed < 0 ? run.resources().seed() : seed;
        List<Example> seeds = run.datasets().read(seedFile, Datasets.Split.TRAIN, seedFilePath).stream().filter(e -> e.prompt() != null).toList();
        if (seeds.isEmpty()) {
            throw new InvalidConfigException(seedFilePath, "has no {prompt, response} records", Params.quote(seedFile),
                    "a JSONL file of seed tasks");
        }
        if (seedLimit > 0 && seeds.size() > seedLimit) {
            List<Example> shuffled = new ArrayList<>(seeds);
            Collections.shuffle(shuffled, new Random(s));
            seeds = List.copyOf(shuffled.subList(0, seedLimit));
        }
        Provenance prov = new Provenance(KEY);
        prov.put("endpoint", endpoint.describe()).put("seed", s).put("skill", skill)
                .put("seed-file", seedFile).put("seed-tasks", seeds.size())
                .put("templates", Map.of("instruction", instructionTemplate, "example", exampleTemplate,
                        "response", responseTemplate, "reasoning-suffix", reasoningSuffix))
                .put("decoding", Map.of("temperature", temperature, "top-p", topP, "response-temperature",
                        responseTemperature, "max-instruction-tokens", maxInstructionTokens, "max-response-tokens",
                        maxResponseTokens))
                .put("filters", filter.describe(minResponseChars, maxResponseChars))
                .put("in-context", Map.of("seeds", inContextSeeds, "generated", inContextGenerated))
                .put("reasoning", reasoning);
        RougeL.Pool pool = new RougeL.Pool(filter.rougeThreshold);
        seeds.forEach(e -> pool.add(e.prompt()));
        List<String> generated = new ArrayList<>();
        Provenance.Step instr = prov.step("instructions");
        try (Endpoint ep = Endpoint.open(endpoint, endpointPath, workDir);
             Parallel par = new Parallel(endpoint.concurrency())) {
            int requests = 0;
            int round = 0;
            while (generated.size() < instructions && requests < maxRequests && !run.stopRequested()) {
                int n = Math.min(endpoint.concurrency(), Math.min(instructions - generated.size(), maxRequests - requests));
                List<String> prompts = new ArrayList<>(n);
                Random r = new Random(Generated.requestSeed(s, "in-context", round));
                for (int i = 0; i < n; i++) {
                    prompts.add(instructionPrompt(seeds, generated, r));
                }
                int first = requests;
                List<Endpoint.Reply> replies = par.map(n, i -> ep.generate(
                        List.of(new Tokenizer.ChatTurn("user", prompts.get(i))), prompts.get(i), maxInstructionTokens,
                        temperature, topP, Generated.requestSeed(s, "instruction", first + i)));
                for (Endpoint.Reply reply : replies) {
                    String reason = reply.ok() ? filter.reject(firstInstruction(reply.text())) : "refused";
                    if (reason == null && !pool.offer(firstInstruction(reply.text()))) {
                        reason = "similar";
                    }
                    if (reason == null) {
                        instr.kept();
                        generated.add(firstInstruction(reply.text()));
                    } else {
                        instr.dropped(reason);
                    }
                }
                requests += n;
                round++;
                run.resources().events().event("data-progress", Map.of("generator", KEY, "step", "instructions", "requests",
                        requests, "kept", generated.size()));
            }
            instr.note("requests", requests);
            instr.note("target", instructions);
            // the responses: seeds first (with include-seeds), then the new instructions
            List<String[]> tasks = new ArrayList<>();
            if (includeSeeds) {
                seeds.forEach(e -> tasks.add(new String[] {e.prompt(), "seed"}));
            }
            generated.forEach(g -> tasks.add(new String[] {g, "generated"}));
            List<String[]> jobs = new ArrayList<>();
            for (String[] t : tasks) {
                if (!reasoning.equals("only")) {
                    jobs.add(new String[] {t[0], t[1], "direct"});
                }
                if (!reasoning.equals("off")) {
                    jobs.add(new String[] {t[0], t[1], "reasoning"});
                }
            }
            Provenance.Step resp = prov.step("responses");
            List<Example> out = new ArrayList<>();
            for (int start = 0; start < jobs.size() && !run.stopRequested(); start += 4 * endpoint.concurrency()) {
                int n = Math.min(4 * endpoint.concurrency(), jobs.size() - start);
                int base = start;
                List<Endpoint.Reply> replies = par.map(n, i -> {
                    String[] job = jobs.get(base + i);
                    String instruction = job[2].equals("reasoning") ? job[0] + reasoningSuffix : job[0];
                    String text = responseTemplate.replace("{instruction}", instruction);
                    return ep.generate(List.of(new Tokenizer.ChatTurn("user", text)), text, maxResponseTokens,
                            responseTemperature, 1.0, Generated.requestSeed(s, "response", base + i));
                });
                for (int i = 0; i < n; i++) {
                    String[] job = jobs.get(base + i);
                    Endpoint.Reply reply = replies.get(i);
                    String text = reply.ok() ? reply.text().strip() : null;
                    String reason = !reply.ok() ? "refused" : text.length() < Math.max(1, minResponseChars) ? "too-short"
                            : text.length() > maxResponseChars ? "too-long" : null;
                    if (reason != null) {
                        resp.dropped(reason);
                        continue;
                    }
                    resp.kept();
                    Map<String, String> meta = new LinkedHashMap<>();
                    meta.put("source", job[1]);
                    meta.put("variant", job[2]);
                    meta.put("generator", KEY);
                    if (!skill.isEmpty()) {
                        meta.put("skill", skill);
                    }
                    out.add(Example.pair(String.format(Locale.ROOT, "targeted-%05d", out.size()), job[0], text, meta));
                }
            }
            prov.put("usage", ep.usage());
            return new Output(out, prov);
        }
    }

    private String instructionPrompt(List<Example> seeds, List<String> generated, Random r) {
        List<String> examples = new ArrayList<>();
        List<Example> shuffledSeeds = new ArrayList<>(seeds);
        Collections.shuffle(shuffledSeeds, r);
        shuffledSeeds.stream().limit(inContextSeeds).forEach(e -> examples.add(e.prompt()));
        List<String> shuffledGen = new ArrayList<>(generated);
        Collections.shuffle(shuffledGen, r);
        // fewer machine-generated ones early on: the seeds fill in (as in bootstrap_instructions.py)
        int fromGen = Math.min(inContextGenerated, shuffledGen.size());
        examples.addAll(shuffledGen.subList(0, fromGen));
        for (int i = fromGen; i < inContextGenerated && inContextSeeds + i - fromGen < shuffledSeeds.size(); i++) {
            examples.add(shuffledSeeds.get(inContextSeeds + i - fromGen).prompt());
        }
        Collections.shuffle(examples, r);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < examples.size(); i++) {
            sb.append(exampleTemplate.replace("{index}", Integer.toString(i + 1)).replace("{instruction}",
                    examples.get(i))).append('\n');
        }
        return instructionTemplate.replace("{skill}", skill).replace("{examples}", sb.toString().stripTrailing())
                .replace("{next}", Integer.toString(examples.size() + 1));
    }

    /** The first non-empty line of a reply without its numbering or bullet. */
    static String firstInstruction(String reply) {
        for (String line : reply.split("\n")) {
            String t = line.strip();
            Matcher m = NUMBERING.matcher(t);
            if (m.find()) {
                t = t.substring(m.end()).strip();
            }
            if (!t.isEmpty()) {
                return t;
            }
        }
        return "";
    }

    /** Self-Instruct's instruction filters (all but the ROUGE-L one, which needs the pool). */
    static final class InstructionFilter {
        final int minWords;
        final int maxWords;
        final List<String> keywords;
        final List<String> prefixes;
        final boolean rejectPunctuation;
        final boolean rejectNonAscii;
        final double rougeThreshold;

        InstructionFilter(Params f) {
            minWords = f.integer("min-words", 0);
            maxWords = f.integer("max-words", 1);
            if (maxWords < minWords) {
                throw new InvalidConfigException(f.at("max-words"), "must be >= min-words", String.valueOf(maxWords),
                        ">= " + minWords);
            }
            keywords = f.strings("blocked-keywords").stream().map(k -> k.toLowerCase(Locale.ROOT)).toList();
            prefixes = f.strings("blocked-prefixes").stream().map(k -> k.toLowerCase(Locale.ROOT)).toList();
            rejectPunctuation = f.bool("reject-leading-punctuation");
            rejectNonAscii = f.bool("reject-non-ascii-start");
            rougeThreshold = f.number("rouge-threshold", 0, 1);
        }

        /** Why {@code instruction} is dropped, or {@code null} to keep it. */
        String reject(String instruction) {
            if (instruction.isBlank()) {
                return "empty";
            }
            int words = instruction.strip().split("\\s+").length;
            if (words < minWords) {
                return "too-short";
            }
            if (words > maxWords) {
                return "too-long";
            }
            String lower = " " + instruction.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", " ") + " ";
            for (String k : keywords) {
                if (lower.contains(" " + k + " ")) {
                    return "keyword";
                }
            }
            String l = instruction.toLowerCase(Locale.ROOT);
            for (String pre : prefixes) {
                if (l.startsWith(pre)) {
                    return "prefix";
                }
            }
            char c = instruction.charAt(0);
            if (rejectNonAscii && c > 127) {
                return "non-ascii";
            }
            if (rejectPunctuation && !Character.isLetterOrDigit(c)) {
                return "punctuation";
            }
            return null;
        }

        Map<String, Object> describe(int minResponseChars, int maxResponseChars) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("min-words", minWords);
            m.put("max-words", maxWords);
            m.put("blocked-keywords", keywords);
            m.put("blocked-prefixes", prefixes);
            m.put("reject-leading-punctuation", rejectPunctuation);
            m.put("reject-non-ascii-start", rejectNonAscii);
            m.put("rouge-threshold", rougeThreshold);
            m.put("min-response-chars", minResponseChars);
            m.put("max-response-chars", maxResponseChars);
            return m;
        }
    }

    /** The factory. */
    static final class Factory extends GeneratorFactory {
        @Override
        public String description() {
            return "Self-Instruct: skill-steered instructions from seed tasks, ROUGE-L dedup and filters, teacher responses";
        }

        @Override
        Generated create(Params params) {
            return new TargetedGenerator(params);
        }
    }
}

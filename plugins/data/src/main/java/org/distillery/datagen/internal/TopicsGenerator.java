package org.distillery.datagen.internal;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Example;
import org.distillery.api.data.GeneratorContext;
import org.distillery.api.model.Tokenizer;
import org.distillery.kit.config.Params;
import org.distillery.kit.openai.EndpointSettings;

/**
 * {@code data.topics}: UltraChat-style dialogues (Ding et al., 2023; thunlp/UltraChat; METHODS.md
 * section 13, "Questions about the World"): meta-topics, then questions about each topic, then a
 * multi-turn dialogue per question in which the teacher plays both sides: the assistant answers
 * the conversation so far, and, prompted by {@code user-template} with the conversation, writes
 * the user's next message. Records are {@code {messages}} alternating user / assistant, starting
 * with the question and ending with an assistant turn.
 *
 * <p>Counted in provenance: topic requests (refused, empty), questions (too short or long, ROUGE-L
 * duplicates of an earlier question) and dialogues (refused or empty turns; dialogues shorter than
 * {@code min-turns} exchanges are dropped, as UltraChat keeps only multi-turn ones).
 *
 * <pre>
 * generator { key = data.topics, params {
 *   endpoint { base-url = "https://api.openai.com/v1", model = gpt-4o-mini, api-key-env = OPENAI_API_KEY }
 *   topics = [ "astronomy", "cooking", "personal finance" ], questions-per-topic = 10, min-turns = 3, max-turns = 5
 * } }
 * </pre>
 */
final class TopicsGenerator extends Generated {

    static final String KEY = "data.topics";

    private final EndpointSettings endpoint;
    private final String endpointPath;
    private final List<String> topics;
    private final int questionsPerTopic;
    private final String questionTemplate;
    private final int dialogues;
    private final int minTurns;
    private final int maxTurns;
    private final String userTemplate;
    private final String assistantSystem;
    private final String turnTemplate;
    private final double temperature;
    private final double topP;
    private final int maxQuestionTokens;
    private final int maxTurnTokens;
    private final double rougeThreshold;
    private final int minQuestionWords;
    private final int maxQuestionWords;
    private final long seed;

    TopicsGenerator(Params p) {
        endpointPath = p.at("endpoint");
        endpoint = EndpointSettings.of(p.child("endpoint"));
        topics = p.strings("topics");
        if (topics.isEmpty() || topics.stream().anyMatch(String::isBlank)) {
            throw new InvalidConfigException(p.at("topics"), "needs at least one non-empty topic",
                    topics.toString(), "e.g. [\"astronomy\", \"cooking\"]");
        }
        questionsPerTopic = p.integer("questions-per-topic", 1);
        questionTemplate = p.template("question-template", "topic");
        dialogues = p.integer("dialogues", 0);
        minTurns = p.integer("min-turns", 1);
        maxTurns = p.integer("max-turns", 1);
        if (maxTurns < minTurns) {
            throw new InvalidConfigException(p.at("max-turns"), "must be >= min-turns", String.valueOf(maxTurns),
                    ">= " + minTurns);
        }
        userTemplate = p.template("user-template", "history");
        assistantSystem = p.string("assistant-system");
        turnTemplate = p.template("completion-turn-template", "role", "content");
        temperature = p.number("temperature", 0, 2);
        topP = p.number("top-p", 1e-6, 1);
        maxQuestionTokens = p.integer("max-question-tokens", 1);
        maxTurnTokens = p.integer("max-turn-tokens", 1);
        Params f = p.child("filters");
        rougeThreshold = f.number("rouge-threshold", 0, 1);
        minQuestionWords = f.integer("min-question-words", 0);
        maxQuestionWords = f.integer("max-question-words", 1);
        seed = p.config().getLong("seed");
    }

    private record Question(String topic, String text) {
    }

    private record Dialogue(List<Example.Message> messages, String reason) {
    }

    @Override
    Output produce(GeneratorContext run) {
        Path workDir = run.workDir();
        long s = seed < 0 ? run.resources().seed() : seed;
        Provenance prov = new Provenance(KEY);
        prov.put("endpoint", endpoint.describe()).put("seed", s).put("topics", topics)
                .put("templates", Map.of("question", questionTemplate, "user", userTemplate, "assistant-system",
                        assistantSystem, "completion-turn", turnTemplate))
                .put("decoding", Map.of("temperature", temperature, "top-p", topP, "max-question-tokens",
                        maxQuestionTokens, "max-turn-tokens", maxTurnTokens))
                .put("filters", Map.of("rouge-threshold", rougeThreshold, "min-question-words", minQuestionWords,
                        "max-question-words", maxQuestionWords, "min-turns", minTurns, "max-turns", maxTurns));
        try (Endpoint ep = Endpoint.open(endpoint, endpointPath, workDir);
             Parallel par = new Parallel(endpoint.concurrency())) {
            // 1. meta-topic -> questions
            List<Endpoint.Reply> lists = par.map(topics.size(), i -> {
                String prompt = questionTemplate.replace("{topic}", topics.get(i))
                        .replace("{n}", Integer.toString(questionsPerTopic));
                return ep.generate(List.of(new Tokenizer.ChatTurn("user", prompt)), prompt, maxQuestionTokens,
                        temperature, topP, Generated.requestSeed(s, "questions", i));
            });
            Provenance.Step topicStep = prov.step("topics");
            Provenance.Step questionStep = prov.step("questions");
            RougeL.Pool pool = new RougeL.Pool(rougeThreshold);
            List<Question> questions = new ArrayList<>();
            for (int i = 0; i < topics.size(); i++) {
                Endpoint.Reply r = lists.get(i);
                List<String> lines = r.ok() ? questionLines(r.text()) : List.of();
                if (!r.ok() || lines.isEmpty()) {
                    topicStep.dropped(r.ok() ? "empty" : "refused");
                    continue;
                }
                topicStep.kept();
                int taken = 0;
                for (String q : lines) {
                    int words = q.split("\\s+").length;
                    String reason = taken >= questionsPerTopic ? "over-budget" : words < minQuestionWords ? "too-short"
                            : words > maxQuestionWords ? "too-long" : !pool.offer(q) ? "similar" : null;
                    if (reason == null) {
                        questionStep.kept();
                        questions.add(new Question(topics.get(i), q));
                        taken++;
                    } else {
                        questionStep.dropped(reason);
                    }
                }
            }
            if (dialogues > 0 && questions.size() > dialogues) {
                questionStep.note("dialogue-cap", dialogues);
                questions = List.copyOf(questions.subList(0, dialogues));
            }
            // 2. question -> dialogue, the teacher on both sides
            List<Question> qs = questions;
            List<Dialogue> done = par.map(qs.size(), i -> dialogue(ep, qs.get(i), s, i));
            Provenance.Step dialogueStep = prov.step("dialogues");
            List<Example> out = new ArrayList<>();
            long turns = 0;
            for (Dialogue d : done) {
                if (d.reason() != null) {
                    dialogueStep.dropped(d.reason());
                    continue;
                }
                dialogueStep.kept();
                turns += d.messages().size();
                out.add(Example.chat(String.format(Locale.ROOT, "topics-%05d", out.size()), d.messages()));
            }
            dialogueStep.note("messages", turns);
            prov.put("usage", ep.usage());
            return new Output(out, prov);
        }
    }

    private Dialogue dialogue(Endpoint ep, Question q, long s, int index) {
        Random r = new Random(Generated.requestSeed(s, "turns", index));
        int target = minTurns + r.nextInt(maxTurns - minTurns + 1);
        List<Example.Message> msgs = new ArrayList<>();
        msgs.add(new Example.Message("user", q.text()));
        int call = 0;
        while (true) {
            List<Tokenizer.ChatTurn> turns = new ArrayList<>();
            if (!assistantSystem.isEmpty()) {
                turns.add(new Tokenizer.ChatTurn("system", assistantSystem));
            }
            msgs.forEach(m -> turns.add(new Tokenizer.ChatTurn(m.role(), m.content())));
            Endpoint.Reply a = ep.generate(turns, render(msgs) + turnTemplate.replace("{role}", "assistant")
                    .replace("{content}", "").stripTrailing(), maxTurnTokens, temperature, topP,
                    Generated.requestSeed(s, "dialogue-" + index, call++));
            String reason = shortOf(a, msgs.size());
            if (reason != null) {
                return reason.isEmpty() ? new Dialogue(trimmed(msgs), null) : new Dialogue(null, reason);
            }
            msgs.add(new Example.Message("assistant", a.text().strip()));
            if (msgs.size() / 2 >= target) {
                return new Dialogue(msgs, null);
            }
            String prompt = userTemplate.replace("{topic}", q.topic()).replace("{history}", render(msgs));
            Endpoint.Reply u = ep.generate(List.of(new Tokenizer.ChatTurn("user", prompt)), prompt, maxTurnTokens,
                    temperature, topP, Generated.requestSeed(s, "dialogue-" + index, call++));
            reason = shortOf(u, msgs.size());
            if (reason != null) {
                return reason.isEmpty() ? new Dialogue(msgs, null) : new Dialogue(null, reason);
            }
            msgs.add(new Example.Message("user", u.text().strip()));
        }
    }

    /**
     * {@code null} to go on; {@code ""} to end the dialogue with the exchanges so far (enough of
     * them); otherwise why the dialogue is dropped.
     */
    private String shortOf(Endpoint.Reply reply, int messages) {
        boolean failed = !reply.ok() || reply.text().isBlank();
        if (!failed) {
            return null;
        }
        return messages / 2 >= minTurns ? "" : reply.ok() ? "empty-turn" : "refused";
    }

    private static List<Example.Message> trimmed(List<Example.Message> msgs) {
        // end on an assistant turn
        return msgs.get(msgs.size() - 1).role().equals("assistant") ? msgs : msgs.subList(0, msgs.size() - 1);
    }

    private String render(List<Example.Message> msgs) {
        StringBuilder sb = new StringBuilder();
        for (Example.Message m : msgs) {
            sb.append(turnTemplate.replace("{role}", m.role()).replace("{content}", m.content()));
        }
        return sb.toString();
    }

    /** Non-empty lines of a question list, without numbering or bullets. */
    static List<String> questionLines(String text) {
        List<String> out = new ArrayList<>();
        for (String line : text.split("\n")) {
            String t = TargetedGenerator.firstInstruction(line);
            if (!t.isEmpty()) {
                out.add(t);
            }
        }
        return out;
    }

    /** The factory. */
    static final class Factory extends GeneratorFactory {
        @Override
        public String description() {
            return "UltraChat: meta-topics -> questions -> multi-turn dialogues, the teacher playing user and assistant";
        }

        @Override
        Generated create(Params params) {
            return new TopicsGenerator(params);
        }
    }
}

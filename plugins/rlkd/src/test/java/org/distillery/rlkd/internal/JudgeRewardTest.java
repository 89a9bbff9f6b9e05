package org.distillery.rlkd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.sun.net.httpserver.HttpServer;
import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Example;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.reward.Completion;
import org.distillery.api.reward.Reward;
import org.distillery.api.reward.RewardContext;
import org.distillery.api.reward.RewardFactory;
import org.distillery.api.reward.RewardValue;
import org.distillery.kit.data.Records;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code reward.judge}: a local model's mean log-probability, and an endpoint's rating read as a number. */
class JudgeRewardTest {

    private static Reward judge(TestRun run, Tokenizer tok, String params) {
        return run.factory(ContributionKind.REWARD, JudgeReward.KEY, RewardFactory.class).create(
                new RewardContext(run, tok, null, "train.sampler.params.rewards[0].params"),
                ConfigFactory.parseString(params).withFallback(run.defaults(ContributionKind.REWARD, JudgeReward.KEY))
                        .resolve());
    }

    private static Completion completion(Tokenizer tok, String prompt, String response) {
        Example e = Example.pair("j", prompt, "", Map.of());
        return new Completion(e, Records.promptIds(e, tok), Records.concat(tok.encode(response),
                new int[] {tok.eosId()}), response);
    }

    @Test
    void aLocalJudgeScoresTheMeanLogProbabilityOfTheResponse(@TempDir Path dir) throws Exception {
        try (TestRun run = new TestRun(dir, TestRun.experiment(""))) {
            run.writeTinyModel(dir.resolve("judge"), 3);
            Tokenizer tok = run.models().tokenizer(dir.resolve("judge"));
            List<Completion> cs = List.of(completion(tok, "2 + 2 = ?", "<answer>4</answer>"),
                    completion(tok, "What is 10 - 3?", "7"));
            List<RewardValue> got;
            try (Reward r = judge(run, tok, "source = model, model-dir = \"" + dir.resolve("judge") + "\", scale = 2");
                 NDManager m = run.manager().newSubManager()) {
                got = r.score(cs, m);
            }
            try (NDManager m = run.manager().newSubManager();
                 LanguageModel model = run.models().load(dir.resolve("judge"), DataType.FLOAT32, m)) {
                for (int i = 0; i < cs.size(); i++) {
                    Completion c = cs.get(i);
                    TokenBatch b = Records.batch(List.of(Records.join(c.promptIds(), c.responseIds(), 256)), tok.padId(), m);
                    NDArray logits = model.forward(b.inputIds(), ForwardOptions.inference()).logits();
                    logits.attach(m);
                    float[] lp = logits.logSoftmax(-1).gather(b.targets().expandDims(-1), -1).squeeze(-1).toFloatArray();
                    float[] mask = b.lossMask().toFloatArray();
                    double sum = 0;
                    int n = 0;
                    for (int t = 0; t < lp.length; t++) {
                        sum += mask[t] * lp[t];
                        n += mask[t] > 0 ? 1 : 0;
                    }
                    assertEquals(n, c.responseIds().length, "response and eos are scored");
                    assertEquals(2 * sum / n, got.get(i).value(), 1e-4, "completion " + i);
                    assertEquals(RewardValue.Verdict.UNKNOWN, got.get(i).verdict());
                }
            }
        }
    }

    @Test
    void anEndpointJudgeRatesWithTheTemplateAndUnscoredRepliesGetTheDefault(@TempDir Path dir) throws Exception {
        List<String> asked = new ArrayList<>();
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/v1/chat/completions", ex -> {
            JsonObject body = JsonParser.parseString(new String(ex.getRequestBody().readAllBytes(),
                    StandardCharsets.UTF_8)).getAsJsonObject();
            String content = body.getAsJsonArray("messages").get(0).getAsJsonObject().get("content").getAsString();
            asked.add(content);
            String reply = content.contains("good") ? "Score: 8" : "I cannot rate this.";
            byte[] out = ("{\"choices\": [{\"message\": {\"role\": \"assistant\", \"content\": \"" + reply + "\"}}]}")
                    .getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().add("Content-Type", "application/json");
            ex.sendResponseHeaders(200, out.length);
            try (OutputStream os = ex.getResponseBody()) {
                os.write(out);
            }
        });
        server.start();
        try (TestRun run = new TestRun(dir, TestRun.experiment(""))) {
            run.writeTinyModel(dir.resolve("tok"), 3);
            Tokenizer tok = run.models().tokenizer(dir.resolve("tok"));
            String params = "source = endpoint, scorer = score, unscored = -1, scale = 0.1, "
                    + "judge-template = \"Rate {prompt} -> {response}\", "
                    + "endpoint { base-url = \"http://127.0.0.1:" + server.getAddress().getPort() + "/v1\" }";
            try (Reward r = judge(run, tok, params); NDManager m = run.manager().newSubManager()) {
                List<RewardValue> got = r.score(List.of(completion(tok, "q1", "good answer"),
                        completion(tok, "q2", "bad")), m);
                assertEquals(0.8, got.get(0).value(), 1e-12);
                assertEquals(-0.1, got.get(1).value(), 1e-12);
            }
            assertEquals(List.of("Rate q1 -> good answer", "Rate q2 -> bad"), asked);
            InvalidConfigException e = assertThrows(InvalidConfigException.class,
                    () -> judge(run, tok, "source = endpoint, scorer = logprob"));
            assertTrue(e.getMessage().startsWith("train.sampler.params.rewards[0].params.scorer"), e.getMessage());
            e = assertThrows(InvalidConfigException.class, () -> judge(run, tok, "source = teacher"));
            assertTrue(e.getMessage().startsWith("train.sampler.params.rewards[0].params.source"), e.getMessage());
            e = assertThrows(InvalidConfigException.class, () -> judge(run, tok,
                    "source = model, model-dir = \"" + dir.resolve("nothing") + "\""));
            assertTrue(e.getMessage().startsWith("train.sampler.params.rewards[0].params.model-dir"), e.getMessage());
        } finally {
            server.stop(0);
        }
    }
}

package org.distillery.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import org.distillery.api.ContributionKind;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossContext;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.train.StageResult;
import org.distillery.models.HfModelService;
import org.distillery.models.ModelConfigs;
import org.distillery.models.tokenizer.ByteTokenizer;
import org.distillery.serve.OpenAiServer;
import org.distillery.serve.ServeOptions;
import org.distillery.tensor.DjlTensorService;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Training against a remote teacher ({@code teacher.remote}) behind a {@link FlakyProxy}: with
 * 10 % 503s, 10 % timeouts, 5 % bodies cut in half and 5 % wrongly shaped answers the run
 * completes with exactly the weights of a clean run (retries, and only good answers cached); a
 * re-run is answered from the cache alone; an endpoint that goes down for good stops the run with
 * a checkpoint and a message naming its URL.
 */
class FlakyTeacherTest {

    private static final long TIMEOUT_MS = 1000;
    private static final long STEPS = 12;

    @TempDir
    static Path root;
    static DjlTensorService tensors;
    static NDManager manager;
    static LanguageModel teacher;
    static OpenAiServer server;

    @BeforeAll
    static void serve() throws Exception {
        tensors = DjlTensorService.start("cpu");
        manager = tensors.newRunScope("flaky-teacher");
        Map<String, Object> raw = new java.util.LinkedHashMap<>(Map.of("model_type", "gpt2", "vocab_size", 259L,
                "n_embd", 32L, "n_layer", 1L, "n_head", 2L, "n_positions", 64L, "bos_token_id", 257L,
                "eos_token_id", 258L));
        teacher = new HfModelService().create(ModelConfigs.fromMap(raw), 5, manager);
        server = OpenAiServer.start(teacher, new ByteTokenizer(), manager, ServeOptions.defaults("teacher"));
    }

    @AfterAll
    static void stop() {
        server.close();
        teacher.close();
        manager.close();
        tensors.close();
    }

    /** Forward KL to the teacher's top-k (renormalised to what it reports), summed over loss positions. */
    static final class TopKDistill implements LossFactory {
        @Override
        public String description() {
            return "cross-entropy against the teacher's top-k probabilities";
        }

        @Override
        public Loss create(LossContext context, Config params) {
            return new Loss() {
                @Override
                public Set<Need> needs() {
                    return Set.of(Need.TEACHER_LOGITS);
                }

                @Override
                public LossValue compute(LossInput in) {
                    NDArray logq = in.studentLogits().logSoftmax(-1);
                    NDArray picked = logq.gather(in.teacher().topIds(), -1);
                    NDArray p = in.teacher().topLogProbs().exp();
                    NDArray mask = in.batch().lossMask();
                    NDArray sum = p.mul(picked).sum(new int[] {-1}).mul(mask).sum().neg();
                    return new LossValue(sum, (long) mask.sum().getFloat());
                }
            };
        }
    }

    private static TestRun open(Path dir, String url, Path cache, int maxRetries) throws Exception {
        String extra = """
                teacher { key = teacher.remote, params { base-url = "%s", model = teacher, top-k = 8, concurrency = 1,
                          max-retries = %d, initial-backoff = 5ms, max-backoff = 40ms, timeout = %dms, cache-dir = "%s" } }
                train { batch-size = 4, max-length = 24, loss = [ { key = test.topk, weight = 1.0 } ] }
                """.formatted(url, maxRetries, TIMEOUT_MS, cache);
        // one request at a time: the proxy's seeded faults fall on the same requests in every run
        TestRun run = TinyRun.open(dir, STEPS, 4, 2, extra);
        run.register(ContributionKind.LOSS, "test.topk", new TopKDistill(), ConfigFactory.empty());
        return run;
    }

    @Test
    void aFlakyTeacherGivesTheCleanRunsWeightsAndARerunComesFromTheCache() throws Exception {
        byte[] clean;
        try (FlakyProxy proxy = new FlakyProxy(server.baseUrl(), 1, TIMEOUT_MS * 3 / 2)) {
            Path dir = root.resolve("clean");
            try (TestRun run = open(dir, proxy.url(), root.resolve("clean-cache"), 8)) {
                TinyRun.train(run);
            }
            clean = TinyRun.finalWeights(dir);
            assertEquals(0, proxy.serverErrors.get() + proxy.timeouts.get() + proxy.truncated.get()
                    + proxy.wrongShape.get());
        }
        try (FlakyProxy proxy = new FlakyProxy(server.baseUrl(), 2, TIMEOUT_MS * 3 / 2)) {
            proxy.faults(new FlakyProxy.Faults(0.10, 0.10, 0.05, 0.05));
            Path dir = root.resolve("flaky");
            Path cache = root.resolve("flaky-cache");
            try (TestRun run = open(dir, proxy.url(), cache, 8)) {
                TinyRun.train(run);
            }
            String faults = proxy.requests.get() + " requests: " + proxy.serverErrors.get() + " 503, "
                    + proxy.timeouts.get() + " timeouts, " + proxy.truncated.get() + " cut short, "
                    + proxy.wrongShape.get() + " wrongly shaped";
            System.out.println("flaky teacher: " + faults);
            assertTrue(proxy.serverErrors.get() > 0 && proxy.timeouts.get() > 0 && proxy.truncated.get() > 0
                    && proxy.wrongShape.get() > 0, "every kind of fault was injected: " + faults);
            assertArrayEquals(clean, TinyRun.finalWeights(dir), "the flaky run's weights equal the clean run's; " + faults);

            int before = proxy.requests.get();
            Path again = root.resolve("flaky-again");
            try (TestRun run = open(again, proxy.url(), cache, 8)) {
                TinyRun.train(run);
            }
            assertEquals(before, proxy.requests.get(), "a re-run is answered from the cache: no spoilt answer was kept");
            assertArrayEquals(clean, TinyRun.finalWeights(again));
        }
    }

    @Test
    void anEndpointThatStaysDownStopsTheRunWithACheckpointNamingItsUrl() throws Exception {
        try (FlakyProxy proxy = new FlakyProxy(server.baseUrl(), 3, TIMEOUT_MS)) {
            Path dir = root.resolve("down");
            try (TestRun run = open(dir, proxy.url(), root.resolve("down-cache"), 2)) {
                run.stopAfterSteps = Long.MAX_VALUE;
                Thread downAfterTwoSteps = new Thread(() -> {
                    while (run.steps().size() < 2) {
                        Thread.onSpinWait();
                    }
                    proxy.goDown();
                });
                downAfterTwoSteps.setDaemon(true);
                downAfterTwoSteps.start();
                StageResult r = TinyRun.train(run);
                assertTrue(r.stopped(), "stopped, not failed");
                List<Map<String, Object>> stopping = run.events.stream().filter(e -> "stopping".equals(e.get("type")))
                        .toList();
                assertEquals(1, stopping.size(), run.events.toString());
                String reason = stopping.get(0).get("reason").toString();
                assertTrue(reason.startsWith("teacher remote:" + proxy.url()) && reason.contains(proxy.url()
                        + "/v1/completions failed after 3 attempt(s)") && reason.contains("HTTP 503"), reason);
                long step = r.stepsDone();
                assertTrue(step >= 2 && step < STEPS, "stopped mid-run at " + step);
                assertTrue(reason.contains("checkpoint of step " + step), reason);
                String latest = Files.readString(TinyRun.checkpoints(dir).resolve("latest")).trim();
                assertEquals(Checkpoints.name(step), latest);
                assertTrue(Checkpoints.problem(TinyRun.checkpoints(dir).resolve(latest)).isEmpty());
            }
        }
    }
}

package org.distillery.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.KvCache;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelConfig;
import org.distillery.api.model.ModelOutput;
import org.distillery.api.model.SlotKvCache;
import org.distillery.models.tokenizer.ByteTokenizer;

/**
 * Continuous batching on the scheduler itself (no HTTP): rows joining at different steps decode
 * exactly as alone, a row that ends frees its slot for a waiting one at the next step, every row
 * keeps its own budget, stop strings, stop ids and sampling seed, a cancelled row leaves the others
 * untouched, scoring runs between steps, and a failed step fails only the rows in the batch.
 */
class ContinuousSchedulerTest {

    private static final int EOS = 258;
    private static NDManager manager;
    private static LanguageModel model;

    @BeforeAll
    static void open() {
        manager = NDManager.newBaseManager();
        model = TestModels.model(manager, 7);
    }

    @AfterAll
    static void close() {
        model.close();
        manager.close();
    }

    /** A sink that records what the scheduler reports and at which decoding step. */
    static final class Recording implements TokenSink {
        final ServerStats stats;
        final List<Integer> tokens = new ArrayList<>();
        final List<Float> logProbs = new ArrayList<>();
        final CountDownLatch done = new CountDownLatch(1);
        volatile String finish;
        volatile Throwable error;
        long firstTokenStep = -1;
        long finishStep = -1;
        IntConsumer onToken = n -> { };
        int cancelAfter = Integer.MAX_VALUE;

        Recording(ServerStats stats) {
            this.stats = stats;
        }

        @Override
        public boolean token(int token, float logProb, int[] topIds, float[] topLogProbs) {
            if (tokens.isEmpty()) {
                firstTokenStep = stats.decodeSteps();
            }
            tokens.add(token);
            logProbs.add(logProb);
            onToken.accept(tokens.size());
            return tokens.size() < cancelAfter;
        }

        @Override
        public void finish(String reason) {
            finishStep = stats.decodeSteps();
            finish = reason;
            done.countDown();
        }

        @Override
        public void fail(Throwable e) {
            error = e;
            done.countDown();
        }

        int[] ids() {
            return tokens.stream().mapToInt(Integer::intValue).toArray();
        }

        void await() throws InterruptedException {
            assertTrue(done.await(60, TimeUnit.SECONDS), "the row never ended");
        }
    }

    private static Scheduler continuous(LanguageModel lm, int slots, ServerStats stats, Set<Integer> stopIds) {
        ServeOptions o = ServeOptions.defaults("t").withBatching(Duration.ZERO, slots)
                .withScheduling(ServeOptions.Scheduling.CONTINUOUS);
        return Scheduler.start(o, new BatchDecoder(lm, stopIds, 256, stats), manager, TestModels.CONTEXT, stats);
    }

    private static DecodeRow greedy(int[] prompt, int maxTokens, TokenSink sink) {
        return new DecodeRow(prompt, maxTokens, 0f, 1f, new SplittableRandom(0), 0, true, sink);
    }

    private static int[] prompt(int length, int salt) {
        int[] p = new int[length];
        p[0] = 257;
        for (int i = 1; i < length; i++) {
            p[i] = 32 + (i * 17 + salt * 29) % 90;
        }
        return p;
    }

    private static void assertAlone(int[] prompt, Recording r, String what) {
        assertNull(r.error, what);
        int[] want = TestModels.greedy(model, manager, prompt, r.tokens.size());
        assertArrayEquals(want, r.ids(), what + ": continuous batch and alone differ");
        int[] seq = new int[prompt.length + want.length];
        System.arraycopy(prompt, 0, seq, 0, prompt.length);
        System.arraycopy(want, 0, seq, prompt.length, want.length);
        float[][] lp = TestModels.logProbs(model, manager, seq);
        for (int t = 0; t < want.length; t++) {
            assertEquals(lp[prompt.length - 1 + t][want[t]], r.logProbs.get(t), 1e-4, what + " log-prob " + t);
        }
    }

    @Test
    void greedyRowsJoiningAtDifferentStepsDecodeAsAlone() throws Exception {
        ServerStats stats = new ServerStats();
        int[][] prompts = {prompt(5, 1), prompt(12, 2), prompt(2, 3), prompt(30, 4), prompt(9, 5)};
        int[] budgets = {20, 8, 15, 10, 6};
        Recording[] rows = new Recording[prompts.length];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = new Recording(stats);
        }
        try (Scheduler s = continuous(model, 3, stats, Set.of(EOS))) {
            // row 0 alone first; rows 1 and 2 join at its 3rd token, row 3 at row 1's 2nd (no slot
            // is free then: it waits for the first row to end), row 4 at row 2's 9th
            rows[0].onToken = n -> {
                if (n == 3) {
                    s.submit(new Scheduler.Decode(greedy(prompts[1], budgets[1], rows[1])));
                    s.submit(new Scheduler.Decode(greedy(prompts[2], budgets[2], rows[2])));
                }
            };
            rows[1].onToken = n -> {
                if (n == 2) {
                    s.submit(new Scheduler.Decode(greedy(prompts[3], budgets[3], rows[3])));
                }
            };
            rows[2].onToken = n -> {
                if (n == 9) {
                    s.submit(new Scheduler.Decode(greedy(prompts[4], budgets[4], rows[4])));
                }
            };
            s.submit(new Scheduler.Decode(greedy(prompts[0], budgets[0], rows[0])));
            for (Recording r : rows) {
                r.await();
            }
        }
        Set<Long> joinSteps = new HashSet<>();
        for (int i = 0; i < rows.length; i++) {
            assertEquals("length", rows[i].finish, "row " + i);
            assertEquals(budgets[i], rows[i].tokens.size(), "row " + i);
            assertAlone(prompts[i], rows[i], "row " + i);
            joinSteps.add(rows[i].firstTokenStep);
        }
        assertEquals(4, joinSteps.size(), "rows 1 and 2 join together, the others at steps of their own: "
                + joinSteps);
        assertTrue(stats.rowSteps() > stats.decodeSteps(), "rows shared decoding steps: " + stats);
        // row 1 ends first (8 tokens); row 3, waiting for a slot, takes it before the next step
        assertEquals(rows[1].finishStep, rows[3].firstTokenStep, "the waiting row joins at the step after the first end");
    }

    @Test
    void aRowThatEndsEarlyFreesItsSlotForAWaitingOne() throws Exception {
        ServerStats stats = new ServerStats();
        Recording shortRow = new Recording(stats);
        Recording longRow = new Recording(stats);
        Recording waiting = new Recording(stats);
        try (Scheduler s = continuous(model, 2, stats, Set.of(EOS))) {
            s.hold();
            s.submit(new Scheduler.Decode(greedy(prompt(6, 1), 3, shortRow)));
            s.submit(new Scheduler.Decode(greedy(prompt(10, 2), 16, longRow)));
            s.submit(new Scheduler.Decode(greedy(prompt(4, 3), 5, waiting)));
            assertEquals(3, s.waiting());
            s.release();
            shortRow.await();
            longRow.await();
            waiting.await();
        }
        assertEquals(shortRow.firstTokenStep, longRow.firstTokenStep, "the first two joined together");
        assertTrue(waiting.firstTokenStep > shortRow.firstTokenStep, "the third waited for a slot");
        assertEquals(shortRow.finishStep, waiting.firstTokenStep, "and took the freed one at once");
        assertTrue(waiting.finishStep < longRow.finishStep, "before the long row ended");
        assertAlone(prompt(4, 3), waiting, "the row in the recycled slot");
        assertAlone(prompt(10, 2), longRow, "the long row");
    }

    @Test
    void everyRowKeepsItsOwnBudgetStopStringStopIdAndSeed() throws Exception {
        ByteTokenizer tok = new ByteTokenizer();
        List<int[]> candidates = new ArrayList<>();
        for (int salt = 0; salt < 40; salt++) {
            candidates.add(prompt(7, 100 + salt));
        }
        TestModels.StopCase stopCase = TestModels.stopCase(model, manager, candidates, 12);
        int[] p0 = stopCase.prompt();
        int[] p1 = prompt(3, 12);
        int[] p2 = prompt(15, 13);
        int[] alone2 = TestModels.greedy(model, manager, p2, 12);
        // a stop id: the first token of row 2's greedy continuation (from its 3rd on) not seen before it
        int at = 2;
        while (contains(alone2, at, alone2[at])) {
            at++;
        }
        int stopId = alone2[at];
        ServerStats stats = new ServerStats();
        RequestRow cut = new RequestRow(tok, List.of(stopCase.stop()));
        Recording budget = new Recording(stats);
        Recording stopped = new Recording(stats);
        Recording sampled = new Recording(stats);
        Recording sampledAlone = new Recording(stats);
        try (Scheduler s = continuous(model, 4, stats, Set.of(EOS, stopId))) {
            s.hold();
            s.submit(new Scheduler.Decode(greedy(p0, 12, cut)));
            s.submit(new Scheduler.Decode(greedy(p1, 4, budget)));
            s.submit(new Scheduler.Decode(new DecodeRow(p2, 12, 0f, 1f, new SplittableRandom(1), 0, false, stopped)));
            s.submit(new Scheduler.Decode(new DecodeRow(p1, 9, 1.1f, 0.8f, new SplittableRandom(42), 0, true, sampled)));
            s.release();
            budget.await();
            stopped.await();
            sampled.await();
            List<RequestRow.Event> events = drain(cut);
            assertEquals("stop", events.get(events.size() - 1).finishReason());
            assertEquals(stopCase.textBefore(), text(events), "row 0's text ends before its stop string");
            assertEquals(stopCase.at() + 1, events.stream().filter(e -> e.entry() != null).count(),
                    "row 0 stopped at the token that completed its stop string");
            s.submit(new Scheduler.Decode(new DecodeRow(p1, 9, 1.1f, 0.8f, new SplittableRandom(42), 0, true,
                    sampledAlone)));
            sampledAlone.await();
        }
        assertEquals("length", budget.finish);
        assertEquals(4, budget.tokens.size());
        assertAlone(p1, budget, "the 4-token row");
        assertEquals("stop", stopped.finish, "row 2 ends at its stop id");
        assertArrayEquals(java.util.Arrays.copyOf(alone2, at), stopped.ids(), "the stop id itself is not reported");
        assertEquals("length", sampled.finish);
        assertEquals(sampledAlone.tokens, sampled.tokens, "seeded sampling in the batch draws what it draws alone");
    }

    @Test
    void aCancelledRowEndsAtItsNextTokenAndTheOthersGoOn() throws Exception {
        ServerStats stats = new ServerStats();
        Recording[] rows = new Recording[3];
        int[][] prompts = {prompt(8, 21), prompt(3, 22), prompt(11, 23)};
        for (int i = 0; i < rows.length; i++) {
            rows[i] = new Recording(stats);
        }
        rows[1].cancelAfter = 4;
        try (Scheduler s = continuous(model, 3, stats, Set.of(EOS))) {
            s.hold();
            for (int i = 0; i < rows.length; i++) {
                s.submit(new Scheduler.Decode(greedy(prompts[i], 14, rows[i])));
            }
            s.release();
            for (Recording r : rows) {
                r.await();
            }
        }
        assertEquals("stop", rows[1].finish);
        assertEquals(4, rows[1].tokens.size());
        assertTrue(rows[1].finishStep < rows[0].finishStep);
        for (int i : new int[] {0, 2}) {
            assertEquals("length", rows[i].finish);
            assertAlone(prompts[i], rows[i], "row " + i);
        }
    }

    @Test
    void scoringJobsRunBetweenDecodingSteps() throws Exception {
        ServerStats stats = new ServerStats();
        Recording row = new Recording(stats);
        int[] seq = prompt(20, 31);
        CompletableFuture<PromptScores> scores = new CompletableFuture<>();
        AtomicInteger stepAtScore = new AtomicInteger(-1);
        try (Scheduler s = continuous(model, 2, stats, Set.of(EOS))) {
            row.onToken = n -> {
                if (n == 2) {
                    s.submit(new Scheduler.Score(seq, 3, scores));
                }
                if (n == 4) {
                    stepAtScore.set(scores.isDone() ? n : -1);
                }
            };
            s.submit(new Scheduler.Decode(greedy(prompt(5, 32), 10, row)));
            row.await();
        }
        assertEquals(4, stepAtScore.get(), "the score was answered while the row was still decoding");
        PromptScores got = scores.get();
        float[][] direct = TestModels.logProbs(model, manager, seq);
        for (int t = 1; t < seq.length; t++) {
            assertEquals(direct[t - 1][seq[t]], got.logProbs()[t - 1], 1e-4);
            assertArrayEquals(BatchDecoder.topK(direct[t - 1], 0, TestModels.VOCAB, 3), got.topIds()[t - 1]);
        }
        assertAlone(prompt(5, 32), row, "the decoding row");
    }

    @Test
    void aFailedStepFailsTheRowsInTheBatchAndTheSchedulerGoesOn() throws Exception {
        ServerStats stats = new ServerStats();
        Failing failing = new Failing(model);
        Recording a = new Recording(stats);
        Recording b = new Recording(stats);
        Recording after = new Recording(stats);
        try (Scheduler s = continuous(failing, 2, stats, Set.of(EOS))) {
            a.onToken = n -> {
                if (n == 3) {
                    failing.failNext.set(true);
                }
            };
            s.hold();
            s.submit(new Scheduler.Decode(greedy(prompt(4, 41), 10, a)));
            s.submit(new Scheduler.Decode(greedy(prompt(6, 42), 10, b)));
            s.release();
            a.await();
            b.await();
            s.submit(new Scheduler.Decode(greedy(prompt(5, 43), 6, after)));
            after.await();
        }
        assertTrue(a.error != null && a.error.getMessage().contains("injected"), String.valueOf(a.error));
        assertTrue(b.error != null, "the other row in the failed step fails too");
        assertEquals("length", after.finish, "the next request is served");
        assertAlone(prompt(5, 43), after, "the row after the failure");
    }

    /** The model, except that the forward after {@code failNext} is set throws. */
    private static final class Failing implements LanguageModel {
        final LanguageModel inner;
        final java.util.concurrent.atomic.AtomicBoolean failNext = new java.util.concurrent.atomic.AtomicBoolean();

        Failing(LanguageModel inner) {
            this.inner = inner;
        }

        @Override
        public ModelConfig config() {
            return inner.config();
        }

        @Override
        public Map<String, NDArray> parameters() {
            return inner.parameters();
        }

        @Override
        public ModelOutput forward(NDArray inputIds, ForwardOptions options) {
            if (failNext.getAndSet(false)) {
                throw new IllegalStateException("injected failure");
            }
            return inner.forward(inputIds, options);
        }

        @Override
        public KvCache newCache() {
            return inner.newCache();
        }

        @Override
        public SlotKvCache newSlotCache(int slots) {
            return inner.newSlotCache(slots);
        }

        @Override
        public void close() {
        }
    }

    private static boolean contains(int[] a, int before, int x) {
        for (int i = 0; i < before; i++) {
            if (a[i] == x) {
                return true;
            }
        }
        return false;
    }

    private static List<RequestRow.Event> drain(RequestRow row) throws InterruptedException {
        List<RequestRow.Event> out = new ArrayList<>();
        while (true) {
            RequestRow.Event e = row.events.poll(60, TimeUnit.SECONDS);
            assertTrue(e != null, "the row never ended");
            out.add(e);
            if (e.finishReason() != null || e.error() != null) {
                return out;
            }
        }
    }

    private static String text(List<RequestRow.Event> events) {
        StringBuilder sb = new StringBuilder();
        events.forEach(e -> sb.append(e.text()));
        return sb.toString();
    }
}

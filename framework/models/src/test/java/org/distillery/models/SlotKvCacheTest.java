package org.distillery.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.KvCache;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.SlotKvCache;
import org.distillery.models.arch.KvCacheImpl;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/**
 * The slot cache of continuous batching: sequences inserted at different steps, of different
 * lengths, evicted and replaced, each give at every step the logits of the same sequence run
 * alone without a cache; the view widens for long newcomers and moves when it runs out of room.
 */
class SlotKvCacheTest {

    static final HfModelService SVC = new HfModelService();
    static final List<String> ARCHS = TinyModels.ALL;
    private static final long PAD = 0;

    /** One sequence living in a slot: its tokens so far. */
    private static final class Row {
        final List<Long> tokens = new ArrayList<>();

        Row(long... prompt) {
            for (long t : prompt) {
                tokens.add(t);
            }
        }

        long[] ids() {
            return tokens.stream().mapToLong(Long::longValue).toArray();
        }
    }

    /** The next token a row is fed at a step: fixed, so the test needs no sampling. */
    private static long next(int step, int slot) {
        return 3 + (step * 7 + slot * 13) % 60;
    }

    @ParameterizedTest
    @FieldSource("ARCHS")
    void rowsJoiningAndLeavingAtDifferentStepsMatchTheirSequencesAlone(String arch) {
        try (NDManager m = NDManager.newBaseManager();
             LanguageModel lm = SVC.create(TinyModels.config(arch), 11, m);
             SlotKvCache cache = lm.newSlotCache(3)) {
            Row[] rows = new Row[3];
            float worst = 0;
            worst = Math.max(worst, join(m, lm, cache, rows, 0, new Row(1, 5, 9, 13, 17)));
            for (int step = 0; step < 14; step++) {
                if (step == 2) {
                    worst = Math.max(worst, join(m, lm, cache, rows, 1, new Row(1, 40)));
                }
                if (step == 4) {
                    // longer than every row so far: the view widens to the left
                    worst = Math.max(worst, join(m, lm, cache, rows, 2, new Row(1, 8, 8, 7, 6, 5, 4, 3, 2, 9, 9, 9, 9)));
                }
                if (step == 6) {
                    cache.evict(0);
                    rows[0] = null;
                    assertFalse(cache.occupied(0));
                    assertEquals(0, cache.length(0));
                }
                if (step == 8) {
                    worst = Math.max(worst, join(m, lm, cache, rows, 0, new Row(1, 22, 23)));
                }
                if (step == 10) {
                    cache.evict(2);
                    rows[2] = null;
                }
                worst = Math.max(worst, step(m, lm, cache, rows, step));
                for (int s = 0; s < 3; s++) {
                    assertEquals(rows[s] == null ? 0 : rows[s].tokens.size(), cache.length(s), arch + " slot " + s);
                }
            }
            if (!arch.equals("llama-dynamic")) {
                // dynamic NTK RoPE rescales by the longest position in the batch, so a row's rotation
                // depends on its neighbours by design (as in any batched decode of such a model)
                assertTrue(worst < 1e-4f, arch + ": slot-cache and alone logits differ by " + worst);
            }
        }
    }

    @Test
    void aLeftPaddedPrefillBatchIsInsertedRowByRow() {
        try (NDManager m = NDManager.newBaseManager();
             LanguageModel lm = SVC.create(TinyModels.config("llama"), 4, m);
             SlotKvCache cache = lm.newSlotCache(4)) {
            Row[] rows = new Row[4];
            Row a = new Row(1, 5, 9, 13, 17, 21);
            Row b = new Row(1, 30, 31);
            float worst;
            try (NDManager sm = m.newSubManager(); KvCache prefill = lm.newCache()) {
                long[][] ids = {a.ids(), {PAD, PAD, PAD, 1, 30, 31}};
                float[] mask = {1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1};
                NDArray logits = lm.forward(TestSupport.ids(sm, ids), ForwardOptions.inference()
                        .withMask(sm.create(mask, new Shape(2, 6))).withCache(prefill)).logits();
                worst = Math.max(TestSupport.maxAbsDiff(logits.get("0, -1, :"), alone(sm, lm, a)),
                        TestSupport.maxAbsDiff(logits.get("1, -1, :"), alone(sm, lm, b)));
                cache.insert(3, prefill, 0);
                cache.insert(1, prefill, 1);
            }
            rows[3] = a;
            rows[1] = b;
            assertEquals(6, cache.length(3));
            assertEquals(3, cache.length(1));
            assertEquals(4, cache.rowsInUse(), "a step feeds slots 0..3, the free 0 and 2 among them");
            for (int step = 0; step < 6; step++) {
                worst = Math.max(worst, step(m, lm, cache, rows, step));
            }
            cache.evict(3);
            rows[3] = null;
            assertEquals(2, cache.rowsInUse(), "the highest slot left: steps feed slots 0 and 1 only");
            assertEquals(9, b.tokens.size());
            assertEquals(9, cache.length(), "the view shrank to the remaining row (3 prompt + 6 decoded positions)");
            for (int step = 6; step < 10; step++) {
                worst = Math.max(worst, step(m, lm, cache, rows, step));
            }
            cache.evict(1);
            assertEquals(0, cache.rowsInUse());
            assertEquals(0, cache.length());
            assertTrue(worst < 1e-4f, "slot-cache and alone logits differ by " + worst);
        }
    }

    @Test
    void theViewMovesToTheFrontWhenTheBufferIsFullAndDropsColumnsNoRowUses() {
        try (NDManager m = NDManager.newBaseManager();
             LanguageModel lm = SVC.create(TinyModels.config("gpt2"), 8, m);
             SlotKvCache cache = lm.newSlotCache(2)) {
            Row[] rows = new Row[2];
            int[] joinedAt = new int[2];
            float worst = join(m, lm, cache, rows, 0, new Row(1, 2, 3));
            List<Long> capacities = new ArrayList<>();
            for (int step = 0; step < 40; step++) {
                if (step % 6 == 3) {
                    // the oldest row leaves and a new one takes its slot, so the first used column keeps moving
                    int slot = rows[1] == null ? 1 : joinedAt[0] <= joinedAt[1] ? 0 : 1;
                    cache.evict(slot);
                    worst = Math.max(worst, join(m, lm, cache, rows, slot, new Row(1, 4 + step)));
                    joinedAt[slot] = step;
                }
                worst = Math.max(worst, step(m, lm, cache, rows, step));
                capacities.add(((KvCacheImpl) cache).capacity());
                int longest = Math.max(cache.length(0), cache.length(1));
                assertEquals(longest, cache.length(), "the view is as long as the longest row");
            }
            assertTrue(worst < 1e-4f, "slot-cache and alone logits differ by " + worst);
            // 40 steps with rows of at most ~14 positions: the buffer stays small instead of growing by the step count
            assertTrue(capacities.stream().mapToLong(Long::longValue).max().getAsLong() <= 32, capacities.toString());
        }
    }

    @Test
    void rowsComingAndGoingForManyStepsLeaveNoArraysBehind() {
        try (NDManager m = NDManager.newBaseManager();
             LanguageModel lm = SVC.create(TinyModels.config("llama"), 6, m);
             SlotKvCache cache = lm.newSlotCache(3)) {
            Row[] rows = new Row[3];
            java.util.Random random = new java.util.Random(3);
            int afterWarmUp = -1;
            for (int step = 0; step < 240; step++) {
                for (int s = 0; s < 3; s++) {
                    if (rows[s] != null && random.nextInt(5) == 0) {
                        cache.evict(s);
                        rows[s] = null;
                    }
                }
                for (int s = 0; s < 3; s++) {
                    if (rows[s] == null && random.nextInt(3) == 0) {
                        long[] prompt = new long[1 + random.nextInt(20)];
                        for (int i = 0; i < prompt.length; i++) {
                            prompt[i] = 1 + random.nextInt(60);
                        }
                        join(m, lm, cache, rows, s, new Row(prompt));
                    }
                }
                if (cache.rowsInUse() > 0) {
                    step(m, lm, cache, rows, step);
                }
                if (step == 60) {
                    afterWarmUp = m.getManagedArrays().size();
                }
            }
            assertEquals(afterWarmUp, m.getManagedArrays().size(),
                    "arrays alive after 60 steps of rows joining, decoding and leaving, and after 240");
        }
    }

    @Test
    void misuseIsRefusedWithAClearMessage() {
        try (NDManager m = NDManager.newBaseManager();
             LanguageModel lm = SVC.create(TinyModels.config("llama"), 4, m);
             SlotKvCache cache = lm.newSlotCache(2);
             NDManager sm = m.newSubManager()) {
            IllegalStateException empty = assertThrows(IllegalStateException.class, () -> lm.forward(
                    sm.create(new long[] {1, 1}, new Shape(2, 1)), ForwardOptions.inference().withCache(cache)));
            assertTrue(empty.getMessage().contains("insert"), empty.getMessage());
            Row[] rows = new Row[2];
            join(m, lm, cache, rows, 0, new Row(1, 5));
            KvCache other = lm.newCache();
            lm.forward(sm.create(new long[] {1, 7}, new Shape(1, 2)), ForwardOptions.inference().withCache(other));
            IllegalStateException busy = assertThrows(IllegalStateException.class, () -> cache.insert(0, other, 0));
            assertTrue(busy.getMessage().contains("occupied"), busy.getMessage());
            assertThrows(IllegalArgumentException.class, () -> cache.insert(2, other, 0));
            assertThrows(IllegalArgumentException.class, () -> cache.insert(1, other, 1));
            assertThrows(IllegalArgumentException.class, () -> lm.forward(sm.create(new long[] {1, 1, 1}, new Shape(3, 1)),
                    ForwardOptions.inference().withCache(cache)));
            IllegalArgumentException masked = assertThrows(IllegalArgumentException.class, () -> lm.forward(
                    sm.create(new long[] {1, 1}, new Shape(2, 1)), ForwardOptions.inference().withCache(cache)
                            .withMask(sm.ones(new Shape(2, 1)))));
            assertTrue(masked.getMessage().contains("own attention mask"), masked.getMessage());
            other.close();
            IllegalArgumentException closed = assertThrows(IllegalArgumentException.class, () -> cache.insert(1, other, 0));
            assertTrue(closed.getMessage().contains("closed"), closed.getMessage());
            assertEquals(2, cache.length(0), "a refused forward leaves the cache as it was");
        }
    }

    /** Prefills {@code row} alone and inserts it into {@code slot}; returns the gap of its last logits to the alone forward. */
    private static float join(NDManager m, LanguageModel lm, SlotKvCache cache, Row[] rows, int slot, Row row) {
        try (NDManager sm = m.newSubManager(); KvCache prefill = lm.newCache()) {
            long[] ids = row.ids();
            NDArray logits = lm.forward(sm.create(ids, new Shape(1, ids.length)),
                    ForwardOptions.inference().withCache(prefill)).logits();
            float gap = TestSupport.maxAbsDiff(logits.get("0, -1, :"), alone(sm, lm, row));
            cache.insert(slot, prefill, 0);
            rows[slot] = row;
            return gap;
        }
    }

    /** One decoding step of every slot; returns the worst gap of an occupied row's logits to its sequence alone. */
    private static float step(NDManager m, LanguageModel lm, SlotKvCache cache, Row[] rows, int step) {
        int n = cache.rowsInUse();
        for (int s = n; s < rows.length; s++) {
            assertTrue(rows[s] == null, "slot " + s + " is in use beyond rowsInUse " + n);
        }
        long[] in = new long[n];
        for (int s = 0; s < n; s++) {
            in[s] = rows[s] == null ? PAD : next(step, s);
            if (rows[s] != null) {
                rows[s].tokens.add(in[s]);
            }
        }
        float worst = 0;
        try (NDManager sm = m.newSubManager()) {
            NDArray logits = lm.forward(sm.create(in, new Shape(n, 1)), ForwardOptions.inference().withCache(cache))
                    .logits();
            for (int s = 0; s < n; s++) {
                if (rows[s] != null) {
                    worst = Math.max(worst, TestSupport.maxAbsDiff(logits.get(s + ", -1, :"), alone(sm, lm, rows[s])));
                }
            }
        }
        return worst;
    }

    /** Last-position logits of {@code row}'s sequence run alone, without a cache. */
    private static NDArray alone(NDManager sm, LanguageModel lm, Row row) {
        long[] ids = row.ids();
        return lm.forward(sm.create(ids, new Shape(1, ids.length)), ForwardOptions.inference()).logits().get("0, -1, :");
    }
}

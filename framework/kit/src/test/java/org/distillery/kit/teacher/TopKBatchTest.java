package org.distillery.kit.teacher;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import org.distillery.api.data.TokenBatch;
import org.distillery.api.teacher.TeacherOutput;
import org.distillery.kit.data.Records;

/** {@link TopKBatch}: rows of a right-padded batch, fills at the right offsets, defaults elsewhere. */
class TopKBatchTest {

    private static final int K = 2;
    private static final float FLOOR = 30f;
    private static final String TEACHER = "teacher.remote";

    private NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    /** Three rows of four positions: 3 real tokens, 4 real tokens, none. */
    private TokenBatch batch() {
        Shape shape = new Shape(3, 4);
        return new TokenBatch(
                manager.create(new long[] {5, 6, 7, 0, 9, 10, 11, 12, 0, 0, 0, 0}, shape),
                manager.create(new float[] {1, 1, 1, 0, 1, 1, 1, 1, 0, 0, 0, 0}, shape),
                manager.create(new long[] {6, 7, 8, 0, 10, 11, 12, 13, 0, 0, 0, 0}, shape),
                manager.create(new float[12], shape),
                manager.create(new int[] {1, 1, 0}));
    }

    @Test
    void rowsAreTheInputsThenTheLastTarget() {
        TopKBatch top = TopKBatch.of(batch(), K, FLOOR, TEACHER);
        List<TopKBatch.Row> rows = top.rows();
        assertEquals(2, rows.size(), "the empty row has nothing to fill");
        assertEquals(0, rows.get(0).index());
        assertArrayEquals(new int[] {5, 6, 7, 8}, rows.get(0).sequence());
        assertEquals(3, rows.get(0).positions());
        assertEquals(1, rows.get(1).index());
        assertArrayEquals(new int[] {9, 10, 11, 12, 13}, rows.get(1).sequence());
        assertEquals(4, rows.get(1).positions());
        assertEquals(K, top.k());
        assertThrows(UnsupportedOperationException.class, () -> top.rows().clear());
    }

    @Test
    void rowsOfAnEncodedBatchAreTheEncodedSequences() {
        List<Records.Encoded> seqs = List.of(new Records.Encoded(new int[] {1, 40, 41, 42, 2}, 2),
                new Records.Encoded(new int[] {1, 50, 2}, 1));
        TokenBatch b = Records.batch(seqs, 0, manager);
        TopKBatch top = TopKBatch.of(b, K, FLOOR, TEACHER);
        assertArrayEquals(seqs.get(0).ids(), top.rows().get(0).sequence());
        assertArrayEquals(seqs.get(1).ids(), top.rows().get(1).sequence());
    }

    @Test
    void aGapInTheAttentionMaskIsRefusedNamingTheTeacher() {
        Shape shape = new Shape(2, 4);
        TokenBatch gap = new TokenBatch(manager.create(new long[8], shape),
                manager.create(new float[] {1, 1, 1, 1, 1, 0, 1, 0}, shape), manager.create(new long[8], shape),
                manager.create(new float[8], shape), manager.create(new int[] {0, 0}));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TopKBatch.of(gap, K, FLOOR, TEACHER));
        assertTrue(e.getMessage().startsWith(TEACHER + ": "), e.getMessage());
        assertTrue(e.getMessage().contains("row 1"), e.getMessage());
        assertTrue(e.getMessage().contains("position 1"), e.getMessage());
    }

    @Test
    void fillWritesTheRowAndLeavesDefaultsElsewhere() {
        TopKBatch top = TopKBatch.of(batch(), K, FLOOR, TEACHER);
        TopKBatch.Row row = top.rows().get(1);
        int[][] ids = {{10, 3}, {11, 4}, {12, 5}, {13, 6}};
        float[][] lps = {{-0.1f, -2f}, {-0.2f, -3f}, {-0.3f, -4f}, {-0.4f, -5f}};
        float[] rest = {-5f, -6f, -7f, -8f};
        top.fill(row, ids, lps, rest);

        TeacherOutput out = top.build(manager);
        assertEquals(new Shape(3, 4, K), out.topIds().getShape());
        assertEquals(new Shape(3, 4, K), out.topLogProbs().getShape());
        assertEquals(new Shape(3, 4), out.restLogMass().getShape());
        assertEquals(DataType.INT64, out.topIds().getDataType());
        assertEquals(DataType.FLOAT32, out.topLogProbs().getDataType());
        assertEquals(DataType.FLOAT32, out.restLogMass().getDataType());
        assertNull(out.logits());
        assertFalse(out.hasLogits());
        assertTrue(out.hiddenStates().isEmpty());
        assertSame(manager, out.topIds().getManager());

        long[] gotIds = out.topIds().toLongArray();
        float[] gotLps = out.topLogProbs().toFloatArray();
        float[] gotRest = out.restLogMass().toFloatArray();
        for (int b = 0; b < 3; b++) {
            for (int t = 0; t < 4; t++) {
                int p = b * 4 + t;
                for (int j = 0; j < K; j++) {
                    if (b == 1) {
                        assertEquals(ids[t][j], gotIds[p * K + j], "filled id " + t + "," + j);
                        assertEquals(lps[t][j], gotLps[p * K + j], 0f);
                    } else {
                        assertEquals(j, gotIds[p * K + j], "default ids 0..k-1 at row " + b + ", position " + t);
                        assertEquals(j == 0 ? 0f : -FLOOR, gotLps[p * K + j], 0f, "default log-probabilities");
                    }
                }
                assertEquals(b == 1 ? rest[t] : -FLOOR, gotRest[p], 0f, "rest at row " + b + ", position " + t);
            }
        }
    }

    @Test
    void readersFillTheFlatArraysAtTheOffsets() {
        TopKBatch top = TopKBatch.of(batch(), K, FLOOR, TEACHER);
        TopKBatch.Row row0 = top.rows().get(0);
        TopKBatch.Row row1 = top.rows().get(1);
        assertEquals(0, top.offset(row0));
        assertEquals(4 * K, top.offset(row1));
        assertEquals(0, top.restOffset(row0));
        assertEquals(4, top.restOffset(row1));
        // position 2 of row 1, second entry
        top.ids()[top.offset(row1) + 2 * K + 1] = 99;
        top.logProbs()[top.offset(row1) + 2 * K + 1] = -1.5f;
        top.rest()[top.restOffset(row1) + 2] = -9f;
        TeacherOutput out = top.build(manager);
        assertEquals(99, out.topIds().getLong(1, 2, 1));
        assertEquals(-1.5f, out.topLogProbs().getFloat(1, 2, 1), 0f);
        assertEquals(-9f, out.restLogMass().getFloat(1, 2), 0f);
        assertEquals(0, out.topIds().getLong(1, 2, 0), "the first entry keeps its default");
    }

    @Test
    void fillRefusesAnswersThatDoNotFitTheRow() {
        TopKBatch top = TopKBatch.of(batch(), K, FLOOR, TEACHER);
        TopKBatch.Row row0 = top.rows().get(0);
        int[][] fourIds = {{1, 2}, {1, 2}, {1, 2}, {1, 2}};
        float[][] fourLps = {{0, 0}, {0, 0}, {0, 0}, {0, 0}};
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> top.fill(row0, fourIds, fourLps, new float[4]));
        assertTrue(e.getMessage().contains("row 0 has 3 positions"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> top.fill(row0, new int[][] {{1, 2}}, new float[][] {{0, 0}, {0, 0}}, new float[1]));
        assertThrows(IllegalArgumentException.class,
                () -> top.fill(row0, new int[][] {{1}}, new float[][] {{0}}, new float[1]), "fewer than k");
        // nothing leaked into row 1
        assertEquals(0, top.build(manager).topIds().getLong(1, 0, 0));

        top.fill(row0, new int[][] {{7, 8}}, new float[][] {{-1, -2}}, new float[] {-3});
        assertEquals(7, top.build(manager).topIds().getLong(0, 0, 0), "fewer positions than the row is fine");
    }
}

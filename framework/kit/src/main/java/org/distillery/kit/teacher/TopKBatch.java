package org.distillery.kit.teacher;

import java.util.ArrayList;
import java.util.List;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.data.TokenBatch;
import org.distillery.api.teacher.TeacherOutput;

/**
 * Assembles a top-k {@link TeacherOutput} for a right-padded batch from answers a teacher gets
 * one sequence at a time (a cache file, an endpoint): the caller asks for the {@link #rows()},
 * fills each row's positions with {@link #fill} (rows may be filled from several threads, each
 * row once) and builds the output with {@link #build}.
 *
 * <p>Positions nobody fills (padding, empty rows) get a harmless distribution: ids
 * {@code 0..k-1}, log-probability 0 for the first and {@code -floor} for the others and for the
 * rest mass, so that losses see finite numbers there (they are masked out anyway).
 */
public final class TopKBatch {

    /**
     * One row of the batch.
     *
     * @param index the row index in the batch
     * @param sequence the row's tokens: its inputs followed by the last target, so position t of
     *     the batch predicts {@code sequence[t + 1]}; {@code sequence.length - 1} positions to fill
     */
    public record Row(int index, int[] sequence) {

        /** Positions of this row that predict a token: {@code sequence.length - 1}. */
        public int positions() {
            return sequence.length - 1;
        }
    }

    private final int batch;
    private final int length;
    private final int k;
    private final long[] ids;
    private final float[] logProbs;
    private final float[] rest;
    private final List<Row> rows = new ArrayList<>();

    private TopKBatch(int batch, int length, int k, float floor) {
        this.batch = batch;
        this.length = length;
        this.k = k;
        this.ids = new long[batch * length * k];
        this.logProbs = new float[batch * length * k];
        this.rest = new float[batch * length];
        for (int p = 0; p < batch * length; p++) {
            for (int j = 0; j < k; j++) {
                ids[p * k + j] = j;
                logProbs[p * k + j] = j == 0 ? 0f : -floor;
            }
            rest[p] = -floor;
        }
    }

    /**
     * Reads the rows of {@code batch} (inputs, targets and attention mask).
     *
     * @param batch a right-padded batch
     * @param k entries per position
     * @param floor what {@code -floor} stands in for log 0 at unfilled positions
     * @param teacher the teacher's key, for messages
     * @throws IllegalArgumentException when a row is not right-padded (a gap in its attention mask)
     */
    public static TopKBatch of(TokenBatch batch, int k, float floor, String teacher) {
        Shape shape = batch.inputIds().getShape();
        int b = (int) shape.get(0);
        int len = (int) shape.get(1);
        TopKBatch out = new TopKBatch(b, len, k, floor);
        long[] input = batch.inputIds().toType(DataType.INT64, false).toLongArray();
        long[] targets = batch.targets().toType(DataType.INT64, false).toLongArray();
        float[] mask = batch.attentionMask().toType(DataType.FLOAT32, false).toFloatArray();
        for (int i = 0; i < b; i++) {
            int n = 0;
            while (n < len && mask[i * len + n] > 0) {
                n++;
            }
            for (int t = n; t < len; t++) {
                if (mask[i * len + t] > 0) {
                    throw new IllegalArgumentException(teacher + ": batch row " + i
                            + " is not right-padded (attention mask has a gap at position " + n + ")");
                }
            }
            if (n == 0) {
                continue;
            }
            int[] seq = new int[n + 1];
            for (int t = 0; t < n; t++) {
                seq[t] = (int) input[i * len + t];
            }
            seq[n] = (int) targets[i * len + n - 1];
            out.rows.add(new Row(i, seq));
        }
        return out;
    }

    /** The rows with at least one real token, in batch order. */
    public List<Row> rows() {
        return List.copyOf(rows);
    }

    /** Entries per position. */
    public int k() {
        return k;
    }

    /**
     * Fills one row's positions.
     *
     * @param row the row
     * @param topIds [positions][k] top ids at each position, best first
     * @param topLogProbs [positions][k] their log-probabilities
     * @param restLogMass [positions] log of the mass outside them
     * @throws IllegalArgumentException when the arrays disagree in length, have fewer than k
     *     entries at a position, or cover more positions than the row has (they would land in the
     *     next row)
     */
    public void fill(Row row, int[][] topIds, float[][] topLogProbs, float[] restLogMass) {
        if (topIds.length > row.positions() || topLogProbs.length != topIds.length
                || restLogMass.length != topIds.length) {
            throw new IllegalArgumentException("row " + row.index() + " has " + row.positions() + " positions; got "
                    + topIds.length + " of ids, " + topLogProbs.length + " of log-probabilities and "
                    + restLogMass.length + " of rest mass");
        }
        int base = row.index() * length;
        for (int t = 0; t < topIds.length; t++) {
            if (topIds[t].length < k || topLogProbs[t].length < k) {
                throw new IllegalArgumentException("row " + row.index() + ", position " + t + ": fewer than k = " + k
                        + " entries");
            }
            for (int j = 0; j < k; j++) {
                ids[(base + t) * k + j] = topIds[t][j];
                logProbs[(base + t) * k + j] = topLogProbs[t][j];
            }
            rest[base + t] = restLogMass[t];
        }
    }

    /** The flat arrays a reader fills in place: {@code ids} and {@code logProbs} at {@link #offset}, rest at {@link #restOffset}. */
    public long[] ids() {
        return ids;
    }

    /** See {@link #ids()}. */
    public float[] logProbs() {
        return logProbs;
    }

    /** See {@link #ids()}. */
    public float[] rest() {
        return rest;
    }

    /** Where {@code row}'s first position starts in {@link #ids()} and {@link #logProbs()}. */
    public int offset(Row row) {
        return row.index() * length * k;
    }

    /** Where {@code row}'s first position starts in {@link #rest()}. */
    public int restOffset(Row row) {
        return row.index() * length;
    }

    /** The top-k output: ids, log-probabilities [batch, seq, k] and rest log-mass [batch, seq], in {@code manager}. */
    public TeacherOutput build(NDManager manager) {
        return new TeacherOutput(null, manager.create(ids, new Shape(batch, length, k)),
                manager.create(logProbs, new Shape(batch, length, k)), manager.create(rest, new Shape(batch, length)),
                List.of());
    }
}

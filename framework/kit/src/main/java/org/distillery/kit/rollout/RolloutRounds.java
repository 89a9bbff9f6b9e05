package org.distillery.kit.rollout;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongFunction;

/**
 * The round / PPO-epoch / micro-batch walk of an on-policy sampler: each round's buffer is sampled
 * once, then served as micro-batches for {@code ppoEpochs} passes, each pass in its own order
 * seeded by {@code mix(seed, 1, round, epoch)}; then the next round is sampled. The position is
 * {@code round:epoch:index} and the current round's buffer is written into every checkpoint, so a
 * resumed run continues mid-buffer on exactly the rollouts the uninterrupted run trained on.
 *
 * <pre>
 * private final RolloutRounds rounds = new RolloutRounds(KEY, seed, ppoEpochs);
 * public TokenBatch next(NDManager m) {
 *     List&lt;Rollout&gt; rows = rounds.next(ctx.batchSize(), round -&gt; sampleRound(round, m));
 *     return RolloutBatches.assemble(rows, values, Map.of(), padId, m);
 * }
 * public String position() { return rounds.position(); }
 * public void seek(String p) { rounds.seek(p); }
 * public void saveState(Path dir) throws IOException { rounds.save(dir); }
 * public void restoreState(Path dir) throws IOException { rounds.restore(dir); }
 * </pre>
 */
public final class RolloutRounds {

    private final String key;
    private final long seed;
    private final int ppoEpochs;

    private long round;
    private int epoch;
    private int index;
    private RolloutBuffer buffer;

    /**
     * @param key the sampler's registry key (named in position errors)
     * @param seed the sampler's seed
     * @param ppoEpochs passes over each round's buffer (at least 1)
     */
    public RolloutRounds(String key, long seed, int ppoEpochs) {
        if (ppoEpochs < 1) {
            throw new IllegalArgumentException("ppo-epochs must be at least 1: " + ppoEpochs);
        }
        this.key = key;
        this.seed = seed;
        this.ppoEpochs = ppoEpochs;
    }

    /**
     * The next micro-batch of at most {@code batchSize} rollouts, sampling the current round with
     * {@code sample} first when its buffer is not held (a new round, or a resume without a saved
     * buffer); the last micro-batch of a pass may be shorter.
     */
    public List<Rollout> next(int batchSize, LongFunction<RolloutBuffer> sample) {
        if (buffer == null || buffer.round() != round) {
            buffer = sample.apply(round);
        }
        List<Rollout> all = buffer.rollouts();
        List<Integer> order = SeededOrder.shuffled(all.size(), SeededOrder.mix(seed, 1, round, epoch));
        int end = Math.min(all.size(), index + batchSize);
        List<Rollout> rows = new ArrayList<>(end - index);
        for (int i = index; i < end; i++) {
            rows.add(all.get(order.get(i)));
        }
        index = end;
        if (index >= all.size()) {
            index = 0;
            if (++epoch >= ppoEpochs) {
                epoch = 0;
                round++;
            }
        }
        return rows;
    }

    /** The round the next micro-batch comes from. */
    public long round() {
        return round;
    }

    /** {@code round:epoch:index}. */
    public String position() {
        return round + ":" + epoch + ":" + index;
    }

    /** Goes to a position {@link #position()} wrote; another form fails naming the sampler. */
    public void seek(String position) {
        String[] parts = position.split(":");
        if (parts.length != 3) {
            throw new IllegalArgumentException("not a " + key + " position: " + position
                    + " (expected round:epoch:index)");
        }
        try {
            round = Long.parseLong(parts[0]);
            epoch = Integer.parseInt(parts[1]);
            index = Integer.parseInt(parts[2]);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a " + key + " position: " + position
                    + " (expected round:epoch:index, whole numbers)");
        }
    }

    /** Writes the current round's buffer (if held) into a checkpoint's sampler folder. */
    public void save(Path dir) throws IOException {
        if (buffer != null && buffer.round() == round) {
            buffer.save(dir.resolve(RolloutBuffer.FILE));
        }
    }

    /** Reads the buffer {@link #save} wrote, or holds none when the checkpoint has none. */
    public void restore(Path dir) throws IOException {
        Path file = dir.resolve(RolloutBuffer.FILE);
        buffer = Files.exists(file) ? RolloutBuffer.load(file) : null;
    }

    /** The buffer held, or {@code null}. */
    public RolloutBuffer buffer() {
        return buffer;
    }
}

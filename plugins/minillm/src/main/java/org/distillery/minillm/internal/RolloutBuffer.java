package org.distillery.minillm.internal;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The rollouts of one round, as sampled, with a compact binary form for checkpoints: the
 * values are written bit for bit, so a resumed run trains on exactly the same buffer.
 *
 * @param round the rollout round that sampled them
 * @param rollouts the rollouts, in sampling order
 */
record RolloutBuffer(long round, List<Rollout> rollouts) {

    private static final int MAGIC = 0x4D4C4C42; // "MLLB"
    private static final int VERSION = 1;

    /** The file name inside a checkpoint's sampler folder. */
    static final String FILE = "rollouts.bin";

    /** Writes the buffer to {@code file} (the checkpoint writer makes the folder atomic). */
    void save(Path file) throws IOException {
        Files.createDirectories(file.getParent());
        try (DataOutputStream out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(file)))) {
            out.writeInt(MAGIC);
            out.writeInt(VERSION);
            out.writeLong(round);
            out.writeInt(rollouts.size());
            for (Rollout r : rollouts) {
                out.writeInt(r.ids().length);
                out.writeInt(r.promptLength());
                for (int id : r.ids()) {
                    out.writeInt(id);
                }
                for (float[] a : new float[][] {r.oldLogProbs(), r.teacherLogProbs(), r.importance(), r.rewards(),
                    r.advantages()}) {
                    for (float x : a) {
                        out.writeInt(Float.floatToRawIntBits(x));
                    }
                }
            }
        }
    }

    /** Reads what {@link #save} wrote. */
    static RolloutBuffer load(Path file) throws IOException {
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file)))) {
            if (in.readInt() != MAGIC || in.readInt() != VERSION) {
                throw new IOException(file + ": not a MiniLLM rollout buffer of version " + VERSION);
            }
            long round = in.readLong();
            int n = in.readInt();
            List<Rollout> rollouts = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                int[] ids = new int[in.readInt()];
                int prompt = in.readInt();
                for (int k = 0; k < ids.length; k++) {
                    ids[k] = in.readInt();
                }
                float[][] values = new float[5][ids.length - prompt];
                for (float[] a : values) {
                    for (int k = 0; k < a.length; k++) {
                        a[k] = Float.intBitsToFloat(in.readInt());
                    }
                }
                rollouts.add(new Rollout(ids, prompt, values[0], values[1], values[2], values[3], values[4]));
            }
            return new RolloutBuffer(round, List.copyOf(rollouts));
        }
    }
}

package org.distillery.kit.rollout;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The rollouts of one sampling round, with a compact binary form for checkpoints: ids and every
 * value are written bit for bit, so a run resumed from a checkpoint written in the middle of a
 * round trains on exactly the buffer the uninterrupted run trained on. A sampler writes it from
 * {@code Sampler.saveState} and reads it back in {@code restoreState}:
 *
 * <pre>
 * public void saveState(Path dir) throws IOException {
 *     if (buffer != null &amp;&amp; buffer.round() == round) buffer.save(dir.resolve(RolloutBuffer.FILE));
 * }
 * </pre>
 *
 * @param round the sampling round that produced the rollouts
 * @param rollouts the rollouts, in sampling order
 */
public record RolloutBuffer(long round, List<Rollout> rollouts) {

    private static final int MAGIC = 0x524F4C42; // "ROLB"
    private static final int VERSION = 1;

    /** The usual file name inside a checkpoint's sampler folder. */
    public static final String FILE = "rollouts.bin";

    /** An immutable copy of the list. */
    public RolloutBuffer {
        rollouts = List.copyOf(rollouts);
    }

    /** Writes the buffer to {@code file}, creating its folder (the checkpoint writer makes the folder atomic). */
    public void save(Path file) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
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
                out.writeInt(r.values().size());
                for (Map.Entry<String, float[]> e : r.values().entrySet()) {
                    out.writeUTF(e.getKey());
                    for (float x : e.getValue()) {
                        out.writeInt(Float.floatToRawIntBits(x));
                    }
                }
            }
        }
    }

    /** Reads what {@link #save} wrote; a file of another format fails naming the file. */
    public static RolloutBuffer load(Path file) throws IOException {
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file)))) {
            if (in.readInt() != MAGIC || in.readInt() != VERSION) {
                throw new IOException(file + ": not a rollout buffer of version " + VERSION);
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
                int names = in.readInt();
                Map<String, float[]> values = new LinkedHashMap<>();
                for (int v = 0; v < names; v++) {
                    String name = in.readUTF();
                    float[] a = new float[ids.length - prompt];
                    for (int k = 0; k < a.length; k++) {
                        a[k] = Float.intBitsToFloat(in.readInt());
                    }
                    values.put(name, a);
                }
                rollouts.add(new Rollout(ids, prompt, values));
            }
            return new RolloutBuffer(round, rollouts);
        } catch (java.io.EOFException e) {
            throw new IOException(file + ": truncated rollout buffer", e);
        }
    }
}

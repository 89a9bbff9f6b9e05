package org.distillery.spark.teacher;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Order-independent seeds: a sample's seed is a hash of the job's seed, the record's id and the
 * sample's index, so it does not depend on partitioning, task retries or how many executors run.
 */
public final class Seeds {

    private Seeds() {
    }

    /**
     * The first 63 bits of SHA-256 over {@code seed} (8 bytes, big-endian), the id's UTF-8 length
     * (4 bytes) and bytes, and {@code sample} (4 bytes).
     */
    public static long of(long seed, String recordId, int sample) {
        byte[] id = recordId.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(16 + id.length).putLong(seed).putInt(id.length).put(id).putInt(sample);
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(b.array());
            return ByteBuffer.wrap(d).getLong() & Long.MAX_VALUE;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

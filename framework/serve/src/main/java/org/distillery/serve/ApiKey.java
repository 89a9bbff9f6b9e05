package org.distillery.serve;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * A secret that HTTP requests must present, kept only as its SHA-256 digest and compared in
 * constant time, so neither the key nor its length leaks through timing. Shared by
 * {@code distill serve} and {@code distill dashboard}.
 */
public final class ApiKey {

    private final byte[] digest;

    private ApiKey(byte[] digest) {
        this.digest = digest;
    }

    /** A key; refuses an empty one. */
    public static ApiKey of(String key) {
        if (key == null || key.isEmpty()) {
            throw new IllegalArgumentException("API key must not be empty");
        }
        return new ApiKey(sha256(key));
    }

    /** Whether {@code presented} is the key ({@code null} never is). */
    public boolean matches(String presented) {
        return presented != null && MessageDigest.isEqual(digest, sha256(presented));
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

package org.distillery.kit.openai;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;

import org.distillery.kit.io.AtomicFiles;

/**
 * Responses on disk, one file per request, named by the SHA-256 of endpoint, path, model and
 * the exact request body. A file is written beside its target and renamed over it, so readers
 * (other threads, other runs) see a whole response or none; an unreadable file counts as a miss.
 */
public final class ResponseCache {

    private final Path dir;

    /** A cache in {@code dir} (created on first write). */
    public ResponseCache(Path dir) {
        this.dir = dir;
    }

    /** The folder. */
    public Path dir() {
        return dir;
    }

    /** The key of a request. */
    public static String key(String endpoint, String path, String model, String body) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (String part : new String[] {endpoint, path, model == null ? "" : model, body}) {
                md.update(part.getBytes(StandardCharsets.UTF_8));
                md.update((byte) 0);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private Path file(String key) {
        return dir.resolve(key.substring(0, 2)).resolve(key + ".json");
    }

    /** The stored response of {@code key}, if any. */
    public Optional<String> get(String key) {
        Path f = file(key);
        try {
            return Files.isRegularFile(f) ? Optional.of(Files.readString(f)) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Stores {@code response} under {@code key} atomically (concurrent writers of one key each write their own temporary file). */
    public void put(String key, String response) throws IOException {
        AtomicFiles.writeString(file(key), response);
    }
}

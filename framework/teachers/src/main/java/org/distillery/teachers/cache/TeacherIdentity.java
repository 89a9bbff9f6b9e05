package org.distillery.teachers.cache;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * Which teacher produced a cache: its model folder and a SHA-256 over its weights file(s)
 * ({@code *.safetensors}, {@code *.bin}, {@code *.pt}, {@code *.pth}, sorted by name, each as
 * name, NUL, length, bytes). Two folders with the same weights have the same hash.
 *
 * @param modelDir the absolute, normalised model folder
 * @param weightsSha256 lower-case hex SHA-256
 */
public record TeacherIdentity(String modelDir, String weightsSha256) {

    /** Hashes the weights of {@code modelDir}; fails when it has none. */
    public static TeacherIdentity of(Path modelDir) throws IOException {
        Path dir = modelDir.toAbsolutePath().normalize();
        if (!Files.isDirectory(dir)) {
            throw new IOException(dir + ": not a model folder");
        }
        List<Path> weights;
        try (Stream<Path> s = Files.list(dir)) {
            weights = s.filter(Files::isRegularFile).filter(p -> isWeights(p.getFileName().toString())).sorted().toList();
        }
        if (weights.isEmpty()) {
            throw new IOException(dir + ": no weights file (*.safetensors, *.bin, *.pt, *.pth)");
        }
        MessageDigest md = CacheFormat.sha256();
        byte[] buf = new byte[1 << 16];
        for (Path w : weights) {
            md.update(w.getFileName().toString().getBytes(StandardCharsets.UTF_8));
            md.update((byte) 0);
            md.update(Long.toString(Files.size(w)).getBytes(StandardCharsets.US_ASCII));
            md.update((byte) 0);
            try (var in = Files.newInputStream(w)) {
                int n;
                while ((n = in.read(buf)) > 0) {
                    md.update(buf, 0, n);
                }
            }
        }
        return new TeacherIdentity(dir.toString(), HexFormat.of().formatHex(md.digest()));
    }

    private static boolean isWeights(String name) {
        return name.endsWith(".safetensors") || name.endsWith(".bin") || name.endsWith(".pt") || name.endsWith(".pth");
    }

    /** True when both name the same weights, wherever their folders are. */
    public boolean sameWeights(TeacherIdentity other) {
        return weightsSha256.equals(other.weightsSha256);
    }

    @Override
    public String toString() {
        return modelDir + " (weights sha256 " + weightsSha256 + ")";
    }
}

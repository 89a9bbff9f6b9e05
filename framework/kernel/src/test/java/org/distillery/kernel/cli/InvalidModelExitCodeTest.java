package org.distillery.kernel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every {@code distill model} command, and {@code eval}, {@code serve} and {@code teacher cache}, on each kind of corrupt
 * or unsupported model folder exits with 2 (invalid input) and a one-line message naming the file,
 * never a stack trace; {@code model init} exits with 2 on configs it cannot build.
 */
class InvalidModelExitCodeTest {

    @TempDir
    static Path dir;
    static Path good;

    /** What a command printed and returned. */
    record Result(int exit, String out, String err) {
    }

    static Result distill(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
        try {
            int exit = Distill.execute(args);
            return new Result(exit, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @BeforeAll
    static void writeAGoodModel() throws IOException {
        good = dir.resolve("good");
        Result r = distill("model", "init", "gpt2", good.toString());
        assertEquals(0, r.exit(), r.err());
        assertEquals(0, distill("model", "info", good.toString()).exit());
        Files.writeString(dir.resolve("data.jsonl"), "{\"prompt\": \"1+1=\", \"response\": \"2\"}\n");
    }

    private static Path copy(String name) throws IOException {
        Path to = dir.resolve(name);
        Files.createDirectories(to);
        try (Stream<Path> s = Files.list(good)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Files.copy(p, to.resolve(p.getFileName()));
            }
        }
        return to;
    }

    /** Replaces the JSON header of a safetensors file, keeping its data section. */
    private static void rewriteHeader(Path weights, String header) throws IOException {
        byte[] bytes = Files.readAllBytes(weights);
        long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        int padded = (h.length + 7) / 8 * 8;
        ByteBuffer out = ByteBuffer.allocate(8 + padded + bytes.length - 8 - (int) n).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(padded).put(h);
        for (int i = h.length; i < padded; i++) {
            out.put((byte) ' ');
        }
        out.put(bytes, 8 + (int) n, bytes.length - 8 - (int) n);
        Files.write(weights, out.array());
    }

    private static String header(Path weights) throws IOException {
        byte[] bytes = Files.readAllBytes(weights);
        long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        return new String(bytes, 8, (int) n, StandardCharsets.UTF_8).trim();
    }

    /** The corrupt and unsupported folders, by what is wrong, with a phrase the message must contain. */
    static Map<String, String[]> brokenFolders() throws IOException {
        Map<String, String[]> cases = new LinkedHashMap<>();
        Path p = copy("truncated");
        try (FileChannel ch = FileChannel.open(p.resolve("model.safetensors"), StandardOpenOption.WRITE)) {
            ch.truncate(5);
        }
        cases.put("truncated safetensors", new String[] {p.toString(), "too short"});

        p = copy("header-past-end");
        byte[] b = Files.readAllBytes(p.resolve("model.safetensors"));
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1L << 40);
        Files.write(p.resolve("model.safetensors"), b);
        cases.put("header past the end", new String[] {p.toString(), "exceeds the file size"});

        p = copy("bad-header-json");
        rewriteHeader(p.resolve("model.safetensors"), "{\"transformer.wte.weight\": {\"dtype\": ");
        cases.put("invalid header JSON", new String[] {p.toString(), "not valid JSON"});

        p = copy("offsets-past-end");
        try (FileChannel ch = FileChannel.open(p.resolve("model.safetensors"), StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() - 16);
        }
        cases.put("offsets past the end", new String[] {p.toString(), "outside the data section"});

        p = copy("unreadable-dtype");
        String h = header(p.resolve("model.safetensors"));
        rewriteHeader(p.resolve("model.safetensors"), h.replaceFirst("\"F32\"", "\"F8_E4M3\""));
        cases.put("unreadable dtype", new String[] {p.toString(), "F8_E4M3"});

        p = copy("invalid-config");
        Files.writeString(p.resolve("config.json"), "{\"model_type\": \"gpt2\", ");
        cases.put("invalid config.json", new String[] {p.toString(), "config.json"});

        p = copy("unsupported-config");
        Files.writeString(p.resolve("config.json"), Files.readString(p.resolve("config.json"))
                .replace("\"gpt2\"", "\"bert\""));
        cases.put("unsupported config.json", new String[] {p.toString(), "unsupported model_type 'bert'"});

        p = copy("widths-disagree");
        Files.writeString(p.resolve("config.json"), Files.readString(p.resolve("config.json"))
                .replaceFirst("\"n_embd\": 64", "\"n_embd\": 32"));
        cases.put("config widths disagree with the weights", new String[] {p.toString(), "config.json implies"});
        return cases;
    }

    @Test
    void everyCommandExitsWithTwoOnEveryBrokenModelFolder() throws IOException {
        List<String> failures = new ArrayList<>();
        int tried = 0;
        for (Map.Entry<String, String[]> c : brokenFolders().entrySet()) {
            String folder = c.getValue()[0];
            String phrase = c.getValue()[1];
            List<String[]> commands = List.of(
                    new String[] {"model", "info", folder},
                    new String[] {"model", "generate", folder, "--prompt", "hi", "--max-new-tokens", "2"},
                    new String[] {"model", "score", folder, "--ids", "1,2,3"},
                    new String[] {"eval", folder, "--data", dir.resolve("data.jsonl").toString(), "--metrics", "lm-loss",
                        "--tokenizer", good.toString(), "--out", dir.resolve("eval.json").toString()},
                    new String[] {"serve", folder, "--port", "0"},
                    new String[] {"teacher", "cache", folder, "--data", dir.resolve("data.jsonl").toString(),
                        "--tokenizer-dir", good.toString(), "--out", dir.resolve("cache.bin").toString()});
            for (String[] cmd : commands) {
                tried++;
                Result r = distill(cmd);
                String what = c.getKey() + ": distill " + String.join(" ", cmd);
                if (r.exit() != ExitCodes.INVALID) {
                    failures.add(what + " exited " + r.exit() + ": " + r.err());
                } else if (!r.err().startsWith("error: ") || !r.err().contains(phrase)
                        || !r.err().contains(Path.of(folder).getFileName().toString())) {
                    failures.add(what + ": the message does not name the file and the problem ('" + phrase + "'): "
                            + r.err());
                } else if (r.err().contains("\tat ") || r.err().contains("Exception:")) {
                    failures.add(what + ": printed a stack trace or an exception class: " + r.err());
                }
            }
        }
        assertEquals(48, tried);
        assertFalse(Files.exists(dir.resolve("cache.bin")) || Files.exists(dir.resolve("eval.json")), "nothing written");
        assertTrue(failures.isEmpty(), failures.size() + " of " + tried + " failed:\n" + String.join("\n", failures));
    }

    @Test
    void teacherCacheRefusesAnUnknownValueTypeBeforeLoadingTheTeacher() {
        Result r = distill("teacher", "cache", good.toString(), "--data", dir.resolve("data.jsonl").toString(),
                "--dtype", "q3", "--out", dir.resolve("cache.bin").toString());
        assertEquals(ExitCodes.INVALID, r.exit(), r.err());
        assertTrue(r.err().contains("--dtype: unknown value type (got \"q3\"; accepted: auto, q8, q4, fp16, fp32)"),
                r.err());
        assertFalse(Files.exists(dir.resolve("cache.bin")), "nothing written");
    }

    @Test
    void initExitsWithTwoOnConfigsItCannotBuild() throws IOException {
        Result unknown = distill("model", "init", "bert", dir.resolve("x").toString());
        assertEquals(2, unknown.exit(), unknown.err());
        assertTrue(unknown.err().contains("unknown architecture"), unknown.err());
        Result widths = distill("model", "init", "llama", dir.resolve("y").toString(), "--set", "hidden_size=30");
        assertEquals(2, widths.exit(), widths.err());
        assertTrue(widths.err().contains("not divisible"), widths.err());
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        Result notAFolder = distill("model", "init", "gpt2", file.toString());
        assertEquals(2, notAFolder.exit(), notAFolder.err());
        assertTrue(notAFolder.err().contains("not a folder"), notAFolder.err());
        assertFalse(Files.exists(dir.resolve("x")) || Files.exists(dir.resolve("y")), "nothing written");
    }
}

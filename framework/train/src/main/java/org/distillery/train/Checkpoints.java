package org.distillery.train;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.InvalidFileException;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.run.RunContext;
import org.distillery.api.sampler.Sampler;
import org.distillery.api.teacher.Teacher;
import org.distillery.kit.io.AtomicFiles;
import org.distillery.kit.optim.AdamW;

/**
 * The checkpoint protocol of a {@code train.kd} stage, in {@code stages/<stage>/checkpoints/}.
 *
 * <p><b>Saving</b> step N, in this order:
 * <ol>
 *   <li>fill the staging folder {@code .step-N.tmp}: {@code model/} (the student), {@code optimizer.bin},
 *       {@code term-<i>.bin} (learned loss parameters and their optimizer), {@code teacher/},
 *       {@code sampler/}, {@code state.json} (step, sampler position, best score, last loss);</li>
 *   <li>{@code manifest.json}: the size and CRC-32C of every file in it;</li>
 *   <li>rename the folder to {@code step-N}: from here the checkpoint exists, whole;</li>
 *   <li>point {@code latest} at it (an atomic file write);</li>
 *   <li>remove checkpoints beyond {@code keep-checkpoints}: each is first renamed to a hidden
 *       {@code .deleting-step-M}, so a crash in the middle of a deletion leaves no half checkpoint
 *       under a checkpoint's name; hidden leftovers of earlier crashes go too.</li>
 * </ol>
 * A crash anywhere leaves the previous checkpoints as they were; a failed write (a full disk)
 * removes the staging folder and reports the file.
 *
 * <p><b>Resuming</b> uses the newest {@code step-*} that matches its manifest ({@code latest} names
 * it unless a crash came between the rename and the pointer). A truncated, bit-flipped or
 * incomplete checkpoint is reported ({@code checkpoint-invalid} event), moved aside to
 * {@code corrupt-step-N} and the one before it is used; when none is valid the run fails with
 * {@link InvalidFileException} naming the bad file (exit code 2).
 */
final class Checkpoints {

    /** The file naming the newest checkpoint. */
    static final String LATEST = "latest";
    /** Sizes and checksums of a checkpoint's files. */
    static final String MANIFEST = "manifest.json";
    private static final String PREFIX = "step-";
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues()
            .create();

    /** Points of the protocol a test can stop at (files being written are reached through {@link AtomicFiles}). */
    enum Point {
        /** The staging folder is complete, manifest included; the rename comes next. */
        STAGED,
        /** The checkpoint is renamed into place; {@code latest} is updated next. */
        COMMITTED,
        /** A file of an old checkpoint being removed is about to be deleted. */
        CLEANING
    }

    /** Test hook, called at each {@link Point}; never set in production. */
    @FunctionalInterface
    interface FaultHook {
        /** Called at {@code point} with the folder it concerns. */
        void at(Point point, Path path) throws IOException;
    }

    private static volatile FaultHook faultHook;

    /** What a checkpoint saves and restores. */
    record Parts(LanguageModel student, Teacher teacher, AdamW optimizer, Sampler sampler, List<LossTerm> terms,
                 TrainSettings settings) {
    }

    private final RunContext run;
    private final Path dir;
    private final String stage;

    /** The checkpoints of {@code stage}, in {@code stageDir/checkpoints}. */
    Checkpoints(RunContext run, Path stageDir, String stage) {
        this.run = run;
        this.dir = stageDir.resolve("checkpoints");
        this.stage = stage;
    }

    /** Sets (or with {@code null} clears) the test-only fault hook. */
    static void faultHook(FaultHook hook) {
        faultHook = hook;
    }

    private static void at(Point point, Path path) throws IOException {
        FaultHook h = faultHook;
        if (h != null) {
            h.at(point, path);
        }
    }

    /** The checkpoints folder. */
    Path dir() {
        return dir;
    }

    /** The name of step {@code step}'s checkpoint. */
    static String name(long step) {
        return String.format("%s%08d", PREFIX, step);
    }

    /** Saves the state after {@code progress.step} steps; returns the checkpoint's folder. */
    Path save(Parts parts, StageProgress progress) throws IOException {
        String name = name(progress.step);
        Path target = dir.resolve(name);
        Path staging = AtomicFiles.staging(target);
        try {
            run.models().save(parts.student(), staging.resolve("model"), DataType.FLOAT32);
            AtomicFiles.write(staging.resolve("optimizer.bin"), parts.optimizer()::save);
            for (LossTerm t : parts.terms()) {
                if (t.optimizer != null && t.optimizerOf == t.loss) {
                    AtomicFiles.write(staging.resolve("term-" + t.index + ".bin"), out -> {
                        NDList params = new NDList();
                        t.namedParameters().forEach((n, a) -> {
                            a.setName(n);
                            params.add(a);
                        });
                        params.encode(out);
                        t.optimizer.save(out);
                    });
                }
            }
            if (parts.teacher() != null) {
                parts.teacher().saveState(staging.resolve("teacher"));
            }
            parts.sampler().saveState(staging.resolve("sampler"));
            JsonObject state = new JsonObject();
            state.addProperty("step", progress.step);
            state.addProperty("sampler", parts.sampler().position());
            state.addProperty("best-score", progress.bestScore);
            state.addProperty("best-step", progress.bestStep);
            state.addProperty("since-best", progress.sinceBest);
            state.addProperty("last-loss", progress.lastLoss);
            AtomicFiles.writeString(staging.resolve("state.json"), GSON.toJson(state));
            AtomicFiles.writeString(staging.resolve(MANIFEST), GSON.toJson(manifest(staging)));
            at(Point.STAGED, staging);
            AtomicFiles.commit(staging, target);
        } catch (IOException | RuntimeException e) {
            try {
                AtomicFiles.deleteTree(staging);
            } catch (IOException ignored) {
                // the staging folder is hidden and replaced by the next attempt
            }
            throw new IOException("cannot write checkpoint " + name + " of stage " + stage + " in " + dir + ": "
                    + e.getMessage() + "; the previous checkpoints are intact", e);
        }
        at(Point.COMMITTED, target);
        AtomicFiles.writeString(dir.resolve(LATEST), name + "\n");
        run.events().event("checkpoint", Map.of("step", progress.step, "path", target.toString()));
        removeOld(parts.settings().keepCheckpoints());
        return target;
    }

    /** The size and CRC-32C of every file under {@code root}, by relative path. */
    private static JsonObject manifest(Path root) throws IOException {
        JsonObject files = new JsonObject();
        for (Map.Entry<String, long[]> e : digest(root).entrySet()) {
            JsonObject f = new JsonObject();
            f.addProperty("bytes", e.getValue()[0]);
            f.addProperty("crc32c", Long.toHexString(e.getValue()[1]));
            files.add(e.getKey(), f);
        }
        JsonObject m = new JsonObject();
        m.addProperty("format", 1);
        m.add("files", files);
        return m;
    }

    private static Map<String, long[]> digest(Path root) throws IOException {
        Map<String, long[]> out = new TreeMap<>();
        List<Path> files;
        try (Stream<Path> s = Files.walk(root)) {
            files = s.filter(Files::isRegularFile).toList();
        }
        for (Path f : files) {
            String rel = root.relativize(f).toString().replace('\\', '/');
            if (!rel.equals(MANIFEST)) {
                out.put(rel, new long[] {Files.size(f), crc32c(f)});
            }
        }
        return out;
    }

    private static long crc32c(Path file) throws IOException {
        CRC32C crc = new CRC32C();
        ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            while (ch.read(buf) >= 0) {
                buf.flip();
                crc.update(buf);
                buf.clear();
            }
        }
        return crc.getValue();
    }

    /** Removes all but the newest {@code keep} checkpoints; a failure here costs disk space, not the run. */
    private void removeOld(int keep) {
        try {
            List<Path> all = list();
            for (int i = 0; i < all.size() - keep; i++) {
                Path old = all.get(i);
                Path doomed = old.resolveSibling(".deleting-" + old.getFileName());
                AtomicFiles.deleteTree(doomed);
                Files.move(old, doomed, StandardCopyOption.ATOMIC_MOVE);
                deleteTree(doomed);
            }
            // what crashes left behind: half-deleted checkpoints, staging folders, a pointer's temporary file
            // (only this stage writes here, and the checkpoint just written is in place)
            try (Stream<Path> s = Files.list(dir)) {
                for (Path p : (Iterable<Path>) s.filter(p -> p.getFileName().toString().startsWith("."))::iterator) {
                    deleteTree(p);
                }
            }
        } catch (IOException e) {
            run.events().event("checkpoint-cleanup-failed", Map.of("dir", dir.toString(), "error", e.toString()));
        }
    }

    private static void deleteTree(Path root) throws IOException {
        List<Path> paths;
        try (Stream<Path> s = Files.walk(root)) {
            paths = s.sorted(Comparator.reverseOrder()).toList();
        }
        for (Path p : paths) {
            if (Files.isRegularFile(p)) {
                at(Point.CLEANING, p);
            }
            Files.deleteIfExists(p);
        }
    }

    /** The complete checkpoints ({@code step-*} folders), oldest first. */
    List<Path> list() throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith(PREFIX) && Files.isDirectory(p)).sorted().toList();
        }
    }

    /**
     * The newest checkpoint that matches its manifest, if any. Invalid ones found on the way are
     * reported and moved aside to {@code corrupt-step-N}; when checkpoints exist but none is
     * valid, throws {@link InvalidFileException} naming the newest one's bad file.
     */
    Optional<Path> latestValid() throws IOException {
        List<Path> all = new ArrayList<>(list());
        if (all.isEmpty()) {
            return Optional.empty();
        }
        List<Path> newestFirst = new ArrayList<>(all);
        newestFirst.sort(Comparator.reverseOrder());
        Map<Path, String> invalid = new LinkedHashMap<>();
        Path valid = null;
        for (Path c : newestFirst) {
            Optional<String> problem = problem(c);
            if (problem.isEmpty()) {
                valid = c;
                break;
            }
            invalid.put(c, problem.get());
        }
        if (valid == null) {
            Map.Entry<Path, String> newest = invalid.entrySet().iterator().next();
            throw new InvalidFileException(newest.getKey(), newest.getValue() + "; none of the " + all.size()
                    + " checkpoint(s) of stage " + stage + " in " + dir + " is valid (" + String.join(", ",
                    invalid.keySet().stream().map(p -> p.getFileName().toString()).toList())
                    + "); restore them or remove them to start the stage again");
        }
        for (Map.Entry<Path, String> e : invalid.entrySet()) {
            Path aside = aside(e.getKey());
            Files.move(e.getKey(), aside, StandardCopyOption.ATOMIC_MOVE);
            Map<String, Object> fields = new LinkedHashMap<>();
            fields.put("stage", stage);
            fields.put("checkpoint", e.getKey().getFileName().toString());
            fields.put("problem", e.getValue());
            fields.put("moved-to", aside.getFileName().toString());
            fields.put("using", valid.getFileName().toString());
            run.events().event("checkpoint-invalid", fields);
        }
        return Optional.of(valid);
    }

    private static Path aside(Path checkpoint) {
        Path aside = checkpoint.resolveSibling("corrupt-" + checkpoint.getFileName());
        for (int i = 2; Files.exists(aside); i++) {
            aside = checkpoint.resolveSibling("corrupt-" + checkpoint.getFileName() + "-" + i);
        }
        return aside;
    }

    /** What is wrong with checkpoint folder {@code c}, or empty when it matches its manifest. */
    static Optional<String> problem(Path c) throws IOException {
        Path manifestFile = c.resolve(MANIFEST);
        if (!Files.isRegularFile(manifestFile)) {
            // written before checkpoints carried checksums: only its completeness can be checked
            return Files.isRegularFile(c.resolve("state.json")) && Files.isRegularFile(c.resolve("optimizer.bin"))
                    ? Optional.empty() : Optional.of("no " + MANIFEST + " and incomplete (state.json or optimizer.bin "
                    + "missing)");
        }
        JsonObject files;
        try {
            files = GSON.fromJson(Files.readString(manifestFile), JsonObject.class).getAsJsonObject("files");
        } catch (JsonParseException | IllegalStateException | ClassCastException | NullPointerException
                 | java.nio.charset.MalformedInputException e) {
            return Optional.of(MANIFEST + " is unreadable (" + e.getMessage() + ")");
        }
        if (files == null || files.size() == 0) {
            return Optional.of(MANIFEST + " lists no files");
        }
        for (Map.Entry<String, JsonElement> e : files.entrySet()) {
            Path f = c.resolve(e.getKey());
            if (!Files.isRegularFile(f)) {
                return Optional.of(e.getKey() + " is missing");
            }
            long bytes;
            String wantCrc;
            try {
                JsonObject want = e.getValue().getAsJsonObject();
                bytes = want.get("bytes").getAsLong();
                wantCrc = want.get("crc32c").getAsString();
            } catch (RuntimeException ex) {
                return Optional.of(MANIFEST + " entry " + e.getKey() + " is unreadable");
            }
            long size = Files.size(f);
            if (size != bytes) {
                return Optional.of(e.getKey() + " has " + size + " bytes, the manifest says " + bytes
                        + (size < bytes ? " (truncated)" : ""));
            }
            String crc = Long.toHexString(crc32c(f));
            if (!crc.equals(wantCrc)) {
                return Optional.of(e.getKey() + " does not match its checksum (CRC-32C " + crc + ", the manifest says "
                        + wantCrc + "): the file changed after it was written");
            }
        }
        return Optional.empty();
    }

    /** Loads checkpoint {@code ckpt} (verified by {@link #latestValid}) into {@code parts}; returns where it was. */
    StageProgress restore(Path ckpt, Parts parts) throws IOException {
        JsonObject state;
        try {
            state = GSON.fromJson(Files.readString(ckpt.resolve("state.json")), JsonObject.class);
        } catch (NoSuchFileException e) {
            throw new InvalidFileException(ckpt, "no state.json");
        } catch (JsonParseException e) {
            throw new InvalidFileException(ckpt.resolve("state.json"), "not valid JSON: " + e.getMessage(), e);
        }
        try (NDManager scratch = run.manager().newSubManager();
             LanguageModel saved = run.models().load(ckpt.resolve("model"), DataType.FLOAT32, scratch)) {
            Map<String, NDArray> from = saved.parameters();
            for (Map.Entry<String, NDArray> e : parts.student().parameters().entrySet()) {
                NDArray src = from.get(e.getKey());
                if (src == null) {
                    throw new InvalidFileException(ckpt, "the checkpoint lacks parameter " + e.getKey());
                }
                e.getValue().set(src.toByteBuffer());
            }
        }
        try (InputStream in = Files.newInputStream(ckpt.resolve("optimizer.bin"))) {
            parts.optimizer().load(in);
        }
        if (parts.teacher() != null) {
            parts.teacher().restoreState(ckpt.resolve("teacher"));
        }
        parts.sampler().restoreState(ckpt.resolve("sampler"));
        parts.sampler().seek(state.get("sampler").getAsString());
        for (LossTerm t : parts.terms()) {
            Path termFile = ckpt.resolve("term-" + t.index + ".bin");
            if (Files.exists(termFile)) {
                restoreTerm(t, termFile, parts.settings());
            }
        }
        StageProgress p = new StageProgress();
        p.stage = stage;
        p.step = state.get("step").getAsLong();
        p.bestScore = state.get("best-score").getAsDouble();
        p.bestStep = state.get("best-step").getAsLong();
        p.sinceBest = state.get("since-best").getAsInt();
        p.lastLoss = state.get("last-loss").getAsDouble();
        return p;
    }

    /** Restores a loss term's learned parameters and their optimizer, if the term's loss has the same parameters. */
    private void restoreTerm(LossTerm t, Path file, TrainSettings s) throws IOException {
        Map<String, NDArray> named = t.namedParameters();
        if (named.isEmpty()) {
            throw new IOException(file + ": the checkpoint has learned parameters for loss term " + t.index + " ("
                    + t.key + "), but the loss has none yet; it must create them in LossFactory.create to resume exactly");
        }
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file));
             NDManager scratch = run.manager().newSubManager()) {
            NDList saved = NDList.decode(scratch, in);
            for (NDArray a : saved) {
                NDArray target = named.get(a.getName());
                if (target == null || !target.getShape().equals(a.getShape())) {
                    throw new IOException(file + ": parameter " + a.getName() + " does not match loss term " + t.index);
                }
                target.set(a.toByteBuffer());
            }
            t.optimizer = new AdamW(named, s.beta1(), s.beta2(), s.eps(), s.weightDecay(), run.manager());
            t.optimizerOf = t.loss;
            t.optimizer.load(in);
        }
    }
}

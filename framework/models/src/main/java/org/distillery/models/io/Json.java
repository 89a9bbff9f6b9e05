package org.distillery.models.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.ToNumberPolicy;
import com.google.gson.reflect.TypeToken;

import org.distillery.api.InvalidFileException;
import org.distillery.kit.io.AtomicFiles;

/** JSON reading and atomic writing of the small files of a model folder. */
public final class Json {

    /** Gson that parses integers as {@link Long} and other numbers as {@link Double}. */
    public static final Gson GSON = new GsonBuilder()
            .setObjectToNumberStrategy(ToNumberPolicy.LONG_OR_DOUBLE)
            .serializeNulls()
            .setPrettyPrinting()
            .disableHtmlEscaping()
            .create();

    /** Largest JSON file accepted (config, index, tokenizer config). */
    public static final long MAX_JSON_BYTES = 512L * 1024 * 1024;

    private Json() {
    }

    /** Parses {@code file} as a JSON object, failing with a message that names the file. */
    public static JsonObject readObject(Path file) throws IOException {
        String text = readText(file);
        try {
            JsonElement el = JsonParser.parseString(text);
            if (!el.isJsonObject()) {
                throw new InvalidFileException(file, "expected a JSON object at the top level");
            }
            return el.getAsJsonObject();
        } catch (JsonParseException | IllegalStateException e) {
            throw new InvalidFileException(file, "not valid JSON: " + rootMessage(e), e);
        }
    }

    /** Parses {@code file} as a JSON object into plain Java values (Long, Double, String, Boolean, List, Map). */
    public static Map<String, Object> readMap(Path file) throws IOException {
        JsonObject obj = readObject(file);
        Map<String, Object> map = GSON.fromJson(obj, new TypeToken<LinkedHashMap<String, Object>>() { }.getType());
        return map == null ? new LinkedHashMap<>() : map;
    }

    /** Reads a whole text file, refusing files larger than {@link #MAX_JSON_BYTES}. */
    public static String readText(Path file) throws IOException {
        long size;
        try {
            size = Files.size(file);
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(file.toString(), null, "file not found");
        }
        if (size > MAX_JSON_BYTES) {
            throw new InvalidFileException(file, size + " bytes is larger than the " + MAX_JSON_BYTES
                    + " bytes accepted for a JSON file");
        }
        return Files.readString(file, StandardCharsets.UTF_8);
    }

    /** Writes {@code value} as pretty JSON to {@code file} through a temp file and an atomic rename. */
    public static void writeAtomic(Path file, Object value) throws IOException {
        byte[] bytes = (GSON.toJson(value) + "\n").getBytes(StandardCharsets.UTF_8);
        writeAtomic(file, ByteBuffer.wrap(bytes));
    }

    /** Writes {@code bytes} to {@code file} through a temp file in the same folder and an atomic rename. */
    public static void writeAtomic(Path file, ByteBuffer bytes) throws IOException {
        AtomicFiles.writeChannel(file, ch -> AtomicFiles.writeFully(ch, bytes));
    }

    /** Renames {@code tmp} onto {@code target}, atomically where the file system allows. */
    public static void moveAtomic(Path tmp, Path target) throws IOException {
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    static String rootMessage(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null && c.getCause() != c) {
            c = c.getCause();
        }
        return c.getMessage() == null ? c.toString() : c.getMessage();
    }
}

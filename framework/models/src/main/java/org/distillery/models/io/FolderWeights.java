package org.distillery.models.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.InvalidFileException;
import org.distillery.api.model.TensorInfo;
import org.distillery.api.model.WeightReader;

/**
 * The safetensors weights of a Hugging Face model folder: {@code model.safetensors}, or the shards a
 * {@code model.safetensors.index.json} lists. Every file is opened and validated by
 * {@link SafeTensors.Reader}; tensors are then read one at a time, each mapping released at once.
 */
public final class FolderWeights implements WeightReader {

    /** Single-file weights. */
    public static final String WEIGHTS = "model.safetensors";
    /** Sharded weights index. */
    public static final String INDEX = "model.safetensors.index.json";

    /**
     * Where one tensor is stored.
     *
     * @param reader the file
     * @param entry its header entry
     */
    public record Located(SafeTensors.Reader reader, SafeTensors.Entry entry) {
    }

    private final Path dir;
    private final Path source;
    private final List<SafeTensors.Reader> readers;
    private final Map<String, Located> located;
    private final Map<String, TensorInfo> tensors;

    private FolderWeights(Path dir, Path source, List<SafeTensors.Reader> readers, Map<String, Located> located) {
        this.dir = dir;
        this.source = source;
        this.readers = readers;
        this.located = Collections.unmodifiableMap(located);
        Map<String, TensorInfo> infos = new LinkedHashMap<>();
        located.forEach((name, l) -> infos.put(name, new TensorInfo(name, l.entry().dataType(),
                new Shape(l.entry().shape()))));
        this.tensors = Collections.unmodifiableMap(infos);
    }

    /**
     * Opens the weights of {@code dir}; fails naming the file when there are none, the index is
     * malformed, a shard is missing or lacks a tensor the index places in it, or a tensor is stored twice.
     */
    public static FolderWeights open(Path dir) throws IOException {
        Path single = dir.resolve(WEIGHTS);
        Path index = dir.resolve(INDEX);
        List<SafeTensors.Reader> readers = new ArrayList<>();
        boolean ok = false;
        try {
            Map<String, Located> located = new LinkedHashMap<>();
            Path source;
            if (Files.exists(single)) {
                source = single;
                SafeTensors.Reader r = SafeTensors.Reader.open(single);
                readers.add(r);
                r.entries().values().forEach(e -> located.put(e.name(), new Located(r, e)));
            } else if (Files.exists(index)) {
                source = index;
                for (Map.Entry<String, List<String>> e : shards(index).entrySet()) {
                    Path shard = dir.resolve(e.getKey());
                    if (!Files.exists(shard)) {
                        throw new InvalidFileException(index, "shard '" + e.getKey() + "' listed for tensor '"
                                + e.getValue().get(0) + "' does not exist");
                    }
                    SafeTensors.Reader r = SafeTensors.Reader.open(shard);
                    readers.add(r);
                    for (String name : e.getValue()) {
                        SafeTensors.Entry en = r.entries().get(name);
                        if (en == null) {
                            throw new InvalidFileException(shard, "has no tensor '" + name + "' although " + INDEX
                                    + " lists it there");
                        }
                        located.put(name, new Located(r, en));
                    }
                }
            } else {
                throw new InvalidFileException(dir, "no " + WEIGHTS + " or " + INDEX
                        + " in the model folder (only safetensors weights are supported)");
            }
            FolderWeights w = new FolderWeights(dir, source, readers, located);
            ok = true;
            return w;
        } finally {
            if (!ok) {
                for (SafeTensors.Reader r : readers) {
                    r.close();
                }
            }
        }
    }

    /** The index's tensors grouped by shard file, shards in name order; every file name checked. */
    private static Map<String, List<String>> shards(Path index) throws IOException {
        JsonObject idx = Json.readObject(index);
        JsonElement wm = idx.get("weight_map");
        if (wm == null || !wm.isJsonObject()) {
            throw new InvalidFileException(index, "missing \"weight_map\" object");
        }
        Map<String, List<String>> byFile = new TreeMap<>();
        for (Map.Entry<String, JsonElement> e : wm.getAsJsonObject().entrySet()) {
            JsonElement f = e.getValue();
            if (!f.isJsonPrimitive() || !f.getAsJsonPrimitive().isString()) {
                throw new InvalidFileException(index, "weight_map entry '" + e.getKey() + "' is not a file name");
            }
            String file = f.getAsString();
            if (file.isEmpty() || file.contains("/") || file.contains("\\") || file.startsWith(".")) {
                throw new InvalidFileException(index, "weight_map entry '" + e.getKey() + "' names '" + file
                        + "', which is not a plain file name in the model folder");
            }
            byFile.computeIfAbsent(file, k -> new ArrayList<>()).add(e.getKey());
        }
        return byFile;
    }

    /** {@code model.safetensors}, or the index of a sharded folder. */
    public Path source() {
        return source;
    }

    /** Where each tensor is stored, by name. */
    public Map<String, Located> located() {
        return located;
    }

    @Override
    public Path dir() {
        return dir;
    }

    @Override
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    @Override
    public NDArray read(String name, NDManager manager, DataType type) throws IOException {
        Located l = find(name);
        return l.reader().read(name, manager, type);
    }

    @Override
    public ByteBuffer bytes(String name) throws IOException {
        return find(name).reader().bytes(name);
    }

    private Located find(String name) throws IOException {
        Located l = located.get(name);
        if (l == null) {
            throw new InvalidFileException(source, "no tensor '" + name + "'");
        }
        return l;
    }

    @Override
    public void close() throws IOException {
        IOException first = null;
        for (SafeTensors.Reader r : readers) {
            try {
                r.close();
            } catch (IOException e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }
}

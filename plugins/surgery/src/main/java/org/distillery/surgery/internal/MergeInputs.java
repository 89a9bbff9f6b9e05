package org.distillery.surgery.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.merge.MergeContext;
import org.distillery.api.model.ModelService;
import org.distillery.api.model.TensorInfo;
import org.distillery.api.model.WeightReader;

/**
 * The input folders of a merge, opened and checked before anything is written: each is a Hugging Face
 * folder with {@code config.json} and safetensors weights; all have the first one's {@code model_type}
 * and exactly its tensors, each with the same shape, floating point where the first's is. A mismatch is
 * an {@link InvalidConfigException} at the folder's place in the list, naming the tensor and both shapes.
 * Tensors are then read one at a time ({@link #read}), never a whole model.
 */
final class MergeInputs implements AutoCloseable {

    private final List<Path> dirs;
    private final List<WeightReader> readers;
    private final String modelType;

    private MergeInputs(List<Path> dirs, List<WeightReader> readers, String modelType) {
        this.dirs = dirs;
        this.readers = readers;
        this.modelType = modelType;
    }

    /**
     * Opens and checks the context's models.
     *
     * @param minModels fewest models the merger accepts
     * @param maxModels most models the merger accepts
     */
    static MergeInputs open(MergeContext context, int minModels, int maxModels) throws IOException {
        List<Path> dirs = context.models();
        String where = context.modelsPath();
        if (dirs.size() < minModels || dirs.size() > maxModels) {
            String accepted = minModels == maxModels ? "exactly " + minModels + " model folders"
                    : maxModels == Integer.MAX_VALUE ? "at least " + minModels + " model folders"
                    : minModels + " to " + maxModels + " model folders";
            throw new InvalidConfigException(where, "wrong number of models for this merge", String.valueOf(dirs.size()),
                    accepted);
        }
        ModelService models = context.resources().models();
        List<WeightReader> readers = new ArrayList<>();
        boolean ok = false;
        try {
            String firstType = null;
            for (int i = 0; i < dirs.size(); i++) {
                Path dir = dirs.get(i);
                String at = where + "[" + i + "]";
                String type = modelType(dir, at);
                if (firstType == null) {
                    firstType = type;
                } else if (!type.equals(firstType)) {
                    throw new InvalidConfigException(at, "is a " + type + " model but " + dirs.get(0) + " is a "
                            + firstType + " model; merging needs models of one architecture", dir.toString(),
                            "folders of " + firstType + " models with the same shapes");
                }
                WeightReader r;
                try {
                    r = models.openWeights(dir);
                } catch (IOException e) {
                    throw new InvalidConfigException(at, "cannot read the weights: " + e.getMessage(), dir.toString(),
                            "a folder with model.safetensors or model.safetensors.index.json");
                }
                readers.add(r);
                if (i > 0) {
                    compare(readers.get(0), dirs.get(0), r, dir, at);
                }
            }
            MergeInputs in = new MergeInputs(List.copyOf(dirs), List.copyOf(readers), firstType);
            ok = true;
            return in;
        } finally {
            if (!ok) {
                for (WeightReader r : readers) {
                    r.close();
                }
            }
        }
    }

    private static String modelType(Path dir, String at) throws IOException {
        Path config = dir.resolve("config.json");
        if (!Files.isRegularFile(config)) {
            throw new InvalidConfigException(at, "is not a Hugging Face model folder (no config.json)", dir.toString(),
                    "a folder with config.json and safetensors weights");
        }
        try {
            JsonElement root = JsonParser.parseString(Files.readString(config));
            JsonElement type = root.isJsonObject() ? ((JsonObject) root).get("model_type") : null;
            if (type == null || !type.isJsonPrimitive()) {
                throw new InvalidConfigException(at, config + " has no model_type", dir.toString(),
                        "a Hugging Face config.json");
            }
            return type.getAsString();
        } catch (JsonParseException e) {
            throw new InvalidConfigException(at, config + " is not valid JSON: " + e.getMessage(), dir.toString(),
                    "a Hugging Face config.json");
        }
    }

    private static void compare(WeightReader first, Path firstDir, WeightReader other, Path dir, String at) {
        Map<String, TensorInfo> a = first.tensors();
        Map<String, TensorInfo> b = other.tensors();
        for (TensorInfo t : a.values()) {
            TensorInfo u = b.get(t.name());
            if (u == null) {
                throw new InvalidConfigException(at, "has no tensor '" + t.name() + "' (shape "
                        + Arrays.toString(t.shape().getShape()) + " in " + firstDir + ")", dir.toString(),
                        "models of one architecture with the same tensors");
            }
            if (!u.shape().equals(t.shape())) {
                throw new InvalidConfigException(at, "tensor '" + t.name() + "' has shape "
                        + Arrays.toString(u.shape().getShape()) + " in " + dir + " but "
                        + Arrays.toString(t.shape().getShape()) + " in " + firstDir, dir.toString(),
                        "models of one architecture with the same shapes");
            }
            if (u.dataType().isFloating() != t.dataType().isFloating()) {
                throw new InvalidConfigException(at, "tensor '" + t.name() + "' is " + u.dataType() + " in " + dir
                        + " but " + t.dataType() + " in " + firstDir, dir.toString(),
                        "floating-point parameters where the first model has them");
            }
        }
        for (String name : b.keySet()) {
            if (!a.containsKey(name)) {
                throw new InvalidConfigException(at, "has tensor '" + name + "' (shape "
                        + Arrays.toString(b.get(name).shape().getShape()) + "), which " + firstDir + " lacks",
                        dir.toString(), "models of one architecture with the same tensors");
            }
        }
    }

    /** The input folders, in order. */
    List<Path> dirs() {
        return dirs;
    }

    /** How many models. */
    int size() {
        return dirs.size();
    }

    /** The architecture, {@code model_type}. */
    String modelType() {
        return modelType;
    }

    /** The first model's tensors, in its file order: the output's names, types and shapes. */
    List<TensorInfo> tensors() {
        return List.copyOf(readers.get(0).tensors().values());
    }

    /** One tensor of model {@code model}, as float32 in {@code manager}. */
    NDArray read(int model, String name, NDManager manager) throws IOException {
        return readers.get(model).read(name, manager, DataType.FLOAT32);
    }

    /** The first model's stored bytes of a tensor (integer buffers are copied from it). */
    java.nio.ByteBuffer firstBytes(String name) throws IOException {
        return readers.get(0).bytes(name);
    }

    @Override
    public void close() throws IOException {
        IOException first = null;
        for (WeightReader r : readers) {
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

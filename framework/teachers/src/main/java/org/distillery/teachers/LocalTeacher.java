package org.distillery.teachers;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.teacher.Teacher;
import org.distillery.api.teacher.TeacherContext;
import org.distillery.api.teacher.TeacherFactory;
import org.distillery.api.teacher.TeacherOutput;
import org.distillery.kit.teacher.ModelTeacher;

/**
 * {@code teacher.local}: a Hugging Face model folder loaded in-process, scored without gradients.
 * {@code dtype} selects the precision its weights are held in:
 * <ul>
 *   <li>{@code auto} (the default): as stored: float32 weights in float32, float16 in float16, and
 *       bfloat16 in float16 (DJL's PyTorch engine, on CPU and GPU alike, has no bfloat16 arrays: its
 *       native layer maps float32, float64 and float16 only; every bfloat16 value within float16's
 *       range, 2^-14 to 65504 in magnitude, converts exactly);</li>
 *   <li>{@code float32} or {@code float16}: converted tensor by tensor while loading (a tensor beyond
 *       float16's range is an error naming it); no float32 copy of the model exists in float16;</li>
 *   <li>{@code bfloat16}: refused with that reason.</li>
 * </ul>
 * {@code compute-dtype} selects what the matrix products run in: {@code auto} runs half weights in
 * float16 on a GPU and in float32 on a CPU, where PyTorch's float16 matrix products are far slower on
 * CPUs without float16 arithmetic ({@code distill bench forward --part teacher} times both); in
 * float32 each weight is widened for the one operation that uses it, inside the forward pass, so the
 * model stays resident in float16. In float16 compute the model still takes RMS norms, attention and
 * router softmaxes and the final logits in float32. This teacher hands losses float32 hidden states,
 * so losses see float32 whatever the teacher holds.
 */
public final class LocalTeacher extends ModelTeacher {

    /** Registry key. */
    public static final String KEY = "teacher.local";

    private final DataType dtype;
    private final DataType compute;

    LocalTeacher(LanguageModel model, String identity, DataType dtype, DataType compute) {
        super(model, identity);
        this.dtype = dtype;
        this.compute = compute;
    }

    /** The precision the teacher's weights are held in. */
    public DataType dtype() {
        return dtype;
    }

    /** The precision its matrix products run in. */
    public DataType computeType() {
        return compute;
    }

    @Override
    public TeacherOutput score(TokenBatch batch, boolean hiddenStates, NDManager manager) {
        TeacherOutput out = super.score(batch, hiddenStates, manager);
        if (out.hiddenStates().isEmpty() || compute == DataType.FLOAT32) {
            return out;
        }
        List<NDArray> widened = new ArrayList<>(out.hiddenStates().size());
        for (NDArray h : out.hiddenStates()) {
            if (h.getDataType() == DataType.FLOAT32) {
                widened.add(h);
            } else {
                // h stays with the step: the last one may be the input of the fused logits' head
                NDArray w = h.toType(DataType.FLOAT32, false);
                w.attach(manager);
                widened.add(w);
            }
        }
        return new TeacherOutput(out.logits(), out.topIds(), out.topLogProbs(), out.restLogMass(), widened,
                out.logitSamples());
    }

    /**
     * The precision to hold a teacher stored in {@code stored} in, for a {@code dtype} setting.
     *
     * @throws InvalidConfigException naming {@code where} for an unknown setting or {@code bfloat16}
     */
    static DataType precision(String setting, DataType stored, String where) {
        return switch (setting.trim().toLowerCase(Locale.ROOT)) {
            case "auto" -> stored == DataType.BFLOAT16 ? DataType.FLOAT16
                    : stored == DataType.FLOAT16 || stored == DataType.FLOAT64 ? stored : DataType.FLOAT32;
            case "float32", "fp32" -> DataType.FLOAT32;
            case "float16", "fp16", "half" -> DataType.FLOAT16;
            case "bfloat16", "bf16" -> throw new InvalidConfigException(where, "bfloat16 arrays are not supported by "
                    + "DJL's PyTorch engine (its native layer maps float32, float64 and float16 tensors only, on CPU and "
                    + "GPU)", setting, "auto or float16 (bfloat16 weights convert to float16 exactly within its range), "
                    + "or float32");
            default -> throw new InvalidConfigException(where, "unknown precision", setting,
                    "auto, float32, float16, bfloat16");
        };
    }

    /**
     * What a teacher held in {@code weights} computes in, for a {@code compute-dtype} setting on a GPU
     * or not.
     *
     * @throws InvalidConfigException naming {@code where} for an unknown setting
     */
    static DataType computeType(String setting, DataType weights, boolean gpu, String where) {
        return switch (setting.trim().toLowerCase(Locale.ROOT)) {
            case "auto" -> weights == DataType.FLOAT16 && !gpu ? DataType.FLOAT32 : weights;
            case "float32", "fp32" -> DataType.FLOAT32;
            case "float16", "fp16", "half" -> DataType.FLOAT16;
            default -> throw new InvalidConfigException(where, "unknown precision", setting, "auto, float32, float16");
        };
    }

    /** The factory. */
    public static final class Factory implements TeacherFactory {

        @Override
        public String description() {
            return "a Hugging Face model folder loaded in-process (dtype auto: as stored, bfloat16 as float16)";
        }

        @Override
        public Teacher open(TeacherContext context, Config params) {
            String where = context.paramsPath() + ".model-dir";
            String dir = params.getString("model-dir");
            if (dir.isEmpty()) {
                throw new InvalidConfigException(where, "is required", "\"\"",
                        "a Hugging Face model folder with config.json and model.safetensors");
            }
            String setting = params.getString("dtype");
            String computeSetting = params.getString("compute-dtype");
            try {
                DataType stored = context.resources().models().weightsType(Path.of(dir));
                DataType dtype = precision(setting, stored, context.paramsPath() + ".dtype");
                DataType compute = computeType(computeSetting, dtype, context.resources().tensors().device().isGpu(),
                        context.paramsPath() + ".compute-dtype");
                LanguageModel m = context.resources().models().load(Path.of(dir), dtype, compute,
                        context.resources().manager());
                long bytes = 0;
                for (NDArray p : m.parameters().values()) {
                    bytes += p.size() * p.getDataType().getNumOfBytes();
                }
                Map<String, Object> ev = new LinkedHashMap<>();
                ev.put("model_dir", Path.of(dir).toAbsolutePath().normalize().toString());
                ev.put("stored", name(stored));
                ev.put("dtype", name(dtype));
                ev.put("compute", name(compute));
                ev.put("setting", setting);
                ev.put("compute_setting", computeSetting);
                ev.put("parameter_bytes", bytes);
                context.resources().events().event("teacher-precision", ev);
                return new LocalTeacher(m, "local:" + Path.of(dir).toAbsolutePath().normalize(), dtype, compute);
            } catch (IOException e) {
                throw new InvalidConfigException(where, e.getMessage(), dir, "a loadable Hugging Face model folder");
            }
        }

        private static String name(DataType t) {
            return switch (t) {
                case FLOAT16 -> "float16";
                case BFLOAT16 -> "bfloat16";
                case FLOAT64 -> "float64";
                default -> "float32";
            };
        }
    }
}

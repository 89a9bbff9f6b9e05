package org.distillery.spark.teacher;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.apache.spark.TaskContext;

import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.models.HfModelService;
import org.distillery.spark.InvalidInputException;
import org.distillery.tensor.DjlTensorService;
import org.distillery.teachers.cache.TeacherIdentity;

/**
 * One teacher per executor JVM, shared by the tasks that run there: a static holder keyed by the
 * model folder and its weights hash (checked against the hash the driver computed, so every
 * executor uses the weights the job was planned with). The teacher lives as long as the JVM;
 * each task gets its own managers from the teacher's, and the weights are read-only in inference.
 *
 * <p>The DJL engine is started here, once per JVM, with the thread context class loader set to
 * the loader of the job's classes: DJL discovers its engine and its native library through that
 * loader, and a Spark task thread's own context loader may not see the job jar. PyTorch's
 * intra-op threads default to the task's CPUs ({@code spark.task.cpus}) unless
 * {@code ai.djl.pytorch.num_threads} is set, and DJL runs offline unless {@code ai.djl.offline}
 * says otherwise.
 */
public final class ExecutorTeachers {

    /**
     * A loaded teacher.
     *
     * @param model the model
     * @param tokenizer its tokenizer
     * @param identity folder and weights hash
     * @param tensors the JVM's tensor service
     * @param manager the model's manager (lives as long as the JVM)
     */
    public record Loaded(LanguageModel model, Tokenizer tokenizer, TeacherIdentity identity, DjlTensorService tensors,
                         NDManager manager) {
    }

    private record Key(String dir, String weightsSha256) {
    }

    private static final Map<Key, Loaded> LOADED = new HashMap<>();
    private static final Map<String, Tokenizer> TOKENIZERS = new HashMap<>();
    private static final HfModelService MODELS = new HfModelService();
    private static DjlTensorService tensors;
    private static String device;

    private ExecutorTeachers() {
    }

    /** The JVM's tensor service, started on first use on {@code deviceSpec}. */
    public static synchronized DjlTensorService tensors(String deviceSpec) {
        if (tensors == null) {
            if (System.getProperty("ai.djl.offline") == null) {
                System.setProperty("ai.djl.offline", "true");
            }
            if (System.getProperty("ai.djl.pytorch.num_threads") == null) {
                TaskContext tc = TaskContext.get();
                System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(tc == null ? 1 : tc.cpus()));
            }
            Thread t = Thread.currentThread();
            ClassLoader before = t.getContextClassLoader();
            t.setContextClassLoader(ExecutorTeachers.class.getClassLoader());
            try {
                tensors = DjlTensorService.start(deviceSpec);
                device = deviceSpec;
            } finally {
                t.setContextClassLoader(before);
            }
        } else if (!device.equals(deviceSpec)) {
            throw new IllegalStateException("this JVM's tensor service runs on " + device + ", not " + deviceSpec);
        }
        return tensors;
    }

    /**
     * The teacher in {@code dir}, loaded once per JVM.
     *
     * @param dir the model folder (the same path on every node)
     * @param weightsSha256 the hash the driver computed; a folder with other weights is refused
     * @param deviceSpec {@code cpu}, {@code auto}, {@code gpu:N}
     */
    public static synchronized Loaded teacher(String dir, String weightsSha256, String deviceSpec) throws IOException {
        Key key = new Key(dir, weightsSha256);
        Loaded l = LOADED.get(key);
        if (l != null) {
            return l;
        }
        TeacherIdentity id = TeacherIdentity.of(Path.of(dir));
        if (!id.weightsSha256().equals(weightsSha256)) {
            throw new InvalidInputException("teacher " + dir + " on this executor has weights " + id.weightsSha256()
                    + ", the driver planned the job with " + weightsSha256
                    + " (the folder must hold the same model on every node)");
        }
        DjlTensorService ts = tensors(deviceSpec);
        NDManager m = ts.newRunScope("spark-teacher");
        Thread t = Thread.currentThread();
        ClassLoader before = t.getContextClassLoader();
        t.setContextClassLoader(ExecutorTeachers.class.getClassLoader());
        try {
            LanguageModel model = MODELS.load(Path.of(dir), DataType.FLOAT32, m);
            l = new Loaded(model, tokenizer(dir), id, ts, m);
        } catch (IOException | RuntimeException e) {
            m.close();
            throw e;
        } finally {
            t.setContextClassLoader(before);
        }
        LOADED.put(key, l);
        return l;
    }

    /** The tokenizer of a folder, loaded once per JVM. */
    public static synchronized Tokenizer tokenizer(String dir) throws IOException {
        Tokenizer tok = TOKENIZERS.get(dir);
        if (tok == null) {
            Thread t = Thread.currentThread();
            ClassLoader before = t.getContextClassLoader();
            t.setContextClassLoader(ExecutorTeachers.class.getClassLoader());
            try {
                tok = MODELS.tokenizer(Path.of(dir));
            } finally {
                t.setContextClassLoader(before);
            }
            TOKENIZERS.put(dir, tok);
        }
        return tok;
    }

    /** The model service (decoding, config reading). */
    public static HfModelService models() {
        return MODELS;
    }
}

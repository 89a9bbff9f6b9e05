package org.distillery.kernel.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueType;

import org.distillery.api.data.DataService;
import org.distillery.api.data.Datasets;
import org.distillery.api.data.Example;
import org.distillery.api.model.ModelConfig;
import org.distillery.api.model.ModelService;
import org.distillery.api.train.Stage;
import org.distillery.api.train.StageSpec;
import org.distillery.models.ModelConfigs;
import org.distillery.models.llava.LlavaConfig;
import org.distillery.train.ResolvedKdStage;

/**
 * Reads an experiment's datasets before its run directory exists, so that a malformed record, or a
 * record whose image is missing, unreadable or not a PNG/JPEG file, fails validation (exit code 2)
 * naming the file and line, with nothing written: the {@code data} block's three files and the
 * {@code file} and {@code extra-files} of every training stage's sampler. References to an earlier
 * stage's data ({@code stage:<name>}) do not exist yet and are read when the stage runs; missing
 * files are the validator's to report.
 *
 * <p>When the records hold images and the teacher or the student is a LLaVA folder, every training
 * stage's {@code train.max-length} must leave room for one image: a sequence shorter than the
 * tokens the tower expands an image to would cut every image record inside its image, which the
 * stage would find only when it encodes its data, after the run directory exists.
 */
public final class DatasetCheck {

    private DatasetCheck() {
    }

    /** The problems found, each {@code <config path>: <file>:<line>: <what is wrong>}. */
    public static List<String> problems(Config experiment, List<Stage> stages, DataService data) {
        return problems(experiment, stages, data, null);
    }

    /**
     * As {@link #problems(Config, List, DataService)}, and with {@code models} the image-room check
     * of image records against the LLaVA tower of the teacher or student folder.
     */
    public static List<String> problems(Config experiment, List<Stage> stages, DataService data, ModelService models) {
        Map<Path, String> files = new LinkedHashMap<>();
        for (String key : List.of("train-file", "validation-file", "test-file")) {
            add(files, experiment.hasPath("data." + key) ? experiment.getString("data." + key) : "", "data." + key);
        }
        for (Stage s : stages) {
            if (s instanceof StageSpec spec) {
                Config own = spec.params();
                if (own.hasPath("file") && own.getValue("file").valueType() == ConfigValueType.STRING) {
                    add(files, own.getString("file"), "method.params (stage " + spec.name() + ").file");
                }
                continue;
            }
            if (!(s instanceof ResolvedKdStage r)) {
                continue;
            }
            Config p = r.sampler().params();
            String where = "train.sampler.params (in stage " + r.name() + ")";
            if (p.hasPath("file") && p.getValue("file").valueType() == ConfigValueType.STRING) {
                add(files, p.getString("file"), where + ".file");
            }
            if (p.hasPath("extra-files") && p.getValue("extra-files").valueType() == ConfigValueType.LIST) {
                for (Object o : p.getList("extra-files").unwrapped()) {
                    if (o instanceof String f) {
                        add(files, f, where + ".extra-files");
                    }
                }
            }
        }
        List<String> problems = new ArrayList<>();
        Path withImages = null;
        for (Map.Entry<Path, String> e : files.entrySet()) {
            try {
                if (data.readJsonl(e.getKey()).stream().anyMatch(Example::hasImage) && withImages == null) {
                    withImages = e.getKey();
                }
            } catch (IOException | RuntimeException bad) {
                problems.add(e.getValue() + ": " + bad.getMessage());
            }
        }
        if (problems.isEmpty() && withImages != null && models != null) {
            problems.addAll(imageRoom(experiment, stages, withImages, models));
        }
        return problems;
    }

    /** Each training stage whose {@code train.max-length} cannot hold one image of its LLaVA tower. */
    private static List<String> imageRoom(Config experiment, List<Stage> stages, Path withImages, ModelService models) {
        List<String> problems = new ArrayList<>();
        List<ResolvedKdStage> training = stages.stream().filter(ResolvedKdStage.class::isInstance)
                .map(ResolvedKdStage.class::cast).toList();
        if (training.isEmpty()) {
            check(experiment, experiment.getInt("train.max-length"), "", withImages, models, problems);
        }
        for (ResolvedKdStage r : training) {
            check(r.experiment(), r.settings().maxLength(), " (in stage " + r.name() + ")", withImages, models, problems);
        }
        return problems.stream().distinct().toList();
    }

    private static void check(Config experiment, int maxLength, String where, Path withImages, ModelService models,
                              List<String> problems) {
        for (String path : List.of("teacher.params.model-dir", "student.model-dir")) {
            if (!experiment.hasPath(path) || experiment.getValue(path).valueType() != ConfigValueType.STRING
                    || experiment.getString(path).isEmpty()) {
                continue;
            }
            Path dir = Path.of(experiment.getString(path));
            int tokens;
            try {
                ModelConfig config = models.readConfig(dir);
                if (!ModelConfigs.isLlava(config)) {
                    continue;
                }
                tokens = LlavaConfig.parse(ModelConfigs.toMap(config)).tokensPerImage();
            } catch (IOException | RuntimeException unreadable) {
                continue; // the model folder check reports it
            }
            if (maxLength <= tokens) {
                problems.add("train.max-length" + where + ": " + maxLength + " tokens cannot hold one image: the tower of "
                        + path + " = " + dir + " expands an image to " + tokens + " tokens, and " + withImages
                        + " has image records (accepted: more than " + tokens + ", with room for the prompt and the "
                        + "answer)");
            }
            return;
        }
    }

    private static void add(Map<Path, String> files, String reference, String where) {
        if (reference.isEmpty() || reference.startsWith(Datasets.STAGE_PREFIX)) {
            return;
        }
        Path p = Path.of(reference).toAbsolutePath().normalize();
        if (Files.isRegularFile(p)) {
            files.putIfAbsent(p, where);
        }
    }
}

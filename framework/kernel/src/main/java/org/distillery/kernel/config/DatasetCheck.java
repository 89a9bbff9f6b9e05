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
import org.distillery.api.train.Stage;
import org.distillery.api.train.StageSpec;
import org.distillery.train.ResolvedKdStage;

/**
 * Reads an experiment's datasets before its run directory exists, so that a malformed record, or a
 * record whose image is missing, unreadable or not a PNG/JPEG file, fails validation (exit code 2)
 * naming the file and line, with nothing written: the {@code data} block's three files and the
 * {@code file} and {@code extra-files} of every training stage's sampler. References to an earlier
 * stage's data ({@code stage:<name>}) do not exist yet and are read when the stage runs; missing
 * files are the validator's to report.
 */
public final class DatasetCheck {

    private DatasetCheck() {
    }

    /** The problems found, each {@code <config path>: <file>:<line>: <what is wrong>}. */
    public static List<String> problems(Config experiment, List<Stage> stages, DataService data) {
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
        for (Map.Entry<Path, String> e : files.entrySet()) {
            try {
                data.readJsonl(e.getKey());
            } catch (IOException | RuntimeException bad) {
                problems.add(e.getValue() + ": " + bad.getMessage());
            }
        }
        return problems;
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

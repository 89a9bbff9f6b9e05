package org.distillery.api.data;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The datasets of a run, as contributions name them in their parameters. A reference is a JSONL
 * path, {@code stage:<name>} (the {@code data.jsonl} an earlier stage of the run wrote, e.g. a
 * {@code data.generate} stage), or {@code ""} for the experiment's file of a split
 * ({@code data.train-file}, {@code data.validation-file}, {@code data.test-file}).
 */
public interface Datasets {

    /** The prefix of a reference to an earlier stage's dataset. */
    String STAGE_PREFIX = "stage:";

    /** The splits an experiment names in its {@code data} block. */
    enum Split {
        /** {@code data.train-file}. */
        TRAIN,
        /** {@code data.validation-file}. */
        VALIDATION,
        /** {@code data.test-file}. */
        TEST
    }

    /** The experiment's file of {@code split}, if it names one. */
    Optional<Path> file(Split split);

    /**
     * The file a reference names; fails with an {@link org.distillery.api.InvalidConfigException}
     * at {@code configPath} when it names no file (an empty reference and no experiment file, or a
     * stage that wrote no dataset).
     *
     * @param reference a path, {@code stage:<name>}, or {@code ""} for the split's file
     * @param split the split an empty reference means
     * @param configPath where the reference was written, for messages
     */
    Path resolve(String reference, Split split, String configPath);

    /** The records of {@link #resolve}; a missing or malformed file fails naming {@code configPath}. */
    List<Example> read(String reference, Split split, String configPath);
}

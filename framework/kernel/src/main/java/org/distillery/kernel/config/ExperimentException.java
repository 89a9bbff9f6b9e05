package org.distillery.kernel.config;

import java.util.List;

import org.distillery.api.InvalidConfigException;

/** One or more problems in an experiment; the CLI prints them and exits with code 2. */
public final class ExperimentException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final List<String> problems;

    /** Creates the exception from messages, each naming a config path. */
    public ExperimentException(List<String> problems) {
        super(String.join("\n", problems));
        this.problems = List.copyOf(problems);
    }

    /** Wraps a single problem. */
    public static ExperimentException of(InvalidConfigException e) {
        return new ExperimentException(List.of(e.getMessage()));
    }

    /** The problems, one per entry. */
    public List<String> problems() {
        return problems;
    }
}

package org.distillery.spark.input;

import java.io.Serializable;

import org.distillery.api.data.Example;

/** A job's own demand on every input record (e.g. generation needs a prompt). */
@FunctionalInterface
public interface RecordCheck extends Serializable {

    /** Accepts any record the parser accepts. */
    RecordCheck ANY = e -> null;

    /** What is wrong with {@code e} for this job, or {@code null} when it is fine. */
    String problem(Example e);
}

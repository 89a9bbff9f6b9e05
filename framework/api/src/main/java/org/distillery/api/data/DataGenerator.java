package org.distillery.api.data;

import java.util.List;

/** Produces a dataset: synthetic tasks, teacher-written examples, or a distilled subset. */
public interface DataGenerator {
    /** Generates the records; the run's event log records progress. */
    List<Example> generate(GeneratorContext context);
}

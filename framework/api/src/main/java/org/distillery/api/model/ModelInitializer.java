package org.distillery.api.model;

import org.distillery.api.run.RunContext;

/** Builds a student before training, e.g. by aggregating a MoE teacher's experts. */
public interface ModelInitializer {

    /** Creates the student in the run's manager. */
    LanguageModel initialize(RunContext run, LanguageModel teacher);
}
